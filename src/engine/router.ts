import type { RouteConfig } from '../config/index.ts';

export interface RouteTarget {
  lane: string;
  flow: string;
}

const matches = (pattern: string | undefined, value: string): boolean =>
  pattern === undefined || pattern === '*' || (pattern.endsWith('*') ? value.startsWith(pattern.slice(0, -1)) : pattern === value);

/** First matching route wins, as in the order of `routes:` in carelane.yaml. */
export function findRoute(routes: RouteConfig[], source: string, messageType: string): RouteTarget | undefined {
  const route = routes.find((r) => matches(r.source, source) && matches(r.type, messageType));
  return route ? { lane: route.lane, flow: route.flow } : undefined;
}
