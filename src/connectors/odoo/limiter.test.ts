import { describe, expect, it } from 'vitest';
import { withWorkPriority } from '../../observability/work-priority.ts';
import { RoundTripLimiter } from './limiter.ts';

const CRITICAL = 90;
const BULK = 10;

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

describe('Odoo round-trip limiter', () => {
  it('admits waiting calls by the priority of their work, first come first served among equals', async () => {
    const limiter = new RoundTripLimiter({ maxConcurrency: 1 });
    const hold = gate();
    const order: string[] = [];
    const holding = limiter.run(() => hold.opened);
    const calls = [
      withWorkPriority(BULK, () => limiter.run(async () => void order.push('bulk-1'))),
      withWorkPriority(BULK, () => limiter.run(async () => void order.push('bulk-2'))),
      limiter.run(async () => void order.push('standard')),
      withWorkPriority(CRITICAL, () => limiter.run(async () => void order.push('critical'))),
    ];
    hold.open();
    await Promise.all([holding, ...calls]);
    expect(order).toEqual(['critical', 'standard', 'bulk-1', 'bulk-2']);
  });

  it('keeps a slot free of background work, so an urgent call starts while a bulk flood fills the rest', async () => {
    const limiter = new RoundTripLimiter({ maxConcurrency: 4 });
    const hold = gate();
    let bulkInFlight = 0;
    let maxBulkInFlight = 0;
    const bulk = Array.from({ length: 10 }, () =>
      withWorkPriority(BULK, () =>
        limiter.run(async () => {
          bulkInFlight++;
          maxBulkInFlight = Math.max(maxBulkInFlight, bulkInFlight);
          await hold.opened;
          bulkInFlight--;
        }),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(bulkInFlight).toBe(3);
    let urgentRan = false;
    await withWorkPriority(CRITICAL, () => limiter.run(async () => void (urgentRan = true)));
    expect(urgentRan).toBe(true);
    hold.open();
    await Promise.all(bulk);
    expect(maxBulkInFlight).toBe(3);
  });

  it('runs background work in the gaps: not beside an urgent call in flight', async () => {
    const limiter = new RoundTripLimiter({ maxConcurrency: 4 });
    const hold = gate();
    const urgent = withWorkPriority(CRITICAL, () => limiter.run(() => hold.opened));
    let bulkStarted = false;
    const bulk = withWorkPriority(BULK, () => limiter.run(async () => void (bulkStarted = true)));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(bulkStarted).toBe(false);
    hold.open();
    await Promise.all([urgent, bulk]);
    expect(bulkStarted).toBe(true);
  });

  it('lets background work use the only slot of a single-slot connection', async () => {
    const limiter = new RoundTripLimiter({ maxConcurrency: 1 });
    await expect(withWorkPriority(BULK, () => limiter.run(async () => 'done'))).resolves.toBe('done');
  });
});
