import { runCarelaneQueue, type QueueRun } from './queue-carelane.ts';
import { PG_BOSS_VERSION, runPgBossQueue } from './queue-pgboss.ts';
import { formatTable, round, type BenchServer } from './support.ts';

export interface QueueBenchOptions {
  count: number;
  workers: number[];
  /** Carelane claimBatch; default: equal to the lane's concurrency */
  claimBatch?: number;
  /** pg-boss batchSize; default: the Carelane claimBatch, so both fetch as many rows per round trip */
  bossBatch?: number;
  bossWake: boolean;
  keep: boolean;
  log: (line: string) => void;
}

export interface QueueBenchResult {
  name: 'queue';
  count: number;
  pgBossVersion: string;
  /** 'pg-boss': a standard queue, no ordering; 'pg-boss key_strict_fifo': per-key FIFO on the same keys as Carelane */
  runs: Array<QueueRun & { system: 'carelane' | 'carelane prefetch' | 'pg-boss' | 'pg-boss key_strict_fifo' }>;
  /** Carelane with prefetch, holding at most as many deliveries as pg-boss holds jobs (workers x batchSize) */
  ratios: Array<{ workers: number; carelaneOverPgBoss: number; carelaneOverPgBossFifo: number }>;
}

const KEYS = 1000;

/**
 * N no-op deliveries through Carelane's engine (per-key FIFO on) and through pg-boss twice, a standard queue and a
 * key_strict_fifo queue on the same keys: same server, same worker counts.
 */
export async function runQueueBench(server: BenchServer, options: QueueBenchOptions): Promise<QueueBenchResult> {
  const runs: QueueBenchResult['runs'] = [];
  const ratios: QueueBenchResult['ratios'] = [];
  for (const workers of options.workers) {
    const claimBatch = options.claimBatch ?? workers;
    options.log(`queue: Carelane, ${workers} workers, ${options.count} deliveries ...`);
    const carelane = await runCarelaneQueue(server, { count: options.count, workers, claimBatch, prefetch: 0, enqueueBatch: 1000, keys: KEYS, keep: options.keep });
    if (carelane.orderingViolations) throw new Error(`Carelane broke per-key FIFO ${carelane.orderingViolations} times: the figures are void`);
    runs.push({ system: 'carelane', ...carelane });
    const batchSize = options.bossBatch ?? claimBatch;
    // pg-boss holds up to workers x batchSize jobs at once; Carelane's lane prefetch holds as many.
    const inFlight = workers * batchSize;
    options.log(`queue: Carelane with prefetch, ${workers} workers, up to ${inFlight} claimed ...`);
    const prefetched = await runCarelaneQueue(server, { count: options.count, workers, claimBatch: inFlight, prefetch: inFlight - workers, enqueueBatch: 1000, keys: KEYS, keep: options.keep });
    if (prefetched.orderingViolations) throw new Error(`Carelane broke per-key FIFO ${prefetched.orderingViolations} times: the figures are void`);
    runs.push({ system: 'carelane prefetch', ...prefetched });
    const best = Math.max(carelane.perSecond, prefetched.perSecond);
    const bossOptions = { count: options.count, workers, batchSize, insertBatch: 1000, wakeOnFullBatch: options.bossWake, keep: options.keep };
    options.log(`queue: pg-boss, ${workers} workers, ${options.count} jobs, standard queue ...`);
    const boss = await runPgBossQueue(server, { ...bossOptions, keys: 0 });
    runs.push({ system: 'pg-boss', ...boss });
    options.log(`queue: pg-boss, ${workers} workers, ${options.count} jobs, key_strict_fifo queue ...`);
    const fifo = await runPgBossQueue(server, { ...bossOptions, keys: KEYS });
    if (fifo.orderingViolations) options.log(`queue: pg-boss key_strict_fifo broke per-key FIFO ${fifo.orderingViolations} times (${workers} workers)`);
    runs.push({ system: 'pg-boss key_strict_fifo', ...fifo });
    ratios.push({
      workers,
      carelaneOverPgBoss: round(best / boss.perSecond, 3),
      carelaneOverPgBossFifo: round(best / fifo.perSecond, 3),
    });
  }
  return { name: 'queue', count: options.count, pgBossVersion: PG_BOSS_VERSION, runs, ratios };
}

export function formatQueueResult(result: QueueBenchResult): string {
  const table = formatTable(
    ['system', 'workers', 'deliveries/s', 'p50 ms', 'p99 ms', 'enqueue s', 'setup'],
    result.runs.map((r) => [r.system, r.workers, r.perSecond, r.p50Ms, r.p99Ms, r.enqueueSeconds, r.setup]),
  );
  const ratios = formatTable(
    ['workers', 'Carelane (best row)/pg-boss throughput', 'Carelane/pg-boss key_strict_fifo (both ordered)'],
    result.ratios.map((r) => [r.workers, r.carelaneOverPgBoss, r.carelaneOverPgBossFifo]),
  );
  const fifoViolations = result.runs
    .filter((r) => r.system === 'pg-boss key_strict_fifo')
    .map((r) => `${r.orderingViolations ?? 'n/a'} at ${r.workers} workers`)
    .join(', ');
  return [
    `Queue: ${result.count.toLocaleString('en-US')} no-op deliveries per run, claim-to-done latency from each system's own table`,
    table,
    '',
    ratios,
    '',
    `Notes: Carelane runs with per-key FIFO on (1,000 ordering keys), checked after each run, twice: 'carelane' holds only as many`,
    `deliveries as it has slots; 'carelane prefetch' claims ahead to hold as many as pg-boss (workers x batchSize). pg-boss ${result.pgBossVersion} runs twice:`,
    'a standard queue (no ordering), and a key_strict_fifo queue with singletonKey key-(i % 1000), the same keys. pg-boss documents',
    'key_strict_fifo as FIFO per singletonKey, an active/retry/failed job holding back the later jobs of its key only; its FIFO is',
    '(created_on, id), and one insert() shares one created_on, so each insert() here holds at most one job per key.',
    `Carelane's check, run on the key_strict_fifo runs (no job started before its key's previous job completed), violations: ${fifoViolations}.`,
    'pg-boss workers = one work() call with localConcurrency = the worker count; each loop hands its handler up to batchSize jobs',
    'and, unless --boss-poll, fetches again at once after a full batch (burstWhenBatchFull).',
    'Throughput = N / (engine or work() start to the last completion committed), on the server clock.',
    'Carelane latency = completed_at - claimed_at; pg-boss latency = completed_on - started_on (pgboss.job).',
  ].join('\n');
}
