import type pg from 'pg';
import { StockGateway, type OdooClientFor } from '../../connectors/odoo/index.ts';
import type { FlowsConfig } from '../../config/schema.ts';
import type { Logger } from '../../observability/logger.ts';
import { reconcileStock, type ReconcileResult } from './reconcile-stock.ts';

/**
 * The scheduled side of reconciliation (flows.reconciliation.cron): the newest warehouse snapshot of each Odoo
 * connection and location that no run has compared yet is reconciled once.
 */
export async function reconcileLatestSnapshots(pool: pg.Pool, clientFor: OdooClientFor, flows: FlowsConfig, log: Logger): Promise<ReconcileResult[]> {
  const { rows } = await pool.query<{ id: string; odoo_connection: string }>(
    `select distinct on (odoo_connection, location_id) id, odoo_connection from carelane.warehouse_snapshots s
     order by odoo_connection, location_id, taken_at desc`,
  );
  const results: ReconcileResult[] = [];
  for (const snapshot of rows) {
    const { rows: done } = await pool.query('select 1 from carelane.stock_reconciliations where snapshot_id = $1 and finished_at is not null limit 1', [snapshot.id]);
    if (done.length > 0) continue;
    const { pageSize, tolerance, sampleLines } = flows.reconciliation;
    const result = await reconcileStock(pool, await clientFor(snapshot.odoo_connection), { odooConnection: snapshot.odoo_connection, snapshotId: Number(snapshot.id), pageSize, tolerance, sampleLines });
    log.info({ runId: result.runId, quants: result.quantsRead, mismatches: result.mismatches }, 'stock reconciled against the warehouse snapshot');
    results.push(result);
  }
  return results;
}

/**
 * On-hand stock of some products in a site's storeroom (location crosswalk), from Odoo's quants: for the stockout
 * KPI. Rejects when Odoo cannot be read, naming the connection, so the KPI reports the site's stock as unknown
 * instead of taking it as zero.
 */
export async function siteOnHand(pool: pg.Pool, clientFor: OdooClientFor, site: string, productIds: number[]): Promise<Map<number, number>> {
  const { rows } = await pool.query<{ odoo_connection: string; storeroom_location_id: number }>(
    'select odoo_connection, storeroom_location_id from carelane.location_crosswalk where site = $1 and valid_to is null order by id limit 1',
    [site],
  );
  const place = rows[0];
  const onHand = new Map<number, number>();
  if (!place || productIds.length === 0) return onHand;
  let balances;
  try {
    balances = await new StockGateway(await clientFor(place.odoo_connection)).balances(place.storeroom_location_id, productIds);
  } catch (error) {
    throw new Error(`stock could not be read from Odoo connection "${place.odoo_connection}": ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  for (const balance of balances) onHand.set(balance.productId, (onHand.get(balance.productId) ?? 0) + balance.quantity);
  return onHand;
}
