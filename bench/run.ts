import { parseArgs } from 'node:util';
import type { QueueBenchResult } from './queue.ts';
import type { MllpBenchResult } from './mllp.ts';
import type { OdooSyncBenchResult } from './odoo-sync.ts';
import type { X12BenchResult } from './x12.ts';
import type { EhrIngestBenchResult } from './ehr-ingest.ts';
import type { DemandBenchResult } from './demand.ts';
import type { ReconcileBenchResult } from './reconcile.ts';
import type { ScaleBenchResult } from './scale.ts';
import type { FaultBenchResult, FaultName } from './faults.ts';
import { describeMachine, startServer } from './support.ts';

// npm run bench -- queue|mllp|all [--count N] [--workers 2,8] [--connections 1,8] [--claim-batch N]
//                                 [--boss-batch N] [--boss-poll] [--keep]
// Prints a plain-text table per benchmark, then one JSON line with every figure, the machine and the date.

const USAGE = `usage: npm run bench -- <queue|mllp|odoo-sync|x12|fuzz|ehr-ingest|demand|scale|faults|reconcile|all> [options]
  --count N          deliveries per queue run (default 50000) / messages per MLLP run (default 20000)
  --workers 2,8      queue: worker counts, run side by side for Carelane and pg-boss
  --claim-batch N    queue: Carelane lane claimBatch (default: the worker count; more changes nothing, the
                     engine never claims more than its free slots)
  --boss-batch N     queue: pg-boss work() batchSize (default: the Carelane claimBatch)
  --boss-poll        queue: let pg-boss workers sleep out their polling interval after a full batch (stock v10 loop)
  --connections 1,8  mllp: concurrent MLLP connections, and raw-insert clients, per run
  --items N          odoo-sync: items to sync (default 10000)
  --quants N         odoo-sync: quants to sync (default 50000); reconcile: quants to reconcile (default 1000000)
  --documents N      x12: 856 documents of 1,000 lines to parse and map (default 200)
  --cases N          fuzz: cases per parser property (default 100000)
  --senders 1,8      ehr-ingest: concurrent FHIR/MLLP senders per run (--count default 5000)
  --rate N           demand: offered demands/s of the paced runs (default: half the baseline burst rate, at most 4)
  --latency N        demand: simulated Odoo latency per request in ms (default 20); --count default 150 per run
  --products N       demand: catalogue products in Odoo for the master-data sync (default 20000)
  --odoo-rate N      demand: odoo connection ratePerSecond for the run (default 200)
  --odoo-concurrency N  demand: odoo connection maxConcurrency for the run (default 8)
  --processes 1,2,4  scale: engine process counts, one pass each (--count default 150 demands per pass, --latency default 0,
                     --odoo-rate / --odoo-concurrency: the Odoo connection's limits per process, default 20 / 4)
  --outage N         faults: seconds each outage lasts (default 60); --count default 30 demands per scenario
  --only a,b         faults: run only these scenarios (none, odoo-down, odoo-slow, odoo-5xx, odoo-timeout-after-commit,
                     supplier-down, postgres-restart, broker-restart, engine-kill-9)
  --keep             keep the scratch databases for inspection`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    count: { type: 'string' },
    workers: { type: 'string', default: '2,8' },
    'claim-batch': { type: 'string' },
    'boss-batch': { type: 'string' },
    'boss-poll': { type: 'boolean', default: false },
    connections: { type: 'string', default: '1,8' },
    items: { type: 'string' },
    quants: { type: 'string' },
    documents: { type: 'string' },
    cases: { type: 'string' },
    senders: { type: 'string', default: '1,8' },
    rate: { type: 'string' },
    latency: { type: 'string' },
    products: { type: 'string' },
    'odoo-rate': { type: 'string' },
    'odoo-concurrency': { type: 'string' },
    processes: { type: 'string', default: '1,2,4' },
    outage: { type: 'string' },
    only: { type: 'string' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

const which = positionals[0] ?? '';
if (values.help || !['queue', 'mllp', 'odoo-sync', 'x12', 'fuzz', 'ehr-ingest', 'demand', 'scale', 'faults', 'reconcile', 'all'].includes(which)) {
  console.error(USAGE);
  process.exit(values.help ? 0 : 2);
}

const positive = (text: string | undefined, name: string): number | undefined => {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, got "${text}"`);
  return value;
};
const list = (text: string, name: string): number[] => text.split(',').map((part) => positive(part.trim(), name)!);

const log = (line: string) => console.error(`[bench] ${line}`);
const server = await startServer(process.env);
try {
  const machine = describeMachine(server);
  console.log(`Carelane bench — ${machine.date}`);
  console.log(`machine: ${machine.cpus} x ${machine.cpuModel}, ${machine.memoryGiB} GiB, ${machine.os}`);
  console.log(`node ${machine.node}, PostgreSQL ${machine.postgres} (${machine.database})\n`);

  const results: { machine: typeof machine; queue?: QueueBenchResult; mllp?: MllpBenchResult; odooSync?: OdooSyncBenchResult; x12?: X12BenchResult; ehrIngest?: EhrIngestBenchResult; demand?: DemandBenchResult; scale?: ScaleBenchResult; faults?: FaultBenchResult; reconcile?: ReconcileBenchResult } = { machine };
  // Each benchmark's modules are loaded only when it runs, so one bench still works while the other's
  // subject (e.g. the MLLP connector) is being changed.
  if (which === 'queue' || which === 'all') {
    const { runQueueBench, formatQueueResult } = await import('./queue.ts');
    results.queue = await runQueueBench(server, {
      count: positive(values.count, 'count') ?? 50_000,
      workers: list(values.workers, 'workers'),
      claimBatch: positive(values['claim-batch'], 'claim-batch'),
      bossBatch: positive(values['boss-batch'], 'boss-batch'),
      bossWake: !values['boss-poll'],
      keep: values.keep,
      log,
    });
    console.log(formatQueueResult(results.queue) + '\n');
  }
  if (which === 'mllp' || which === 'all') {
    const { runMllpBench, formatMllpResult } = await import('./mllp.ts');
    results.mllp = await runMllpBench(server, {
      count: positive(values.count, 'count') ?? 20_000,
      connections: list(values.connections, 'connections'),
      keep: values.keep,
      log,
    });
    console.log(formatMllpResult(results.mllp) + '\n');
  }
  if (which === 'odoo-sync' || which === 'all') {
    const { runOdooSyncBench, formatOdooSyncResult } = await import('./odoo-sync.ts');
    const items = positive(values.items, 'items');
    const quants = positive(values.quants, 'quants');
    results.odooSync = await runOdooSyncBench(server, { ...(items ? { items } : {}), ...(quants ? { quants } : {}), keep: values.keep, log });
    console.log(formatOdooSyncResult(results.odooSync) + '\n');
  }
  if (which === 'x12' || which === 'all') {
    const { runX12Bench, formatX12Result } = await import('./x12.ts');
    results.x12 = await runX12Bench(server, { documents: positive(values.documents, 'documents') ?? 200, lines: 1000, log });
    console.log(formatX12Result(results.x12) + '\n');
  }
  if (which === 'ehr-ingest' || which === 'all') {
    const { runEhrIngestBench, formatEhrIngestResult } = await import('./ehr-ingest.ts');
    results.ehrIngest = await runEhrIngestBench(server, { count: positive(values.count, 'count') ?? 5000, senders: list(values.senders, 'senders'), keep: values.keep, log });
    console.log(formatEhrIngestResult(results.ehrIngest) + '\n');
  }
  if (which === 'demand' || which === 'all') {
    const { runDemandBench, formatDemandResult } = await import('./demand.ts');
    results.demand = await runDemandBench(server, {
      count: positive(values.count, 'count') ?? 150,
      latencyMs: positive(values.latency, 'latency') ?? 20,
      products: positive(values.products, 'products') ?? 20_000,
      ...(values.rate ? { rate: positive(values.rate, 'rate')! } : {}),
      connections: 4,
      odooRatePerSecond: positive(values['odoo-rate'], 'odoo-rate') ?? 200,
      odooMaxConcurrency: positive(values['odoo-concurrency'], 'odoo-concurrency') ?? 8,
      keep: values.keep,
      log,
    });
    console.log(formatDemandResult(results.demand) + '\n');
  }
  if (which === 'scale' || which === 'all') {
    const { runScaleBench, formatScaleResult } = await import('./scale.ts');
    results.scale = await runScaleBench(server, {
      processes: list(values.processes, 'processes'),
      count: positive(values.count, 'count') ?? 150,
      latencyMs: values.latency === undefined ? 0 : Number(values.latency),
      ...(values['odoo-rate'] ? { odooRatePerSecond: positive(values['odoo-rate'], 'odoo-rate')! } : {}),
      ...(values['odoo-concurrency'] ? { odooMaxConcurrency: positive(values['odoo-concurrency'], 'odoo-concurrency')! } : {}),
      keep: values.keep,
      log,
    });
    console.log(formatScaleResult(results.scale) + '\n');
    if (!results.scale.exact) process.exitCode = 1;
  }
  if (which === 'faults' || which === 'all') {
    // Its own PostgreSQL server for Carelane (restarted by one scenario); the Odoo simulator's state on the bench's.
    const { runFaultBench, formatFaultResult } = await import('./faults.ts');
    const { createScratchDatabase } = await import('./support.ts');
    const odooDb = await createScratchDatabase(server, 'faults_odoo');
    try {
      results.faults = await runFaultBench({
        outageSeconds: positive(values.outage, 'outage') ?? 60,
        demands: positive(values.count, 'count') ?? 30,
        odooDatabaseUrl: odooDb.url,
        ...(values.only ? { only: values.only.split(',').map((name) => name.trim() as FaultName) } : {}),
        log,
      });
    } finally {
      if (!values.keep) await odooDb.drop();
    }
    console.log(formatFaultResult(results.faults) + '\n');
    if (results.faults.rows.some((row) => row.violations.length > 0)) process.exitCode = 1;
  }
  if (which === 'reconcile' || which === 'all') {
    const { runReconcileBench, formatReconcileResult } = await import('./reconcile.ts');
    results.reconcile = await runReconcileBench(server, { quants: positive(values.quants, 'quants') ?? 1_000_000, keep: values.keep, log });
    console.log(formatReconcileResult(results.reconcile) + '\n');
  }
  if (which === 'fuzz' || which === 'all') {
    const { runFuzzBench, formatFuzzResult } = await import('./fuzz.ts');
    const fuzz = await runFuzzBench({ cases: positive(values.cases, 'cases') ?? 100_000, log });
    console.log(formatFuzzResult(fuzz) + '\n');
    if (fuzz.targets.some((target) => target.failures > 0 || target.hang)) process.exitCode = 1;
  }
  console.log(JSON.stringify(results));
} finally {
  await server.stop();
}
