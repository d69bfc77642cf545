import { pino } from 'pino';
import { parseConfigText } from '../src/config/index.ts';
import { Engine, HandlerRegistry } from '../src/engine/index.ts';
import { connect } from '../src/store/database.ts';
import { migrate } from '../src/store/migrate.ts';
import { enqueueDeliveries, type NewDelivery } from '../src/store/queue.ts';
import { createScratchDatabase, queryOnce, round, waitUntil, type BenchServer } from './support.ts';

export interface QueueRun {
  count: number;
  workers: number;
  enqueueSeconds: number;
  /** engine start (server clock) to the last completion committed */
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  setup: string;
  /** deliveries claimed before an earlier delivery of their key was done; must be 0 */
  orderingViolations?: number;
}

export interface CarelaneQueueOptions {
  count: number;
  workers: number;
  claimBatch: number;
  /** lane prefetch: deliveries claimed ahead of free slots */
  prefetch: number;
  enqueueBatch: number;
  keys: number;
  keep: boolean;
}

const LANE = 'bench';
const ACTION = 'bench.noop';

export async function runCarelaneQueue(server: BenchServer, options: CarelaneQueueOptions): Promise<QueueRun> {
  const scratch = await createScratchDatabase(server, `carelane_w${options.workers}`);
  // Claims run one at a time per lane; completions are batched; heartbeat and reaper need a client now and then.
  const database = connect(scratch.url, options.workers + 4, 'carelane-bench');
  try {
    await migrate(database.pool);
    const enqueueSeconds = await enqueue(database.pool, options);

    let handled = 0;
    const registry = new HandlerRegistry().register({
      action: ACTION,
      run: async () => {
        handled++;
      },
    });
    const config = parseConfigText(
      [
        'logging: { level: silent }',
        // Only the lane matters here; a route must still name a configured lane for the config to validate.
        `routes: [{ lane: ${LANE}, flow: noop }]`,
        'engine:',
        '  lanes:',
        `    ${LANE}: { concurrency: ${options.workers}, claimBatch: ${options.claimBatch}, prefetch: ${options.prefetch}, priority: 50 }`,
      ].join('\n'),
      {},
    );
    const engine = new Engine({ config, pool: database.pool, databaseUrl: scratch.url, registry, log: pino({ level: 'silent' }) });

    const [start] = await queryOnce<{ t: Date }>(scratch.url, 'select clock_timestamp() as t');
    await engine.start();
    // A guard against a hang, not a limit on a slow machine.
    const timeoutMs = Math.max(60_000, options.count * 20);
    await waitUntil(() => handled >= options.count, timeoutMs, `${options.count} Carelane deliveries to run`, 20);
    // The handler has returned for all; the last completion batch may still be committing.
    await waitUntil(async () => (await countDone(scratch.url)) >= options.count, 30_000, 'the last completions to commit', 20);
    await engine.stop();

    const [stats] = await queryOnce<{ seconds: number; p50: number; p99: number; violations: number }>(
      scratch.url,
      `with done as (
         select id, ordering_key, claimed_at, completed_at,
                lag(completed_at) over (partition by ordering_key order by id) as previous_completed_at
         from carelane.deliveries where lane = $2 and status = 'done'
       )
       select extract(epoch from max(completed_at) - $1::timestamptz)::float8 as seconds,
              (percentile_cont(0.5) within group (order by extract(epoch from completed_at - claimed_at)) * 1000)::float8 as p50,
              (percentile_cont(0.99) within group (order by extract(epoch from completed_at - claimed_at)) * 1000)::float8 as p99,
              count(*) filter (where claimed_at < previous_completed_at)::int as violations
       from done`,
      [start!.t, LANE],
    );
    return {
      count: options.count,
      workers: options.workers,
      enqueueSeconds: round(enqueueSeconds, 3),
      seconds: round(stats!.seconds, 3),
      perSecond: round(options.count / stats!.seconds, 1),
      p50Ms: round(stats!.p50, 3),
      p99Ms: round(stats!.p99, 3),
      orderingViolations: stats!.violations,
      setup: `lane concurrency ${options.workers}, claimBatch ${options.claimBatch}, prefetch ${options.prefetch}: <= ${options.workers + options.prefetch} claimed, per-key FIFO on ${options.keys} keys`,
    };
  } finally {
    await database.close();
    if (!options.keep) await scratch.drop();
  }
}

async function enqueue(pool: Parameters<typeof enqueueDeliveries>[0], options: CarelaneQueueOptions): Promise<number> {
  const started = performance.now();
  for (let from = 0; from < options.count; from += options.enqueueBatch) {
    const batch: NewDelivery[] = [];
    for (let i = from; i < Math.min(options.count, from + options.enqueueBatch); i++) {
      batch.push({
        lane: LANE,
        action: ACTION,
        endpoint: 'internal',
        idempotencyKey: `bench-${i}`,
        correlationId: `bench-${i}`,
        orderingKey: `key-${i % options.keys}`,
        payload: { i },
      });
    }
    await enqueueDeliveries(pool, batch);
  }
  return (performance.now() - started) / 1000;
}

async function countDone(url: string): Promise<number> {
  const [row] = await queryOnce<{ n: number }>(url, `select count(*)::int as n from carelane.deliveries where lane = $1 and status = 'done'`, [LANE]);
  return row?.n ?? 0;
}
