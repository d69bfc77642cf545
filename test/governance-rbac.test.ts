import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { parseConfigText } from '../src/config/index.ts';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { registeredRoutes, type ApiRoute } from '../src/api/server.ts';
import { can, createToken, ROLES, type Role } from '../src/governance/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

// Every route the app registers under /api, called by every role: a route added without a declared
// permission, or a permission check that drifts from the matrix in rbac.ts, fails here.

const ADMIN = 'admin-token-for-rbac-tests';
// Routes outside /api answer without a token. Each is here because it holds no data: probes, the metrics scrape
// (labels carry no patient or order identifiers), the OpenAPI page, the console's static files and its OIDC
// sign-in exchange. A route added outside /api fails the test below until it is listed here on purpose.
const PUBLIC_ROUTES = ['/healthz', '/readyz', '/metrics', '/', '/console', '/assets/:file', '/console/oidc', '/console/oidc/token'];
const isPublic = (url: string) => PUBLIC_ROUTES.includes(url) || url === '/docs' || url.startsWith('/docs/');
// placeholder values for path parameters: they name nothing, so a permitted call ends in 400/404/409
const PARAMETER_VALUES: Record<string, string> = { id: '999999', source: 'rbac-probe', name: 'no-such-token', batchId: 'no-such-batch' };

function concretePath(url: string): string {
  return url.replace(/:([A-Za-z]+)/g, (_match, name: string) => {
    const value = PARAMETER_VALUES[name];
    if (!value) throw new Error(`add a placeholder for path parameter :${name} (route ${url})`);
    return value;
  });
}

describe('authorization of every API route', () => {
  let db: TestDatabase;
  let app: RunningCarelane;
  let apiRoutes: ApiRoute[];
  let otherRoutes: ApiRoute[];
  const tokens = new Map<Role, string>();

  const callRoute = (route: ApiRoute, token: string | undefined) => {
    const hasBody = route.method === 'POST' || route.method === 'PUT' || route.method === 'PATCH';
    return fetch(`${app.httpUrl}${concretePath(route.url)}`, {
      method: route.method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(hasBody ? { 'content-type': 'application/json' } : {}) },
      ...(hasBody ? { body: '{}' } : {}),
    });
  };

  beforeAll(async () => {
    db = await createTestDatabase(embeddedTarget(), 3);
    const config = parseConfigText(`server: { port: 0 }\nmllp: { enabled: false }\nlogging: { level: silent }\n`, { DATABASE_URL: db.url, CARELANE_ADMIN_TOKEN: ADMIN });
    app = await startCarelane({ config, origin: 'test' }, { log: pino({ level: 'silent' }) });
    for (const role of ROLES) tokens.set(role, await createToken(db.pool, `rbac-${role}`, role));
    apiRoutes = registeredRoutes(app.api).filter((route) => route.url.startsWith('/api/'));
    otherRoutes = registeredRoutes(app.api).filter((route) => !route.url.startsWith('/api/'));
  });
  afterAll(async () => {
    await app.stop();
    await db.drop();
  });

  it('finds the API routes, and every one declares a permission', () => {
    expect(apiRoutes.map((route) => `${route.method} ${route.url}`)).toEqual(
      expect.arrayContaining(['GET /api/v1/messages', 'POST /api/v1/replay', 'POST /api/v1/inbound/:source', 'POST /api/v1/tokens', 'POST /api/v1/reidentify']),
    );
    const undeclared = apiRoutes.filter((route) => route.permission === undefined).map((route) => `${route.method} ${route.url}`);
    expect(undeclared, 'routes without config.permission').toEqual([]);
  });

  it('has no route outside /api (where no token is asked) but the listed public ones', () => {
    expect(otherRoutes.map((route) => route.url)).toContain('/healthz');
    expect(otherRoutes.filter((route) => !isPublic(route.url)).map((route) => `${route.method} ${route.url}`)).toEqual([]);
  });

  it('answers 401 on every route without a token', async () => {
    for (const route of apiRoutes) expect((await callRoute(route, undefined)).status, `${route.method} ${route.url}`).toBe(401);
  });

  it('answers 403 exactly when the role lacks the route’s permission', async () => {
    const mismatches: string[] = [];
    for (const route of apiRoutes) {
      for (const role of ROLES) {
        const status = (await callRoute(route, tokens.get(role))).status;
        const allowed = route.permission !== undefined && can(role, route.permission);
        const ok = allowed ? status !== 401 && status !== 403 && status < 500 : status === 403;
        if (!ok) mismatches.push(`${role} ${route.method} ${route.url} (${route.permission ?? 'no permission'}): ${status}, expected ${allowed ? 'not 401/403/5xx' : '403'}`);
      }
    }
    expect(mismatches).toEqual([]);
  });
});
