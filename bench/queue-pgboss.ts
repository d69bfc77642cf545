import { createRequire } from 'node:module';
import PgBoss from 'pg-boss';
import { createScratchDatabase, queryOnce, round, waitUntil, type BenchServer } from './support.ts';
import type { QueueRun } from './queue-carelane.ts';

export interface PgBossQueueOptions {
  count: number;
  workers: number;
  /** jobs per fetch, handed to the handler as one array (pg-boss v10's `batchSize`) */
  batchSize: number;
  insertBatch: number;
  /** wake a worker again at once after a full batch instead of waiting for its polling interval */
  wakeOnFullBatch: boolean;
  keep: boolean;
}

/** the installed version, printed with the results: the policies and the worker loop differ between majors */
export const PG_BOSS_VERSION = (createRequire(import.meta.url)('pg-boss/package.json') as { version: string }).version;

const QUEUE = 'bench';
/** pg-boss v10 refuses anything shorter (attorney.js MIN_POLLING_INTERVAL_MS) */
const POLLING_INTERVAL_SECONDS = 0.5;

/**
 * The same no-op work on pg-boss (v10), in its own database on the same server. Concurrency in v10 is one
 * `work()` call per worker: each is a loop that fetches up to `batchSize` jobs, awaits the handler and
 * completes the batch. No per-key ordering: 10.x has none (its `singleton`/`stately` policies cap active jobs per
 * singletonKey, which is not FIFO); later majors document a `key_strict_fifo` policy that would be the equivalent.
 */
export async function runPgBossQueue(server: BenchServer, options: PgBossQueueOptions): Promise<QueueRun> {
  const scratch = await createScratchDatabase(server, `pgboss_w${options.workers}`);
  const boss = new PgBoss({ connectionString: scratch.url, max: options.workers + 4, application_name: 'pgboss-bench', schedule: false });
  // Errors while measuring are shown; once stopping, a connection cut by the database drop is expected noise.
  let stopping = false;
  boss.on('error', (error) => {
    if (!stopping) console.error(`pg-boss: ${error.message}`);
  });
  try {
    await boss.start();
    await boss.createQueue(QUEUE);
    const enqueueSeconds = await insert(boss, options);

    let handled = 0;
    const [start] = await queryOnce<{ t: Date }>(scratch.url, 'select clock_timestamp() as t');
    for (let w = 0; w < options.workers; w++) {
      // work() resolves with the id before its first fetch can return, so the handler always sees it.
      const worker = { id: '' };
      worker.id = await boss.work(QUEUE, { batchSize: options.batchSize, pollingIntervalSeconds: POLLING_INTERVAL_SECONDS }, async (jobs) => {
        handled += jobs.length;
        // v10's worker loop sleeps out the rest of its polling interval even after a full batch, which caps a
        // worker at batchSize / 0.5 s; notifyWorker is its public way to skip that sleep.
        if (options.wakeOnFullBatch && jobs.length === options.batchSize && worker.id) boss.notifyWorker(worker.id);
      });
    }
    // Without the wake-up each worker takes at most one batch per polling interval: allow for that pace.
    const pacedMs = options.wakeOnFullBatch ? 0 : ((options.count / (options.workers * options.batchSize)) * POLLING_INTERVAL_SECONDS * 1000 * 2);
    const timeoutMs = Math.max(60_000, options.count * 20, pacedMs);
    await waitUntil(() => handled >= options.count, timeoutMs, `${options.count} pg-boss jobs to run`, 20);
    // pg-boss completes a batch after the handler returns, without awaiting it: wait for the last commits.
    await waitUntil(async () => (await countCompleted(scratch.url)) >= options.count, 30_000, 'the last pg-boss completions', 20);

    const [stats] = await queryOnce<{ seconds: number; p50: number; p99: number }>(
      scratch.url,
      `select extract(epoch from max(completed_on) - $1::timestamptz)::float8 as seconds,
              (percentile_cont(0.5) within group (order by extract(epoch from completed_on - started_on)) * 1000)::float8 as p50,
              (percentile_cont(0.99) within group (order by extract(epoch from completed_on - started_on)) * 1000)::float8 as p99
       from pgboss.job where name = $2 and state = 'completed'`,
      [start!.t, QUEUE],
    );
    return {
      count: options.count,
      workers: options.workers,
      enqueueSeconds: round(enqueueSeconds, 3),
      seconds: round(stats!.seconds, 3),
      perSecond: round(options.count / stats!.seconds, 1),
      p50Ms: round(stats!.p50, 3),
      p99Ms: round(stats!.p99, 3),
      setup: `${options.workers} x work(batchSize ${options.batchSize}: <= ${options.workers * options.batchSize} in flight, polling ${POLLING_INTERVAL_SECONDS}s${options.wakeOnFullBatch ? ', notifyWorker after a full batch' : ''}), no ordering`,
    };
  } finally {
    stopping = true;
    await boss.stop({ graceful: true, wait: true, close: true, timeout: 10_000 }).catch(() => {});
    if (!options.keep) await scratch.drop();
  }
}

async function insert(boss: PgBoss, options: PgBossQueueOptions): Promise<number> {
  const started = performance.now();
  for (let from = 0; from < options.count; from += options.insertBatch) {
    const jobs: PgBoss.JobInsert[] = [];
    for (let i = from; i < Math.min(options.count, from + options.insertBatch); i++) jobs.push({ name: QUEUE, data: { i } });
    await boss.insert(jobs);
  }
  return (performance.now() - started) / 1000;
}

async function countCompleted(url: string): Promise<number> {
  const [row] = await queryOnce<{ n: number }>(url, `select count(*)::int as n from pgboss.job where name = $1 and state = 'completed'`, [QUEUE]);
  return row?.n ?? 0;
}
