import type pg from 'pg';
import { many2oneId, type OdooClient } from '../../connectors/odoo/index.ts';
import type { InventoryAdvice } from '../../connectors/x12/index.ts';
import { inTransaction } from '../../store/database.ts';

/**
 * Inventory reconciliation (docs/finance.md "Reconciliation"): Odoo's quants under a location against the
 * warehouse's snapshot of it (846 inventory advice or REST). Memory stays flat whatever the number of quants:
 * Odoo is read in search_read pages keyed on id (reference/odoo.md §2.4; no OFFSET rescans), each page goes
 * straight into a scratch table, and PostgreSQL compares the two sides (a full join on location, product, lot).
 * Ordering quants by location/product/lot in Odoo is not an option for a streaming merge: a many2one sorts by
 * the related record's name, not its id. Differences become a few `stock_mismatch` exceptions (one per
 * location, with a sample), every line is kept in carelane.stock_mismatches for the adjust_stock playbook.
 */

export interface SnapshotLine {
  locationId: number;
  productId: number;
  lotName?: string;
  quantity: number;
}

export interface NewSnapshot {
  snapshotKey: string;
  odooConnection: string;
  locationId: number;
  takenAt: Date;
  messageId?: number | null;
}

/** Stores a warehouse snapshot; lines are written in chunks as they come (an async source keeps memory flat). */
export async function recordSnapshot(pool: pg.Pool, snapshot: NewSnapshot, lines: Iterable<SnapshotLine> | AsyncIterable<SnapshotLine>, chunk = 10_000): Promise<number> {
  return inTransaction(pool, async (tx) => {
    const { rows } = await tx.query<{ id: string }>(
      `insert into carelane.warehouse_snapshots (snapshot_key, odoo_connection, location_id, taken_at, message_id) values ($1, $2, $3, $4, $5)
       on conflict (snapshot_key) do update set taken_at = carelane.warehouse_snapshots.taken_at returning id`,
      [snapshot.snapshotKey, snapshot.odooConnection, snapshot.locationId, snapshot.takenAt, snapshot.messageId ?? null],
    );
    const id = Number(rows[0]!.id);
    await tx.query('delete from carelane.warehouse_snapshot_lines where snapshot_id = $1', [id]);
    let batch: SnapshotLine[] = [];
    let count = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      await tx.query(
        `insert into carelane.warehouse_snapshot_lines (snapshot_id, location_id, product_id, lot_name, quantity)
         select $1, l, p, n, sum(q) from unnest($2::int[], $3::int[], $4::text[], $5::numeric[]) as t(l, p, n, q) group by l, p, n
         on conflict (snapshot_id, location_id, product_id, lot_name) do update set quantity = carelane.warehouse_snapshot_lines.quantity + excluded.quantity`,
        [id, batch.map((l) => l.locationId), batch.map((l) => l.productId), batch.map((l) => l.lotName ?? ''), batch.map((l) => l.quantity)],
      );
      count += batch.length;
      batch = [];
    };
    for await (const line of lines) {
      batch.push(line);
      if (batch.length >= chunk) await flush();
    }
    await flush();
    await tx.query('update carelane.warehouse_snapshots set lines = (select count(*) from carelane.warehouse_snapshot_lines where snapshot_id = $1) where id = $1', [id]);
    return id;
  });
}

/**
 * The lines of an 846: per item, its on-hand quantity (QTY01 '17' quantity on hand, else '33' available) at the
 * snapshot's location, per lot when lots are given with quantities. Items whose product cannot be resolved are
 * returned apart so the caller can report them as a mapping_failure instead of reading them as zero stock.
 */
export function snapshotLinesFromAdvice(advice: InventoryAdvice, locationId: number, productIdOf: (item: InventoryAdvice['items'][number]) => number | undefined): { lines: SnapshotLine[]; unresolved: InventoryAdvice['items'] } {
  const lines: SnapshotLine[] = [];
  const unresolved: InventoryAdvice['items'] = [];
  for (const item of advice.items) {
    const productId = productIdOf(item);
    if (productId === undefined) {
      unresolved.push(item);
      continue;
    }
    const quantity = item.quantities.find((q) => q.qualifier === '17') ?? item.quantities.find((q) => q.qualifier === '33');
    const withQuantities = item.lots.filter((lot) => lot.quantity !== undefined);
    if (withQuantities.length > 0) for (const lot of withQuantities) lines.push({ locationId, productId, lotName: lot.lot, quantity: lot.quantity! });
    else lines.push({ locationId, productId, lotName: item.lots.length === 1 ? item.lots[0]!.lot : '', quantity: quantity?.quantity ?? 0 });
  }
  return { lines, unresolved };
}

export interface ReconcileOptions {
  odooConnection: string;
  snapshotId: number;
  pageSize: number;
  /** a difference at or below this is not a mismatch */
  tolerance: number;
  /** differences listed in each exception */
  sampleLines: number;
  /** called after each page (benchmarks sample memory here) */
  onPage?: (quantsRead: number) => void;
}

export interface ReconcileResult {
  runId: number;
  quantsRead: number;
  snapshotLines: number;
  mismatches: number;
  exceptionIds: number[];
}

/** Reads every quant under the snapshot's location, page by page, and compares. */
export async function reconcileStock(pool: pg.Pool, client: OdooClient, options: ReconcileOptions): Promise<ReconcileResult> {
  const { rows: snapshots } = await pool.query<{ location_id: number; lines: number }>('select location_id, lines from carelane.warehouse_snapshots where id = $1', [options.snapshotId]);
  const snapshot = snapshots[0];
  if (!snapshot) throw new Error(`warehouse snapshot ${options.snapshotId} does not exist`);
  const { rows: runs } = await pool.query<{ id: string }>('insert into carelane.stock_reconciliations (odoo_connection, snapshot_id, snapshot_lines) values ($1, $2, $3) returning id', [options.odooConnection, options.snapshotId, snapshot.lines]);
  const runId = Number(runs[0]!.id);
  let quantsRead = 0;
  try {
    let lastId = 0;
    for (;;) {
      const page = await client.searchRead('stock.quant', [['location_id', 'child_of', snapshot.location_id], ['id', '>', lastId]], { fields: ['product_id', 'location_id', 'lot_id', 'quantity'], order: 'id', limit: options.pageSize });
      if (page.length === 0) break;
      const lotIds = [...new Set(page.map((q) => many2oneId(q.lot_id)).filter((id): id is number => id !== undefined))];
      // A lot's display name in the many2one is its name (stock.lot _rec_name), so no extra read is needed; the
      // read is kept for servers whose display_name adds the product (Odoo ≥ 17 shows "LOT (product)") [K].
      const lotNames = new Map<number, string>(lotIds.length ? (await client.read('stock.lot', lotIds, ['name'])).map((lot) => [lot.id, String(lot.name)]) : []);
      await pool.query(
        `insert into carelane.reconciliation_quants (run_id, location_id, product_id, lot_name, quantity)
         select $1, l, p, n, q from unnest($2::int[], $3::int[], $4::text[], $5::numeric[]) as t(l, p, n, q)`,
        [runId, page.map((q) => many2oneId(q.location_id) ?? 0), page.map((q) => many2oneId(q.product_id) ?? 0), page.map((q) => lotNames.get(many2oneId(q.lot_id) ?? -1) ?? ''), page.map((q) => Number(q.quantity ?? 0))],
      );
      quantsRead += page.length;
      lastId = page.at(-1)!.id;
      options.onPage?.(quantsRead);
      if (page.length < options.pageSize) break;
    }
    return await inTransaction(pool, async (tx) => {
      const { rowCount } = await tx.query(
        `insert into carelane.stock_mismatches (run_id, location_id, product_id, lot_name, odoo_quantity, warehouse_quantity)
         select $1, coalesce(o.location_id, w.location_id), coalesce(o.product_id, w.product_id), coalesce(o.lot_name, w.lot_name), coalesce(o.quantity, 0), coalesce(w.quantity, 0)
         from (select location_id, product_id, lot_name, sum(quantity) as quantity from carelane.reconciliation_quants where run_id = $1 group by 1, 2, 3) o
         full join (select location_id, product_id, lot_name, quantity from carelane.warehouse_snapshot_lines where snapshot_id = $2) w
           on w.location_id = o.location_id and w.product_id = o.product_id and w.lot_name = o.lot_name
         where abs(coalesce(o.quantity, 0) - coalesce(w.quantity, 0)) > $3`,
        [runId, options.snapshotId, options.tolerance],
      );
      const exceptionIds = await raiseMismatches(tx, runId, options);
      await tx.query('delete from carelane.reconciliation_quants where run_id = $1', [runId]);
      await tx.query('update carelane.stock_reconciliations set finished_at = now(), quants_read = $2, mismatches = $3, summary = $4::jsonb where id = $1', [runId, quantsRead, rowCount ?? 0, JSON.stringify({ exceptionIds })]);
      return { runId, quantsRead, snapshotLines: snapshot.lines, mismatches: rowCount ?? 0, exceptionIds };
    });
  } catch (error) {
    await pool.query('delete from carelane.reconciliation_quants where run_id = $1', [runId]).catch(() => {});
    throw error;
  }
}

/** One open stock_mismatch per location and run: counts, the total difference and a sample, not one per quant. */
async function raiseMismatches(tx: pg.PoolClient, runId: number, options: ReconcileOptions): Promise<number[]> {
  const { rows } = await tx.query<{ id: string }>(
    `insert into carelane.exceptions (type, classification, status, correlation_id, reason, detail)
     select 'stock_mismatch', 'business', 'open', 'reconciliation:' || $1::bigint,
            format('location %s: %s difference(s) between Odoo and the warehouse snapshot (net %s units)', location_id, count(*), sum(warehouse_quantity - odoo_quantity)),
            jsonb_build_object('runId', $1::bigint, 'odooConnection', $2::text, 'snapshotId', $3::bigint, 'locationId', location_id, 'mismatches', count(*),
                               'netDifference', sum(warehouse_quantity - odoo_quantity), 'absoluteDifference', sum(abs(warehouse_quantity - odoo_quantity)),
                               'sample', to_jsonb((array_agg(jsonb_build_object('productId', product_id, 'lot', lot_name, 'odoo', odoo_quantity, 'warehouse', warehouse_quantity)
                                          order by abs(warehouse_quantity - odoo_quantity) desc, product_id, lot_name))[1:$4::int]))
     from carelane.stock_mismatches where run_id = $1::bigint group by location_id order by location_id
     returning id`,
    [runId, options.odooConnection, options.snapshotId, options.sampleLines],
  );
  return rows.map((r) => Number(r.id));
}
