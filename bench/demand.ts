import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { parseConfigText } from '../src/config/index.ts';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { OdooClient, ProductGateway } from '../src/connectors/odoo/index.ts';
import { applyMappings } from '../src/flows/master-data/mappings.ts';
import { requestSync, listSyncRuns } from '../src/flows/master-data/index.ts';
import type { SeededRecords } from '../simulators/odoo/index.ts';
import { MllpSender } from './mllp-sender.ts';
import { createScratchDatabase, formatTable, round, waitUntil, type BenchServer } from './support.ts';

/**
 * Clinical demand → reservation end to end (issue 6): HL7 v2 SIU^S12 over MLLP into a running Carelane
 * (startCarelane, default lanes), the demand flow on the critical lane, the reservation (internal transfer,
 * confirmed and assigned) in the Odoo simulator with a simulated network latency on every request.
 *
 * Two phases, each on a fresh database, Odoo simulator and Carelane seeded the same way (20,000 catalogue
 * products in Odoo, 2,000 of them named by item crosswalk rows waiting to be linked by default_code):
 *   - baseline: demands only;
 *   - with sync: the master-data sync (requestSync → master_data.sync deliveries on the bulk lane, the same
 *     call the scheduler and the API make) runs while the demands flow; it reads every product in write_date
 *     batches and links the crosswalk rows through applyMappings. If a run ends before the phase does, its
 *     cursors are cleared and another full run starts, so the bulk lane is busy for the whole phase.
 * In each phase: a burst (every demand sent as fast as the listener acknowledges; demands reserved per second),
 * then a paced run at a fixed offered rate, the same in both phases (p50/p99 of received → reserved, which
 * is what a clinician waits for; a burst's p99 would only measure the queue).
 *
 * Received = carelane.messages.received_at of the SIU (committed before the ACK); reserved = the
 * carelane.demands.updated_at of the completion that set status 'reserved' or 'partial'. Both are the
 * database's clock.
 *
 * The Odoo simulator runs in its own process, as Odoo does: its work (it loads a model's rows per call) must
 * not run on Carelane's event loop.
 */

export interface DemandBenchOptions {
  /** demands per run: one burst and one paced run per phase (default 150) */
  count: number;
  /** simulated latency per Odoo HTTP request (default 20 ms) */
  latencyMs: number;
  /** catalogue products in Odoo for the sync to read (default 20,000) */
  products: number;
  /** offered rate of the paced runs in demands/s; default: half the baseline burst throughput, at most 4/s */
  rate?: number;
  /** MLLP connections the EHR sends on (default 4) */
  connections: number;
  /** odoo.connections.*.ratePerSecond and maxConcurrency for the run (defaults: 200 and 8; see the notes) */
  odooRatePerSecond: number;
  odooMaxConcurrency: number;
  keep: boolean;
  log: (line: string) => void;
}

interface LatencyFigures {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Where a demand's time goes: the critical-lane deliveries of the run's messages, queue wait and handler time. */
interface StepFigures {
  action: string;
  waitP50Ms: number;
  waitP99Ms: number;
  runP50Ms: number;
  runP99Ms: number;
  retries: number;
}

interface RunFigures extends LatencyFigures {
  /** demands reserved per second: count / (last reserved − first received) */
  perSecond: number;
  /** offered rate, paced runs only */
  offeredPerSecond?: number;
  seconds: number;
  partial: number;
  steps: StepFigures[];
}

interface SyncActivity {
  /** sync runs started during the phase */
  runs: number;
  /** products read from Odoo by the sync while the burst and the paced run were measured */
  productsReadBurst: number;
  productsReadPaced: number;
  itemMappingsLinked: number;
  /** master_data.sync deliveries completed during the phase */
  deliveries: number;
  /** the sync was running from the first demand sent to the last one reserved, in both runs */
  coveredBoth: boolean;
}

interface PhaseResult {
  phase: 'baseline' | 'with sync';
  burst: RunFigures;
  paced: RunFigures;
  odooCalls: number;
  /** the simulator alone, before the measured runs: one sync page and one small read, median of 5, in ms */
  syncPageMs: number;
  smallReadMs: number;
  /** 1-minute load average at the start and the end of the measured runs: the machine may be shared */
  load: number[];
  sync?: SyncActivity;
}

export interface DemandBenchResult {
  name: 'demand';
  count: number;
  latencyMs: number;
  products: number;
  connections: number;
  odooRatePerSecond: number;
  odooMaxConcurrency: number;
  rate: number;
  baseline: PhaseResult;
  withSync: PhaseResult;
  /** paced p99 with the sync over paced p99 without; target ≤ 1.5 */
  p99Ratio: number;
  p50Ratio: number;
  throughputRatio: number;
  meetsTarget: boolean;
}

const HOST = '127.0.0.1';
const CONNECTION = 'odoo-main';
const ADMIN = 'demand-bench-admin-token';
const ITEMS = 60;
const PROCEDURES = 20;
const ITEM_SYSTEM = 'http://north.example/items';
const CATALOGUE_SYSTEM = 'http://north.example/catalogue';
/** catalogue products an EHR crosswalk row names by default_code, spread over the catalogue */
const CATALOGUE_CROSSWALKS = 2000;

// ---- the Odoo simulator in a child process, driven over IPC

interface SimHandle {
  url: string;
  database: string;
  seeded: SeededRecords;
  call<T>(op: string, args?: unknown): Promise<T>;
  close(): Promise<void>;
}

const CHILD_SOURCE = `
import { startOdooSimulator } from ${JSON.stringify(new URL('../simulators/odoo/index.ts', import.meta.url).href)};
const sim = await startOdooSimulator(JSON.parse(process.env.BENCH_SIM_OPTIONS));
process.on('message', async ({ id, op, args }) => {
  try {
    let result;
    if (op === 'seedRecords') result = await sim.seedRecords(args.model, args.rows);
    else if (op === 'seedQuant') result = await sim.seedQuant(args);
    else if (op === 'callCount') result = sim.callCount();
    else if (op === 'close') { await sim.close(); result = true; }
    else throw new Error('unknown op ' + op);
    process.send({ id, result });
    if (op === 'close') process.disconnect();
  } catch (error) {
    process.send({ id, error: String(error && error.stack || error) });
  }
});
process.send({ ready: { url: sim.url, database: sim.database, seeded: sim.seeded } });
`;

async function startSimulatorProcess(options: { databaseUrl: string; latencyMs: number }): Promise<SimHandle> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'carelane-demand-bench-'));
  const script = path.join(dir, 'odoo-sim.mjs');
  writeFileSync(script, CHILD_SOURCE);
  const child: ChildProcess = fork(script, [], {
    env: { ...process.env, BENCH_SIM_OPTIONS: JSON.stringify({ version: 18, databaseUrl: options.databaseUrl, schema: 'odoo_demand_bench', reset: true, latencyMs: options.latencyMs }) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // the child imports the simulator's TypeScript directly, as the parent does
    execArgv: process.execArgv,
  });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  const ready = new Promise<{ url: string; database: string; seeded: SeededRecords }>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the Odoo simulator process exited (${code}) before it was ready`)));
    child.on('message', (message: { ready?: { url: string; database: string; seeded: SeededRecords }; id?: number; result?: unknown; error?: string }) => {
      if (message.ready) return resolve(message.ready);
      const waiter = pending.get(message.id!);
      pending.delete(message.id!);
      if (message.error !== undefined) waiter?.reject(new Error(message.error));
      else waiter?.resolve(message.result);
    });
  });
  const started = await ready.finally(() => rmSync(dir, { recursive: true, force: true }));
  const call = <T>(op: string, args?: unknown) =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      child.send({ id, op, args });
    });
  return {
    ...started,
    call,
    close: async () => {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      await call('close').catch(() => {});
      const timer = setTimeout(() => child.kill(), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// ---- messages

/** A booking of procedure `n % PROCEDURES` for patient n: distinct order, patient and start, so no two are duplicates. */
function siu(label: string, n: number): string {
  const id = `${label}-${n}`;
  const start = new Date(Date.UTC(2027, 0, 1, 7) + n * 15 * 60_000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const procedure = `BP${String(n % PROCEDURES).padStart(3, '0')}`;
  return [
    `MSH|^~\\&|SCHED|NORTH|CARELANE|NET|20261124080000||SIU^S12^SIU_S12|M-${id}|P|2.5.1`,
    `SCH|${id}|F-${id}||||||^Bench procedure|60|MIN|^^60^${start}^${start}`,
    `PID|1||${900000 + n}-${label}^^^HOSP^MR||BENCH^PATIENT||19700101|F`,
    'RGS|1',
    `AIS|1||${procedure}^Bench procedure^CPT|${start}|0|MIN|60|MIN`,
    'AIL|1||OR-3^^^NORTH',
  ].join('\r');
}

const demandKey = (label: string, n: number) => `SCHED^NORTH|F-${label}-${n}`;

// ---- one phase

interface Environment {
  app: RunningCarelane;
  /** the bench's own client of the simulator (not Carelane's: its limiter is not shared) */
  client: OdooClient;
  sim: SimHandle;
  senders: MllpSender[];
  close(): Promise<void>;
}

async function setUp(server: BenchServer, options: DemandBenchOptions, label: string): Promise<Environment> {
  const setUpStarted = performance.now();
  const scratch = await createScratchDatabase(server, `demand_${label}`);
  const closers: Array<() => Promise<void>> = [async () => void (options.keep ? undefined : await scratch.drop())];
  const close = async () => {
    for (const step of closers.splice(0).reverse()) await step().catch((error: unknown) => options.log(`demand: cleanup: ${(error as Error).message}`));
  };
  try {
    const sim = await startSimulatorProcess({ databaseUrl: scratch.url, latencyMs: options.latencyMs });
    closers.push(() => sim.close());
    options.log(`demand (${label}): seeding ${options.products.toLocaleString('en-US')} catalogue products, ${ITEMS} stocked items ...`);
    const catalogue = Array.from({ length: options.products }, (_, i) => ({ name: `Catalogue item ${i}`, default_code: `CAT-${i}`, tracking: 'none', type: 'consu', is_storable: true, active: true }));
    await sim.call<number[]>('seedRecords', { model: 'product.product', rows: catalogue });
    const client = await OdooClient.connect({ url: sim.url, database: sim.database, login: 'admin', apiKey: 'sim-admin-api-key', transport: 'jsonrpc', timeoutMs: 60_000 });
    const items = await new ProductGateway(client).ensure(Array.from({ length: ITEMS }, (_, i) => ({ key: `bench:item:${i}`, defaultCode: `BENCH-${i}`, name: `Bench item ${i}` })));
    const productIds = Array.from({ length: ITEMS }, (_, i) => items.get(`bench:item:${i}`)!.id);
    for (const productId of productIds) await sim.call('seedQuant', { productId, locationId: sim.seeded.stockLocationId, quantity: 1_000_000 });

    const config = parseConfigText(
      `
server: { port: 0 }
mllp: { port: 0 }
odoo:
  connections:
    ${CONNECTION}: { url: "${sim.url}", database: ${sim.database}, login: admin, apiKey: "\${env:ODOO_KEY}", transport: jsonrpc, version: 18, timeoutMs: 30000, ratePerSecond: ${options.odooRatePerSecond}, maxConcurrency: ${options.odooMaxConcurrency} }
scheduler:
  jobs:
    masterDataSync: { cron: "0 0 1 1 *", enabled: false }
governance:
  tokenization:
    keys: [{ id: k1, secret: "\${env:PTK}" }]
    activeKeyId: k1
routes:
  - { source: mllp, type: "SIU^*", lane: critical, flow: demand }
  - { lane: standard, flow: noop }
`,
      { DATABASE_URL: scratch.url, CARELANE_ADMIN_TOKEN: ADMIN, ODOO_KEY: 'sim-admin-api-key', PTK: 'tokenization-secret-for-the-demand-bench-0123' },
    );
    const app = await startCarelane({ config, origin: 'bench' }, { log: pino({ level: 'error' }, pino.destination(2)) });
    closers.push(() => app.stop());

    const actor = { actor: 'bench', source: 'demand bench set-up' };
    const { pool } = app.database;
    await applyMappings(pool, 'locations', [
      { ehrSystem: 'facility:NORTH', ehrCode: 'OR-3', site: 'north', odooConnection: CONNECTION, storeroomLocationId: sim.seeded.stockLocationId, destinationLocationId: sim.seeded.wardLocationId, pickingTypeId: sim.seeded.internalPickingTypeId },
    ], actor);
    await applyMappings(pool, 'items', productIds.map((odooProductId, i) => ({ ehrSystem: ITEM_SYSTEM, ehrCode: `IT${i}`, odooProductId })), actor);
    // Three items per procedure card, spread over the stocked items.
    await applyMappings(pool, 'preference-cards', Array.from({ length: PROCEDURES }, (_, p) => ({
      site: 'north',
      procedureSystem: 'CPT',
      procedureCode: `BP${String(p).padStart(3, '0')}`,
      lines: [0, 1, 2].map((k) => ({ system: ITEM_SYSTEM, code: `IT${(p * 3 + k) % ITEMS}`, quantity: 1 + k })),
    })), actor);
    // Crosswalk rows for part of the catalogue, known by default_code only: the sync links each to its product
    // id (versioned writes through applyMappings) while it reads every product.
    const toLink = Math.min(CATALOGUE_CROSSWALKS, options.products);
    for (let start = 0; start < toLink; start += 1000) {
      const rows = Array.from({ length: Math.min(1000, toLink - start) }, (_, i) => ({ ehrSystem: CATALOGUE_SYSTEM, ehrCode: `C${start + i}`, defaultCode: `CAT-${(start + i) * Math.floor(options.products / toLink)}`, odooProductId: null }));
      await applyMappings(pool, 'items', rows, actor);
    }
    options.log(`demand (${label}): set up in ${round((performance.now() - setUpStarted) / 1000, 1)} s`);
    const senders = await Promise.all(Array.from({ length: options.connections }, () => MllpSender.connect(HOST, app.mllpPort!)));
    closers.push(async () => void (await Promise.all(senders.map((s) => s.close()))));
    return { app, client, sim, senders, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Sends demands [from, from + count) over the connections, each waiting for its ACK; `rate` paces the sends. */
async function send(env: Environment, label: string, from: number, count: number, rate?: number): Promise<void> {
  let next = 0;
  const started = performance.now();
  let refused = 0;
  await Promise.all(
    env.senders.map(async (sender) => {
      for (;;) {
        const i = next++;
        if (i >= count) return;
        if (rate) {
          const due = started + (i / rate) * 1000;
          const wait = due - performance.now();
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        }
        const ack = await sender.send(siu(label, from + i));
        if (!/\rMSA\|(AA|CA)\|/.test(`\r${ack}`)) refused++;
      }
    }),
  );
  if (refused > 0) throw new Error(`demand bench: ${refused} SIU refused by the listener: the figures are void`);
}

async function reservedCount(env: Environment, label: string): Promise<number> {
  const { rows } = await env.app.database.pool.query<{ n: number }>(`select count(*)::int as n from carelane.demands where demand_key like $1 and status in ('reserved', 'partial')`, [`SCHED^NORTH|F-${label}-%`]);
  return rows[0]!.n;
}

async function figures(env: Environment, label: string, count: number, offered?: number): Promise<RunFigures> {
  const { rows } = await env.app.database.pool.query<{ latency_ms: number; received: Date; reserved: Date; status: string }>(
    `select extract(epoch from d.updated_at - m.received_at) * 1000 as latency_ms, m.received_at as received, d.updated_at as reserved, d.status
     from carelane.demands d join carelane.messages m on m.id = d.message_id
     where d.demand_key like $1 and d.status in ('reserved', 'partial')`,
    [`SCHED^NORTH|F-${label}-%`],
  );
  if (rows.length !== count) throw new Error(`demand bench (${label}): ${rows.length} of ${count} demands reserved: the figures are void`);
  const { rows: steps } = await env.app.database.pool.query<StepFigures>(
    `select action,
       percentile_cont(0.5) within group (order by extract(epoch from claimed_at - created_at) * 1000) as "waitP50Ms",
       percentile_cont(0.99) within group (order by extract(epoch from claimed_at - created_at) * 1000) as "waitP99Ms",
       percentile_cont(0.5) within group (order by extract(epoch from completed_at - claimed_at) * 1000) as "runP50Ms",
       percentile_cont(0.99) within group (order by extract(epoch from completed_at - claimed_at) * 1000) as "runP99Ms",
       sum(attempts - 1)::int as retries
     from carelane.deliveries where message_id in (select message_id from carelane.demands where demand_key like $1) and status = 'done'
     group by action order by min(id)`,
    [`SCHED^NORTH|F-${label}-%`],
  );
  const latencies = rows.map((r) => Number(r.latency_ms)).sort((a, b) => a - b);
  const first = Math.min(...rows.map((r) => r.received.getTime()));
  const last = Math.max(...rows.map((r) => r.reserved.getTime()));
  const seconds = (last - first) / 1000;
  return {
    count,
    perSecond: round(count / seconds, 1),
    ...(offered ? { offeredPerSecond: offered } : {}),
    seconds: round(seconds, 2),
    p50Ms: round(percentile(latencies, 50), 1),
    p90Ms: round(percentile(latencies, 90), 1),
    p99Ms: round(percentile(latencies, 99), 1),
    maxMs: round(latencies.at(-1) ?? 0, 1),
    partial: rows.filter((r) => r.status === 'partial').length,
    steps: steps.map((step) => ({ action: step.action, waitP50Ms: round(step.waitP50Ms, 1), waitP99Ms: round(step.waitP99Ms, 1), runP50Ms: round(step.runP50Ms, 1), runP99Ms: round(step.runP99Ms, 1), retries: step.retries })),
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function measured(env: Environment, label: string, count: number, rate?: number): Promise<RunFigures> {
  await send(env, label, 0, count, rate);
  await waitUntil(async () => (await reservedCount(env, label)) === count, 120_000, `${count} demands of ${label} reserved`, 100);
  return figures(env, label, count, rate);
}

/**
 * Keeps a master-data sync running on the bulk lane: starts one, and when a run is done while the phase goes
 * on, clears the cursors (a full re-read, as after a restore) and starts the next.
 */
class SyncKeeper {
  private readonly env: Environment;
  private stopped = false;
  private loop: Promise<void> | undefined;
  runs = 0;
  /** times at which a run was found finished with none started yet (gaps in coverage) */
  gaps: Array<{ from: number; to: number }> = [];

  constructor(env: Environment) {
    this.env = env;
  }

  async start(): Promise<void> {
    await this.request();
    this.loop = (async () => {
      while (!this.stopped) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        if (this.stopped) return;
        const running = await listSyncRuns(this.env.app.database.pool, { connection: CONNECTION, status: 'running', limit: 1 });
        if (running.length === 0) {
          const [last] = await listSyncRuns(this.env.app.database.pool, { connection: CONNECTION, limit: 1 });
          if (last?.status === 'failed') throw new Error(`demand bench: master-data sync run ${last.id} failed: ${last.error}`);
          const from = last?.finishedAt?.getTime() ?? Date.now();
          await this.env.app.database.pool.query(`delete from carelane.odoo_cursors where connection = $1 and model like 'master-data:%'`, [CONNECTION]);
          await this.request();
          this.gaps.push({ from, to: Date.now() });
        }
      }
    })();
  }

  private async request(): Promise<void> {
    const { started } = await requestSync(this.env.app.database.pool, { connection: CONNECTION, lane: 'bulk', trigger: 'bench' });
    if (started) this.runs++;
  }

  async productsRead(): Promise<{ productsRead: number; itemMappingsLinked: number }> {
    const runs = await listSyncRuns(this.env.app.database.pool, { connection: CONNECTION, limit: 1000 });
    return {
      productsRead: runs.reduce((sum, run) => sum + (run.counts.productsRead ?? 0), 0),
      itemMappingsLinked: runs.reduce((sum, run) => sum + (run.counts.itemMappingsLinked ?? 0), 0),
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

async function runPhase(server: BenchServer, options: DemandBenchOptions, phase: PhaseResult['phase'], rateFor: (burst: RunFigures) => number): Promise<PhaseResult> {
  const tag = phase === 'baseline' ? 'base' : 'sync';
  const env = await setUp(server, options, tag);
  try {
    options.log(`demand (${phase}): warm-up, 20 demands ...`);
    await measured(env, `W${tag}`, 20);
    const timeCall = async (call: () => Promise<unknown>) => {
      const times: number[] = [];
      for (let k = 0; k < 5; k++) {
        const t = performance.now();
        await call();
        times.push(performance.now() - t);
      }
      return round(times.sort((a, b) => a - b)[2]!, 1);
    };
    // the sync's page: search_read by write_date over the whole catalogue (src/flows/master-data/sync.ts productBatch)
    const syncPageMs = await timeCall(() => env.client.searchRead('product.product', [['write_date', '>=', '2000-01-01 00:00:00']], { fields: ['default_code', 'barcode', 'write_date'], order: 'write_date asc, id asc', limit: 200 }));
    const smallReadMs = await timeCall(() => env.client.read('stock.picking.type', [env.sim.seeded.internalPickingTypeId], ['name']));
    let keeper: SyncKeeper | undefined;
    if (phase === 'with sync') {
      keeper = new SyncKeeper(env);
      await keeper.start();
      // let the sync get into its stride (past its first delivery) before the first demand
      await waitUntil(async () => (await keeper!.productsRead()).productsRead > 0, 30_000, 'the sync to read its first products');
    }
    const loadStart = round(os.loadavg()[0]!, 1);
    const callsBefore = await env.sim.call<number>('callCount');
    const syncAt0 = await keeper?.productsRead();
    options.log(`demand (${phase}): burst of ${options.count} demands over ${options.connections} MLLP connections ...`);
    const burstStart = Date.now();
    const burst = await measured(env, `B${tag}`, options.count);
    const syncAt1 = await keeper?.productsRead();
    const rate = rateFor(burst);
    options.log(`demand (${phase}): ${options.count} demands paced at ${rate}/s ...`);
    const paced = await measured(env, `P${tag}`, options.count, rate);
    const syncAt2 = await keeper?.productsRead();
    const phaseEnd = Date.now();
    const odooCalls = (await env.sim.call<number>('callCount')) - callsBefore;
    let sync: SyncActivity | undefined;
    if (keeper) {
      await keeper.stop();
      const { rows } = await env.app.database.pool.query<{ n: number }>(`select count(*)::int as n from carelane.deliveries where action = 'master_data.sync' and status = 'done'`);
      sync = {
        runs: keeper.runs,
        productsReadBurst: syncAt1!.productsRead - syncAt0!.productsRead,
        productsReadPaced: syncAt2!.productsRead - syncAt1!.productsRead,
        itemMappingsLinked: syncAt2!.itemMappingsLinked,
        deliveries: rows[0]?.n ?? 0,
        coveredBoth: !keeper.gaps.some((gap) => gap.to > burstStart && gap.from < phaseEnd && gap.to - gap.from > 500),
      };
    }
    return { phase, burst, paced, odooCalls, syncPageMs, smallReadMs, load: [loadStart, round(os.loadavg()[0]!, 1)], ...(sync ? { sync } : {}) };
  } finally {
    await env.close();
  }
}

export async function runDemandBench(server: BenchServer, options: DemandBenchOptions): Promise<DemandBenchResult> {
  let rate = options.rate ?? 0;
  const baseline = await runPhase(server, options, 'baseline', (burst) => (rate ||= Math.max(1, Math.min(4, Math.round(burst.perSecond / 2)))));
  const withSync = await runPhase(server, options, 'with sync', () => rate);
  const p99Ratio = round(withSync.paced.p99Ms / baseline.paced.p99Ms, 2);
  return {
    name: 'demand',
    count: options.count,
    latencyMs: options.latencyMs,
    products: options.products,
    connections: options.connections,
    odooRatePerSecond: options.odooRatePerSecond,
    odooMaxConcurrency: options.odooMaxConcurrency,
    rate,
    baseline,
    withSync,
    p99Ratio,
    p50Ratio: round(withSync.paced.p50Ms / baseline.paced.p50Ms, 2),
    throughputRatio: round(withSync.burst.perSecond / baseline.burst.perSecond, 2),
    meetsTarget: p99Ratio <= 1.5,
  };
}

export function formatDemandResult(result: DemandBenchResult): string {
  const rows = [result.baseline, result.withSync].flatMap((phase) =>
    (['burst', 'paced'] as const).map((kind) => {
      const run = phase[kind];
      return [phase.phase, kind === 'burst' ? 'burst' : `paced ${run.offeredPerSecond}/s`, run.count, run.perSecond, run.p50Ms, run.p90Ms, run.p99Ms, run.maxMs];
    }),
  );
  const table = formatTable(['phase', 'run', 'demands', 'reserved/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'], rows);
  const stepRows = [result.baseline, result.withSync].flatMap((phase) =>
    (['burst', 'paced'] as const).flatMap((kind) => phase[kind].steps.map((step) => [phase.phase, kind, step.action, step.waitP50Ms, step.waitP99Ms, step.runP50Ms, step.runP99Ms, step.retries])),
  );
  const steps = formatTable(['phase', 'run', 'critical-lane step', 'wait p50 ms', 'wait p99 ms', 'run p50 ms', 'run p99 ms', 'retries'], stepRows);
  const sync = result.withSync.sync;
  const perDemand = (phase: PhaseResult) => round(phase.odooCalls / (phase.burst.count + phase.paced.count), 1);
  return [
    `Demand → reservation: HL7 v2 SIU^S12 over MLLP (${result.connections} connections) → flow.demand (critical lane) → demand.reserve → internal transfer`,
    `confirmed and assigned in the Odoo 18 simulator (own process), ${result.latencyMs} ms latency per Odoo request; ${result.products.toLocaleString('en-US')} catalogue products in Odoo;`,
    `Odoo connection limits for the run: ratePerSecond ${result.odooRatePerSecond}, maxConcurrency ${result.odooMaxConcurrency}`,
    table,
    '',
    `Paced p99 with the sync / without: ${result.p99Ratio}x (target ≤ 1.5x): ${result.meetsTarget ? 'met' : 'NOT met'}; p50 ${result.p50Ratio}x; burst throughput ${result.throughputRatio}x`,
    `Odoo calls per demand: ${perDemand(result.baseline)} (baseline), ${perDemand(result.withSync)} with the sync (its own reads included)`,
    `Load average (1 min) at the start and end of each phase: baseline ${result.baseline.load.join(' → ')}, with sync ${result.withSync.load.join(' → ')} (${os.cpus().length} CPUs)`,
    sync
      ? `Sync during the measured runs: master_data.sync deliveries on the bulk lane (requestSync), ${sync.runs} run(s), ${sync.productsReadBurst.toLocaleString('en-US')} products read during the burst and ${sync.productsReadPaced.toLocaleString('en-US')} during the paced run, ${sync.itemMappingsLinked.toLocaleString('en-US')} crosswalk rows linked, ${sync.deliveries} deliveries; running throughout: ${sync.coveredBoth ? 'yes' : 'NO (gaps between runs)'}`
      : '',
    `The Odoo simulator answers reads side by side (each on its own snapshot, as Odoo's workers do) and writes one at a time; it loads a model's rows on each call:`,
    `alone, one sync page (search_read of 200 of ${result.products.toLocaleString('en-US')} products by write_date) takes ${result.withSync.syncPageMs} ms there, a one-record read ${result.withSync.smallReadMs} ms (both with the ${result.latencyMs} ms`,
    'latency). The sync yields to urgent work: each of its batches waits (at most 2 s) while critical deliveries run in Carelane, so it reads in the gaps.',
    sync
      ? `During the paced run the sync read ${round(sync.productsReadPaced / 200 / result.withSync.paced.seconds, 1)} pages/s of 200 products: about ${Math.round(((sync.productsReadPaced / 200) * result.withSync.syncPageMs) / (result.withSync.paced.seconds * 10))}% of the simulator's time at ${result.withSync.syncPageMs} ms a page.`
      : '',
    'Latency: carelane.messages.received_at of the SIU → carelane.demands.updated_at when reserved (database clock). Burst: every demand sent as fast as the',
    'listener acknowledges; reserved/s = demands / (last reserved − first received). Paced: the same offered rate in both phases (half the baseline burst',
    'rate, at most 4/s, unless --rate). Each phase on a fresh database, simulator and Carelane, seeded alike, after a 20-demand warm-up.',
    '',
    'Where the time goes (deliveries of the measured messages; wait = created → claimed, run = claimed → completed):',
    steps,
  ]
    .filter((line) => line !== '')
    .join('\n');
}
