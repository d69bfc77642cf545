import type pg from 'pg';
import { changedSince, loadCursor, saveCursor, StockGateway, VendorGateway, type OdooClient, type OdooClientFor, type OdooRecord } from '../../connectors/odoo/index.ts';
import { toGtin14 } from '../../connectors/gs1/index.ts';
import type { DeliveryHandler, NewDelivery } from '../../engine/handlers.ts';
import { enqueueDeliveries } from '../../store/queue.ts';
import type { Queryable } from '../../store/database.ts';
import type { CarelaneConfig } from '../../config/index.ts';
import { applyMappings } from './mappings.ts';
import { yieldToUrgentWork } from '../../observability/work-priority.ts';
import type { ItemMapping, SupplierItemMapping } from './kinds.ts';

// Batch sync of master data from the owning Odoo (DESIGN.md "Flows": master data, bulk lane; Odoo owns items,
// vendors and stock locations). It refreshes the crosswalk rows that reference Odoo records: an item mapping
// named by default_code or GTIN gets its product id, one whose product changed its code or barcode follows it,
// supplier items get their vendor's id, and references to records that no longer exist (deleted or archived)
// are reported on the run. Products and vendors are read in write_date batches with persisted cursors
// (connectors/odoo/cursors.ts), so a run reads only what changed since the last one.
//
// It runs as deliveries on the bulk lane (action master_data.sync), each bounded in time and continued by the
// next, so it never holds a worker for long and never competes with the critical lane's workers; a run's
// counts accumulate on its row in master_data_sync_runs.

export const MASTER_DATA_SYNC_ACTION = 'master_data.sync';
export const SYNC_ACTOR = 'system:master-data-sync';

export type MasterDataDomain = 'items' | 'vendors' | 'locations';

export interface SyncSettings {
  /** the domains Odoo owns; the others are not read from it */
  domains: MasterDataDomain[];
  /** records per Odoo round trip */
  batchSize: number;
  /** work per delivery before handing on to the next one */
  timeBudgetMs: number;
}

/**
 * A batch waits at most this long for urgent work (reservations) running in this process to end: bulk runs in
 * the gaps, as the Odoo limiter admits its calls (src/connectors/odoo/limiter.ts waits 2 s likewise).
 */
const URGENT_WAIT_MS = 2000;

export const DEFAULT_SYNC_SETTINGS: SyncSettings = { domains: ['items', 'vendors', 'locations'], batchSize: 200, timeBudgetMs: 3000 };

export interface SyncCounts {
  productsRead: number;
  vendorsRead: number;
  locationsRead: number;
  itemMappingsLinked: number;
  itemMappingsRefreshed: number;
  supplierItemsRefreshed: number;
  parkedReplayed: number;
}

export interface MissingReference {
  kind: 'product' | 'vendor' | 'location';
  odooId?: number;
  ref?: string;
  /** the crosswalk rows that point at it */
  usedBy: string[];
}

export interface SyncRun {
  id: number;
  connection: string;
  trigger: string;
  status: 'running' | 'done' | 'failed';
  counts: Partial<SyncCounts>;
  missing: MissingReference[];
  error: string | null;
  startedAt: Date;
  finishedAt: Date | null;
}

type Stage = 'products' | 'vendors' | 'verify';
interface SyncPayload {
  runId: number;
  stage: Stage;
  step: number;
}

const PRODUCT_CURSOR = 'master-data:product.product';
const VENDOR_CURSOR = 'master-data:res.partner';

/** Starts a run: its row, and the first delivery on `lane`. An unfinished run of the connection is returned instead. */
export async function requestSync(pool: pg.Pool, options: { connection: string; trigger: string; lane: string }): Promise<{ run: SyncRun; started: boolean }> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    await client.query('select pg_advisory_xact_lock(7310006, hashtext($1))', [options.connection]);
    const running = await listSyncRuns(client, { connection: options.connection, status: 'running', limit: 1 });
    if (running[0]) {
      // still going while one of its deliveries waits or runs; a run whose delivery was parked or cancelled is
      // failed here, so one stuck run cannot block every later one
      const alive = await client.query(`select 1 from carelane.deliveries where correlation_id = $1 and status in ('pending', 'running') limit 1`, [`master-data-sync-${running[0].id}`]);
      if (alive.rowCount) {
        await client.query('commit');
        return { run: running[0], started: false };
      }
      await client.query(`update carelane.master_data_sync_runs set status = 'failed', finished_at = now(), error = coalesce(error, 'its delivery ended without finishing the run') where id = $1`, [running[0].id]);
    }
    const { rows } = await client.query<{ id: number }>(`insert into carelane.master_data_sync_runs (connection, trigger, status) values ($1, $2, 'running') returning id::int as id`, [
      options.connection,
      options.trigger,
    ]);
    const runId = rows[0]!.id;
    await enqueueDeliveries(client, [syncDelivery(options.connection, options.lane, { runId, stage: 'products', step: 0 })]);
    await client.query('commit');
    return { run: (await listSyncRuns(pool, { id: runId }))[0]!, started: true };
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

function syncDelivery(connection: string, lane: string, payload: SyncPayload): NewDelivery {
  return {
    lane,
    action: MASTER_DATA_SYNC_ACTION,
    endpoint: connection,
    idempotencyKey: `master-data-sync:${payload.runId}:${payload.stage}:${payload.step}`,
    correlationId: `master-data-sync-${payload.runId}`,
    orderingKey: `master-data-sync:${connection}`,
    payload,
  };
}

export async function listSyncRuns(db: Queryable, filter: { id?: number; connection?: string; status?: string; limit?: number } = {}): Promise<SyncRun[]> {
  const { rows } = await db.query<SyncRun>(
    `select id::int as id, connection, trigger, status, counts, missing, error, started_at as "startedAt", finished_at as "finishedAt"
     from carelane.master_data_sync_runs where ($1::bigint is null or id = $1) and ($2::text is null or connection = $2) and ($3::text is null or status = $3)
     order by id desc limit $4`,
    [filter.id ?? null, filter.connection ?? null, filter.status ?? null, filter.limit ?? 50],
  );
  return rows;
}

async function addCounts(pool: pg.Pool, runId: number, counts: Partial<SyncCounts>): Promise<void> {
  await pool.query(
    `update carelane.master_data_sync_runs
     set counts = counts || coalesce((select jsonb_object_agg(k, coalesce((counts ->> k)::int, 0) + v::int) from jsonb_each_text($2::jsonb) as added(k, v)), '{}'::jsonb)
     where id = $1`,
    [runId, JSON.stringify(counts)],
  );
}

/** The engine handler: one bounded slice of a run per delivery, the next slice as a follow-up delivery. */
export function masterDataSyncHandler(clientFor: OdooClientFor, settings: SyncSettings = DEFAULT_SYNC_SETTINGS): DeliveryHandler {
  return {
    action: MASTER_DATA_SYNC_ACTION,
    async run(delivery, context) {
      const payload = delivery.payload as SyncPayload;
      const client = (await clientFor(delivery.endpoint)).withSignal(context.signal);
      try {
        const next = await syncSlice(context.pool, client, delivery.endpoint, payload, settings);
        if (next) return { next: [syncDelivery(delivery.endpoint, delivery.lane, next)] };
        return { stages: [{ stage: `master-data sync run ${payload.runId} finished` }] };
      } catch (error) {
        // the run is failed only when the engine gives up; a retry continues it from the saved cursors
        await context.pool.query(`update carelane.master_data_sync_runs set error = $2 where id = $1`, [payload.runId, (error as Error).message]);
        throw error;
      }
    },
  };
}

/** Runs a whole sync in this process (tests, CLI): the same slices the deliveries run, one after the other. */
export async function runSyncNow(pool: pg.Pool, client: OdooClient, connection: string, trigger: string, settings: SyncSettings = DEFAULT_SYNC_SETTINGS): Promise<SyncRun> {
  const { rows } = await pool.query<{ id: number }>(`insert into carelane.master_data_sync_runs (connection, trigger, status) values ($1, $2, 'running') returning id::int as id`, [connection, trigger]);
  let payload: SyncPayload | undefined = { runId: rows[0]!.id, stage: 'products', step: 0 };
  try {
    while (payload) payload = await syncSlice(pool, client, connection, payload, settings);
  } catch (error) {
    await pool.query(`update carelane.master_data_sync_runs set status = 'failed', error = $2, finished_at = now() where id = $1`, [rows[0]!.id, (error as Error).message]);
    throw error;
  }
  return (await listSyncRuns(pool, { id: rows[0]!.id }))[0]!;
}

/** One slice; returns where the next one starts, or undefined when the run is finished. */
async function syncSlice(pool: pg.Pool, client: OdooClient, connection: string, payload: SyncPayload, settings: SyncSettings): Promise<SyncPayload | undefined> {
  const deadline = Date.now() + settings.timeBudgetMs;
  const owns = (domain: MasterDataDomain) => settings.domains.includes(domain);
  const order: Stage[] = ['products', 'vendors', 'verify'];
  let stage = payload.stage;
  if (stage === 'products' && payload.step === 0) {
    // Odoo's write_date has one-second resolution, so a record written in the cursor's second after the last
    // run read it, with a lower id, would sit behind the keyset cursor for ever: every run re-reads the
    // cursor's second from its first id (idempotent: unchanged mappings are left as they are).
    await pool.query(`update carelane.odoo_cursors set last_id = 0 where connection = $1 and model = any ($2::text[])`, [connection, [PRODUCT_CURSOR, VENDOR_CURSOR]]);
  }
  for (;;) {
    if (stage === 'products' && owns('items')) {
      while (Date.now() < deadline) {
        await yieldToUrgentWork(URGENT_WAIT_MS);
        const read = await productBatch(pool, client, connection, payload.runId, settings.batchSize);
        if (read < settings.batchSize) break;
      }
      if (Date.now() >= deadline) return { runId: payload.runId, stage, step: payload.step + 1 };
    } else if (stage === 'vendors' && owns('vendors')) {
      while (Date.now() < deadline) {
        await yieldToUrgentWork(URGENT_WAIT_MS);
        const read = await vendorBatch(pool, client, connection, payload.runId, settings.batchSize);
        if (read < settings.batchSize) break;
      }
      if (Date.now() >= deadline) return { runId: payload.runId, stage, step: payload.step + 1 };
    } else if (stage === 'verify') {
      const missing = await verifyReferences(pool, client, connection, payload.runId, settings);
      await pool.query(`update carelane.master_data_sync_runs set status = 'done', missing = $2::jsonb, error = null, finished_at = now() where id = $1`, [payload.runId, JSON.stringify(missing)]);
      return undefined;
    }
    stage = order[order.indexOf(stage) + 1]!;
  }
}

const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);
const sameGtin = (a: string | null | undefined, b: string | null | undefined): boolean => !!a && !!b && (a === b || toGtin14(a) === toGtin14(b));

/** One write_date batch of products: refresh and link item crosswalk rows. Returns the records read. */
async function productBatch(pool: pg.Pool, client: OdooClient, connection: string, runId: number, batchSize: number): Promise<number> {
  const cursor = await loadCursor(pool, connection, PRODUCT_CURSOR);
  const records = await client.searchRead('product.product', changedSince(cursor), { fields: ['default_code', 'barcode', 'write_date'], order: 'write_date asc, id asc', limit: batchSize });
  if (records.length === 0) return 0;
  const ids = records.map((record) => record.id);
  const codes = records.map((record) => text(record.default_code)).filter((code): code is string => code !== null);
  const barcodes = records.map((record) => text(record.barcode)).filter((code): code is string => code !== null);
  const { rows } = await pool.query<ItemMapping & { odooProductId: number | null }>(
    `select ehr_system as "ehrSystem", ehr_code as "ehrCode", odoo_product_id as "odooProductId", default_code as "defaultCode", gtin, uom_id as "uomId"
     from carelane.item_crosswalk where valid_to is null and (odoo_product_id = any ($1::int[]) or (odoo_product_id is null and (default_code = any ($2::text[]) or gtin = any ($3::text[]))))`,
    [ids, codes, barcodes],
  );
  const byId = new Map(records.map((record) => [record.id, record]));
  const changes: ItemMapping[] = [];
  let linked = 0;
  for (const row of rows) {
    const product: OdooRecord | undefined = row.odooProductId
      ? byId.get(row.odooProductId)
      : records.find((record) => (row.defaultCode && text(record.default_code) === row.defaultCode) || sameGtin(row.gtin, text(record.barcode)));
    if (!product) continue;
    const refreshed: ItemMapping = { ...row, odooProductId: product.id, defaultCode: text(product.default_code), gtin: text(product.barcode) ?? row.gtin ?? null };
    if (row.odooProductId === null) linked++;
    if (refreshed.odooProductId !== row.odooProductId || refreshed.defaultCode !== row.defaultCode || refreshed.gtin !== row.gtin) changes.push(refreshed);
  }
  let replayed = 0;
  if (changes.length > 0) {
    const applied = await applyMappings(pool, 'items', changes, { actor: SYNC_ACTOR, reason: `master-data sync run ${runId} from ${connection}`, source: `master-data sync run ${runId}` });
    replayed = applied.autoReplay.replayed.length;
  }
  const last = records.at(-1)!;
  await saveCursor(pool, connection, PRODUCT_CURSOR, { writeDate: String(last.write_date), lastId: last.id });
  await addCounts(pool, runId, { productsRead: records.length, itemMappingsLinked: linked, itemMappingsRefreshed: changes.length - linked, parkedReplayed: replayed });
  return records.length;
}

/** One write_date batch of vendors (res.partner with supplier_rank > 0): supplier items learn their vendor's id. */
async function vendorBatch(pool: pg.Pool, client: OdooClient, connection: string, runId: number, batchSize: number): Promise<number> {
  const cursor = await loadCursor(pool, connection, VENDOR_CURSOR);
  const records = await client.searchRead('res.partner', [['supplier_rank', '>', 0], ...changedSince(cursor)], { fields: ['ref', 'write_date'], order: 'write_date asc, id asc', limit: batchSize });
  if (records.length === 0) return 0;
  const idByRef = new Map(records.flatMap((record) => (text(record.ref) ? [[text(record.ref)!, record.id] as const] : [])));
  const { rows } = await pool.query<SupplierItemMapping>(
    `select vendor_ref as "vendorRef", sku, odoo_product_id as "odooProductId", gtin, odoo_vendor_id as "odooVendorId"
     from carelane.supplier_item_crosswalk where valid_to is null and vendor_ref = any ($1::text[])`,
    [[...idByRef.keys()]],
  );
  const changes = rows.filter((row) => row.odooVendorId !== idByRef.get(row.vendorRef)).map((row) => ({ ...row, odooVendorId: idByRef.get(row.vendorRef)! }));
  if (changes.length > 0) await applyMappings(pool, 'supplier-items', changes, { actor: SYNC_ACTOR, reason: `master-data sync run ${runId} from ${connection}`, source: `master-data sync run ${runId}` });
  const last = records.at(-1)!;
  await saveCursor(pool, connection, VENDOR_CURSOR, { writeDate: String(last.write_date), lastId: last.id });
  await addCounts(pool, runId, { vendorsRead: records.length, supplierItemsRefreshed: changes.length });
  return records.length;
}

/**
 * References a cursor cannot show: records deleted or archived in Odoo (a search skips archived records, and a
 * deleted one leaves no write_date behind). Every referenced id is checked, in batches, and reported.
 */
async function verifyReferences(pool: pg.Pool, client: OdooClient, connection: string, runId: number, settings: SyncSettings): Promise<MissingReference[]> {
  const missing: MissingReference[] = [];
  const owns = (domain: MasterDataDomain) => settings.domains.includes(domain);
  if (owns('items')) {
    const { rows } = await pool.query<{ id: number; used_by: string[] }>(
      `select id, array_agg(used_by order by used_by) as used_by from (
         select odoo_product_id as id, 'items:' || ehr_system || '|' || ehr_code as used_by from carelane.item_crosswalk where valid_to is null and odoo_product_id is not null
         union all
         select odoo_product_id, 'supplier-items:' || vendor_ref || '|' || sku from carelane.supplier_item_crosswalk where valid_to is null
       ) refs group by id order by id`,
    );
    for (let start = 0; start < rows.length; start += 1000) {
      const chunk = rows.slice(start, start + 1000);
      const found = new Set(await client.search('product.product', [['id', 'in', chunk.map((row) => row.id)]]));
      for (const row of chunk) if (!found.has(row.id)) missing.push({ kind: 'product', odooId: row.id, usedBy: row.used_by });
    }
  }
  if (owns('vendors')) {
    const { rows } = await pool.query<{ ref: string; used_by: string[] }>(
      `select vendor_ref as ref, array_agg('supplier-items:' || vendor_ref || '|' || sku order by sku) as used_by from carelane.supplier_item_crosswalk where valid_to is null group by vendor_ref order by vendor_ref`,
    );
    for (let start = 0; start < rows.length; start += 500) {
      const chunk = rows.slice(start, start + 500);
      const found = new Set((await new VendorGateway(client).find({ refs: chunk.map((row) => row.ref) })).map((vendor) => vendor.ref));
      for (const row of chunk) if (!found.has(row.ref)) missing.push({ kind: 'vendor', ref: row.ref, usedBy: row.used_by });
    }
  }
  if (owns('locations')) {
    const locations = await new StockGateway(client).internalLocations();
    const internal = new Set(locations.map((location) => location.id));
    const { rows } = await pool.query<{ id: number; used_by: string[] }>(
      `select id, array_agg(used_by order by used_by) as used_by from (
         select storeroom_location_id as id, 'locations:' || ehr_system || '|' || ehr_code as used_by from carelane.location_crosswalk where valid_to is null and odoo_connection = $1
         union all
         select destination_location_id, 'locations:' || ehr_system || '|' || ehr_code from carelane.location_crosswalk where valid_to is null and odoo_connection = $1
       ) refs group by id order by id`,
      [connection],
    );
    for (const row of rows) if (!internal.has(row.id)) missing.push({ kind: 'location', odooId: row.id, usedBy: row.used_by });
    await addCounts(pool, runId, { locationsRead: locations.length });
  }
  return missing;
}

/** Where and how the sync runs, from carelane.yaml (masterData, odoo.connections); undefined without Odoo. */
export function syncPlanFrom(config: CarelaneConfig): { connection: string; lane: string; settings: SyncSettings } | undefined {
  const { owners, sync } = config.masterData;
  const connection = sync.connection ?? Object.keys(config.odoo.connections)[0];
  if (!connection) return undefined;
  const lanes = config.engine.lanes;
  // the configured lane, else the lowest-priority one: a sync must never take the critical lane's workers
  const lane = lanes[sync.lane] ? sync.lane : Object.entries(lanes).sort(([, a], [, b]) => a.priority - b.priority)[0]![0];
  const domains = (['items', 'vendors', 'locations'] as const).filter((domain) => owners[domain] === 'odoo');
  return { connection, lane, settings: { domains, batchSize: sync.batchSize, timeBudgetMs: sync.timeBudgetMs } };
}
