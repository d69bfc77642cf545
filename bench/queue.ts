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
  runs: Array<QueueRun & { system: 'carelane' | 'pg-boss' }>;
  ratios: Array<{ workers: number; carelaneOverPgBoss: number }>;
}

/** N no-op deliveries through Carelane's engine and through pg-boss, same server, same worker counts. */
export async function runQueueBench(server: BenchServer, options: QueueBenchOptions): Promise<QueueBenchResult> {
  const runs: QueueBenchResult['runs'] = [];
  const ratios: QueueBenchResult['ratios'] = [];
  for (const workers of options.workers) {
    const claimBatch = options.claimBatch ?? workers;
    options.log(`queue: Carelane, ${workers} workers, ${options.count} deliveries ...`);
    const carelane = await runCarelaneQueue(server, { count: options.count, workers, claimBatch, enqueueBatch: 1000, keys: 1000, keep: options.keep });
    if (carelane.orderingViolations) throw new Error(`Carelane broke per-key FIFO ${carelane.orderingViolations} times: the figures are void`);
    runs.push({ system: 'carelane', ...carelane });
    options.log(`queue: pg-boss, ${workers} workers, ${options.count} jobs ...`);
    const batchSize = options.bossBatch ?? claimBatch;
    const boss = await runPgBossQueue(server, { count: options.count, workers, batchSize, insertBatch: 1000, wakeOnFullBatch: options.bossWake, keep: options.keep });
    runs.push({ system: 'pg-boss', ...boss });
    ratios.push({ workers, carelaneOverPgBoss: round(carelane.perSecond / boss.perSecond, 3) });
  }
  return { name: 'queue', count: options.count, pgBossVersion: PG_BOSS_VERSION, runs, ratios };
}

export function formatQueueResult(result: QueueBenchResult): string {
  const table = formatTable(
    ['system', 'workers', 'deliveries/s', 'p50 ms', 'p99 ms', 'enqueue s', 'setup'],
    result.runs.map((r) => [r.system, r.workers, r.perSecond, r.p50Ms, r.p99Ms, r.enqueueSeconds, r.setup]),
  );
  const ratios = formatTable(
    ['workers', 'Carelane/pg-boss throughput'],
    result.ratios.map((r) => [r.workers, r.carelaneOverPgBoss]),
  );
  return [
    `Queue: ${result.count.toLocaleString('en-US')} no-op deliveries per run, claim-to-done latency from each system's own table`,
    table,
    '',
    ratios,
    '',
    `Notes: Carelane runs with per-key FIFO on (1,000 ordering keys), checked after each run; pg-boss ${result.pgBossVersion} runs WITHOUT`,
    'per-key ordering: it has none (singleton/stately policies cap active jobs per key, not FIFO; later majors add key_strict_fifo).',
    'pg-boss workers = work() calls (v10 has no per-worker concurrency option); each hands its handler up to batchSize jobs.',
    'Throughput = N / (engine or first work() start to the last completion committed), on the server clock.',
    'Carelane latency = completed_at - claimed_at; pg-boss latency = completed_on - started_on (pgboss.job).',
  ].join('\n');
}
