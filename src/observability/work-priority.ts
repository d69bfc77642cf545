import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * How urgent the work running now is: the lane priority (carelane.yaml engine.lanes.<lane>.priority, 0–100,
 * critical 90, standard 50, bulk 10) of the delivery the engine is running. Connectors that share a scarce
 * peer between lanes (the Odoo round-trip limiter) read it to serve urgent calls first, so a bulk master-data
 * sync never holds a reservation back (DESIGN.md "Lanes"). Work outside any delivery counts as standard.
 */
const current = new AsyncLocalStorage<number>();

export const STANDARD_PRIORITY = 50;

/** Runs `work` (and everything it awaits) at the given priority. */
export function withWorkPriority<T>(priority: number, work: () => Promise<T>): Promise<T> {
  return current.run(priority, work);
}

export function workPriority(): number {
  return current.getStore() ?? STANDARD_PRIORITY;
}
