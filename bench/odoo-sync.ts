import { performance } from 'node:perf_hooks';
import { OdooClient, type OdooRecord } from '../src/connectors/odoo/index.ts';
import { startOdooSimulator, type OdooSimulator } from '../simulators/odoo/index.ts';
import { createScratchDatabase, formatTable, round, type BenchServer } from './support.ts';

// Odoo sync benchmark: read N items (product.product) and M quants (stock.quant) from the Odoo simulator with a
// simulated network latency, once through the connector's batched reads (search_read pages keyed on id) and once
// through a naive client that reads one record per call (the Bahmni-style pattern, reference/odoo.md §4.4),
// in the same run against the same simulator. Target (issue #3): ≤ 0.01 round trips per record, ≥ 20× naive.

export interface OdooSyncBenchOptions {
  /** items (product.product); default 10,000 */
  items?: number;
  /** quants (stock.quant); default 50,000 */
  quants?: number;
  /** simulated latency per HTTP request; default 5 ms */
  latencyMs?: number;
  /** records per search_read page; default 5,000 */
  pageSize?: number;
  /**
   * Records the naive client reads per model. Its rate is steady (one round trip each), so a sample gives the same
   * records/s as the full set without a run of minutes; default min(count, 1,000).
   */
  naiveSample?: number;
  keep?: boolean;
  log?: (line: string) => void;
}

export interface OdooSyncRun {
  client: 'batched' | 'naive';
  model: string;
  records: number;
  roundTrips: number;
  roundTripsPerRecord: number;
  seconds: number;
  recordsPerSecond: number;
}

export interface OdooSyncBenchResult {
  name: 'odoo-sync';
  items: number;
  quants: number;
  latencyMs: number;
  runs: OdooSyncRun[];
  /** batched records/s over naive records/s, all models together */
  throughputRatio: number;
  meetsTarget: boolean;
}

const ITEM_FIELDS = ['name', 'default_code', 'barcode', 'tracking'];
const QUANT_FIELDS = ['product_id', 'location_id', 'lot_id', 'quantity', 'reserved_quantity'];

export async function runOdooSyncBench(server: BenchServer, options: OdooSyncBenchOptions = {}): Promise<OdooSyncBenchResult> {
  const items = options.items ?? 10_000;
  const quants = options.quants ?? 50_000;
  const latencyMs = options.latencyMs ?? 5;
  const pageSize = options.pageSize ?? 5000;
  const log = options.log ?? (() => {});
  const database = await createScratchDatabase(server, 'odoo_sync');
  let sim: OdooSimulator | undefined;
  try {
    sim = await startOdooSimulator({ version: 18, databaseUrl: database.url, schema: 'odoo_bench', reset: true, latencyMs });
    log(`odoo-sync: seeding ${items} items and ${quants} quants ...`);
    const productIds = await sim.seedRecords('product.product', Array.from({ length: items }, (_, i) => ({ name: `Item ${i}`, default_code: `ITEM-${i}`, tracking: 'none', type: 'consu', is_storable: true, active: true })));
    const { stockLocationId } = sim.seeded;
    await sim.seedRecords('stock.quant', Array.from({ length: quants }, (_, i) => ({ product_id: productIds[i % productIds.length]!, location_id: stockLocationId, lot_id: false, quantity: 1 + (i % 50), reserved_quantity: 0 })));
    const client = await OdooClient.connect({ url: sim.url, database: sim.database, login: 'admin', apiKey: 'sim-admin-api-key', version: 18, transport: 'jsonrpc', timeoutMs: 120_000 });
    const runs: OdooSyncRun[] = [];
    for (const [model, fields, count] of [['product.product', ITEM_FIELDS, items], ['stock.quant', QUANT_FIELDS, quants]] as const) {
      log(`odoo-sync: batched ${model} ...`);
      runs.push(await measure(sim, 'batched', model, () => batchedRead(client, model, [...fields], pageSize)));
      const sample = Math.min(count, options.naiveSample ?? 1000);
      log(`odoo-sync: naive ${model}, ${sample} records ...`);
      runs.push(await measure(sim, 'naive', model, () => naiveRead(client, model, [...fields], sample)));
    }
    const rate = (kind: OdooSyncRun['client']) => {
      const chosen = runs.filter((r) => r.client === kind);
      return chosen.reduce((s, r) => s + r.records, 0) / chosen.reduce((s, r) => s + r.seconds, 0);
    };
    const throughputRatio = round(rate('batched') / rate('naive'), 1);
    const meetsTarget = throughputRatio >= 20 && runs.filter((r) => r.client === 'batched').every((r) => r.roundTripsPerRecord <= 0.01);
    return { name: 'odoo-sync', items, quants, latencyMs, runs, throughputRatio, meetsTarget };
  } finally {
    await sim?.close();
    if (!options.keep) await database.drop();
  }
}

/** The connector's way: search_read pages of `pageSize`, keyset on id (no OFFSET rescans), all fields at once. */
async function batchedRead(client: OdooClient, model: string, fields: string[], pageSize: number): Promise<OdooRecord[]> {
  const all: OdooRecord[] = [];
  let lastId = 0;
  for (;;) {
    const page = await client.searchRead(model, [['id', '>', lastId]], { fields, order: 'id', limit: pageSize });
    all.push(...page);
    if (page.length < pageSize) return all;
    lastId = page.at(-1)!.id;
  }
}

/** One search for the ids, then one `read` per record, one after another. */
async function naiveRead(client: OdooClient, model: string, fields: string[], limit: number): Promise<OdooRecord[]> {
  const ids = await client.search(model, [], { limit, order: 'id' });
  const all: OdooRecord[] = [];
  for (const id of ids) all.push(...(await client.read(model, [id], fields)));
  return all;
}

async function measure(sim: OdooSimulator, kind: OdooSyncRun['client'], model: string, read: () => Promise<OdooRecord[]>): Promise<OdooSyncRun> {
  const callsBefore = sim.callCount();
  const started = performance.now();
  const records = (await read()).length;
  const seconds = (performance.now() - started) / 1000;
  const roundTrips = sim.callCount() - callsBefore;
  return { client: kind, model, records, roundTrips, roundTripsPerRecord: round(roundTrips / records, 4), seconds: round(seconds, 3), recordsPerSecond: round(records / seconds, 1) };
}

export function formatOdooSyncResult(result: OdooSyncBenchResult): string {
  const table = formatTable(
    ['client', 'model', 'records', 'round trips', 'round trips/record', 'seconds', 'records/s'],
    result.runs.map((r) => [r.client, r.model, r.records, r.roundTrips, r.roundTripsPerRecord.toFixed(4), r.seconds, r.recordsPerSecond]),
  );
  return [
    `Odoo sync: ${result.items.toLocaleString('en-US')} items and ${result.quants.toLocaleString('en-US')} quants from the Odoo simulator (18, JSON-RPC), ${result.latencyMs} ms latency per request`,
    table,
    '',
    `Batched / naive throughput: ${result.throughputRatio}x (target ≥ 20x, ≤ 0.01 round trips per record): ${result.meetsTarget ? 'met' : 'NOT met'}`,
    'Notes: batched = search_read pages keyed on id with the field list; naive = one search, then one read per record, in',
    'sequence, over a sample of each model (its rate is one round trip per record whatever the sample size). Round trips',
    "are counted by the simulator (object calls). Both clients share the simulator, its database and the run.",
  ].join('\n');
}
