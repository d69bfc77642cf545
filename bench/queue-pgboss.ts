import { createRequire } from 'node:module';
import { PgBoss, type JobInsert } from 'pg-boss';
import { createScratchDatabase, queryOnce, round, waitUntil, type BenchServer } from './support.ts';
import type { QueueRun } from './queue-carelane.ts';

export interface PgBossQueueOptions {
  count: number;
  workers: number;
  /** jobs per fetch per worker, handed to the handler as one array (work()'s `batchSize`) */
  batchSize: number;
  insertBatch: number;
  /** fetch again at once after a full batch instead of waiting out the polling interval */
  wakeOnFullBatch: boolean;
  /**
   * 0: a `standard` queue, no ordering. N: a `key_strict_fifo` queue, job i carrying singletonKey
   * `key-${i % N}` (the keys the Carelane run uses), and a per-key FIFO check after the run.
   */
  keys: number;
  keep: boolean;
}

/** the installed version, printed with the results: the policies and the worker loop differ between majors */
export const PG_BOSS_VERSION = (createRequire(import.meta.url)('pg-boss/package.json') as { version: string }).version;

const QUEUE = 'bench';
/** the smallest pg-boss accepts (attorney.js POLICY.MIN_POLLING_INTERVAL_MS = 500) */
const POLLING_INTERVAL_SECONDS = 0.5;

/**
 * The same no-op work on pg-boss 12, in its own database on the same server. Concurrency is one `work()`
 * call with `localConcurrency` = the worker count: pg-boss spawns that many independent loops, each of
 * which fetches up to `batchSize` jobs, awaits the handler, then awaits the batch's completion.
 *
 * With `keys`, the queue uses the `key_strict_fifo` policy (types.d.ts QueuePolicy): FIFO per singletonKey,
 * a job that is active, in retry or failed holds back the later jobs of its key, other keys stay fetchable.
 */
export async function runPgBossQueue(server: BenchServer, options: PgBossQueueOptions): Promise<QueueRun> {
  const ordered = options.keys > 0;
  // key_strict_fifo picks each key's head by (created_on, id). One insert() stamps all its rows with the same
  // created_on and ids are random uuids, so two jobs of one key in one insert() could run in either order.
  if (ordered && options.insertBatch > options.keys) {
    throw new Error(`pg-boss key_strict_fifo bench: insertBatch (${options.insertBatch}) must not exceed the key count (${options.keys})`);
  }
  const scratch = await createScratchDatabase(server, `pgboss_${ordered ? 'fifo' : 'std'}_w${options.workers}`);
  const boss = new PgBoss({ connectionString: scratch.url, max: options.workers + 4, application_name: 'pgboss-bench', schedule: false });
  // Errors while measuring are shown; once stopping, a connection cut by the database drop is expected noise.
  let stopping = false;
  boss.on('error', (error) => {
    if (!stopping) console.error(`pg-boss: ${error.message}`);
  });
  try {
    await boss.start();
    await boss.createQueue(QUEUE, { policy: ordered ? 'key_strict_fifo' : 'standard' });
    const enqueueSeconds = await insert(boss, options);

    // burstWhenBatchFull is pg-boss's own "fetch again at once after a full batch"; it ignores batchSize 1
    // (every fetch would be full), where the workers are woken through notifyWorker instead.
    const burst = options.wakeOnFullBatch && options.batchSize > 1;
    const nudge = options.wakeOnFullBatch && options.batchSize === 1;
    let workId = '';
    let handled = 0;
    const [start] = await queryOnce<{ t: Date }>(scratch.url, 'select clock_timestamp() as t');
    workId = await boss.work<{ i: number }>(
      QUEUE,
      { localConcurrency: options.workers, batchSize: options.batchSize, pollingIntervalSeconds: POLLING_INTERVAL_SECONDS, burstWhenBatchFull: burst },
      async (jobs) => {
        handled += jobs.length;
        // work() returns only the first loop's id; the others share it as workId (manager.js work()).
        if (nudge && workId) for (const w of boss.getWipData()) if (w.workId === workId) boss.notifyWorker(w.id);
      },
    );
    // Without the burst each worker takes at most one batch per polling interval: allow for that pace.
    const pacedMs = options.wakeOnFullBatch ? 0 : ((options.count / (options.workers * options.batchSize)) * POLLING_INTERVAL_SECONDS * 1000 * 2);
    const timeoutMs = Math.max(60_000, options.count * 20, pacedMs);
    await waitUntil(() => handled >= options.count, timeoutMs, `${options.count} pg-boss jobs to run`, 20);
    // The handler counts a batch before pg-boss commits its completion: wait for the last commits.
    await waitUntil(async () => (await countCompleted(scratch.url)) >= options.count, 30_000, 'the last pg-boss completions', 20);

    // Per-key FIFO, checked the way the Carelane run is: no job of a key started before the job enqueued
    // before it (data.i order) was completed. started_on/completed_on are both pgboss.job_now(), i.e. now().
    const [stats] = await queryOnce<{ seconds: number; p50: number; p99: number; violations: number }>(
      scratch.url,
      `with done as (
         select started_on, completed_on,
                lag(completed_on) over (partition by singleton_key order by (data->>'i')::int) as previous_completed_on
         from pgboss.job where name = $2 and state = 'completed'
       )
       select extract(epoch from max(completed_on) - $1::timestamptz)::float8 as seconds,
              (percentile_cont(0.5) within group (order by extract(epoch from completed_on - started_on)) * 1000)::float8 as p50,
              (percentile_cont(0.99) within group (order by extract(epoch from completed_on - started_on)) * 1000)::float8 as p99,
              count(*) filter (where started_on < previous_completed_on)::int as violations
       from done`,
      [start!.t, QUEUE],
    );
    const inFlight = `<= ${options.workers * options.batchSize} in flight`;
    const pace = `polling ${POLLING_INTERVAL_SECONDS}s${burst ? ', burstWhenBatchFull' : nudge ? ', notifyWorker after each job' : ''}`;
    return {
      count: options.count,
      workers: options.workers,
      enqueueSeconds: round(enqueueSeconds, 3),
      seconds: round(stats!.seconds, 3),
      perSecond: round(options.count / stats!.seconds, 1),
      p50Ms: round(stats!.p50, 3),
      p99Ms: round(stats!.p99, 3),
      ...(ordered ? { orderingViolations: stats!.violations } : {}),
      setup:
        `work(localConcurrency ${options.workers}, batchSize ${options.batchSize}: ${inFlight}, ${pace}), ` +
        (ordered ? `key_strict_fifo on ${options.keys} singletonKeys` : 'standard queue, no ordering'),
    };
  } finally {
    stopping = true;
    await boss.stop({ graceful: true, close: true, timeout: 10_000 }).catch(() => {});
    if (!options.keep) await scratch.drop();
  }
}

async function insert(boss: PgBoss, options: PgBossQueueOptions): Promise<number> {
  const started = performance.now();
  for (let from = 0; from < options.count; from += options.insertBatch) {
    const jobs: JobInsert<{ i: number }>[] = [];
    for (let i = from; i < Math.min(options.count, from + options.insertBatch); i++) {
      jobs.push(options.keys > 0 ? { data: { i }, singletonKey: `key-${i % options.keys}` } : { data: { i } });
    }
    await boss.insert(QUEUE, jobs);
  }
  return (performance.now() - started) / 1000;
}

async function countCompleted(url: string): Promise<number> {
  const [row] = await queryOnce<{ n: number }>(url, `select count(*)::int as n from pgboss.job where name = $1 and state = 'completed'`, [QUEUE]);
  return row?.n ?? 0;
}
