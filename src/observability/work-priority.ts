import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * How urgent the work running now is: the lane priority (carelane.yaml engine.lanes.<lane>.priority, 0–100,
 * critical 90, standard 50, bulk 10) of the delivery the engine is running. Connectors that share a scarce
 * peer between lanes (the Odoo round-trip limiter) read it to serve urgent calls first, so a bulk master-data
 * sync never holds a reservation back (DESIGN.md "Lanes"). Work outside any delivery counts as standard.
 */
const current = new AsyncLocalStorage<number>();

export const STANDARD_PRIORITY = 50;

/** Urgent (above standard) work running in this process, and bulk work waiting for it to end. */
let urgentRunning = 0;
const idleWaiters = new Set<() => void>();

/** Runs `work` (and everything it awaits) at the given priority. */
export function withWorkPriority<T>(priority: number, work: () => Promise<T>): Promise<T> {
  if (priority <= STANDARD_PRIORITY) return current.run(priority, work);
  urgentRunning++;
  return current.run(priority, work).finally(() => {
    if (--urgentRunning > 0) return;
    for (const wake of [...idleWaiters]) wake();
  });
}

export function workPriority(): number {
  return current.getStore() ?? STANDARD_PRIORITY;
}

/**
 * Bulk work calls this between its batches: while urgent work is running in this process it waits, at most
 * `maxWaitMs`, so the CPU (parsing pages, writing mappings) and the shared peers go to the urgent work first and
 * bulk work runs in the gaps; the cap keeps a flood of urgent work from starving it for ever. Work that is not
 * below standard never waits.
 */
export async function yieldToUrgentWork(maxWaitMs: number): Promise<void> {
  if (urgentRunning === 0 || workPriority() >= STANDARD_PRIORITY) return;
  await new Promise<void>((resolve) => {
    const wake = () => {
      clearTimeout(timer);
      idleWaiters.delete(wake);
      resolve();
    };
    const timer = setTimeout(wake, maxWaitMs);
    idleWaiters.add(wake);
  });
}
