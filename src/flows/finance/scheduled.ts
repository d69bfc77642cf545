import type pg from 'pg';
import { StockGateway, type OdooClientFor } from '../../connectors/odoo/index.ts';
import type { FlowsConfig } from '../../config/schema.ts';
import { CarelaneError } from '../../contracts/errors.ts';
import type { Logger } from '../../observability/logger.ts';
import { reconcileStock, type ReconcileResult } from './reconcile-stock.ts';

/** A snapshot the scheduled round could not reconcile; it stays unreconciled, so the next round tries it again. */
export interface ReconcileFailure {
  odooConnection: string;
  snapshotId: number;
  locationId: number;
  error: string;
}

export interface ScheduledReconciliation {
  reconciled: ReconcileResult[];
  failed: ReconcileFailure[];
}

/**
 * The scheduled side of reconciliation (flows.reconciliation.cron): the newest warehouse snapshot of each Odoo
 * connection and location that no run has compared yet is reconciled once. A connection that fails does not
 * stop the round: every other connection is still reconciled, and the failures are returned (and logged).
 */
export async function reconcileLatestSnapshots(pool: pg.Pool, clientFor: OdooClientFor, flows: FlowsConfig, log: Logger): Promise<ScheduledReconciliation> {
  const { rows } = await pool.query<{ id: string; odoo_connection: string; location_id: number }>(
    `select distinct on (odoo_connection, location_id) id, odoo_connection, location_id from carelane.warehouse_snapshots s
     order by odoo_connection, location_id, taken_at desc`,
  );
  const reconciled: ReconcileResult[] = [];
  const failed: ReconcileFailure[] = [];
  // A connection found unreachable is not called again for its other locations this round: each call would
  // wait for the same refusal or timeout (up to timeoutMs per location) and delay the connections after it.
  const unreachable = new Map<string, string>();
  for (const snapshot of rows) {
    const { rows: done } = await pool.query('select 1 from carelane.stock_reconciliations where snapshot_id = $1 and finished_at is not null limit 1', [snapshot.id]);
    if (done.length > 0) continue;
    const where = { odooConnection: snapshot.odoo_connection, snapshotId: Number(snapshot.id), locationId: snapshot.location_id };
    const known = unreachable.get(snapshot.odoo_connection);
    if (known !== undefined) {
      failed.push({ ...where, error: known });
      continue;
    }
    const { pageSize, tolerance, sampleLines } = flows.reconciliation;
    try {
      const result = await reconcileStock(pool, await clientFor(snapshot.odoo_connection), { odooConnection: snapshot.odoo_connection, snapshotId: Number(snapshot.id), pageSize, tolerance, sampleLines });
      log.info({ runId: result.runId, quants: result.quantsRead, mismatches: result.mismatches }, 'stock reconciled against the warehouse snapshot');
      reconciled.push(result);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (error instanceof CarelaneError && error.peerUnavailable) unreachable.set(snapshot.odoo_connection, message);
      // Connection, snapshot and location ids and Odoo's error: stock data, no patient data.
      log.warn({ ...where, err: message }, 'stock reconciliation failed for this snapshot; the other connections are still reconciled');
      failed.push({ ...where, error: message });
    }
  }
  return { reconciled, failed };
}

/**
 * The stock-reconciliation scheduler job. A round with failures ends in an error naming each failed connection
 * and snapshot (the scheduler stores it in carelane.job_runs with outcome 'failed'), after the others were reconciled.
 */
export function stockReconciliationJob(pool: pg.Pool, clientFor: OdooClientFor, flows: FlowsConfig, log: Logger, cron: string): { name: string; cron: string; run(): Promise<void> } {
  return {
    name: 'stock-reconciliation',
    cron,
    async run() {
      const { reconciled, failed } = await reconcileLatestSnapshots(pool, clientFor, flows, log);
      if (failed.length === 0) return;
      const which = failed.map((f) => `${f.odooConnection} (snapshot ${f.snapshotId}, location ${f.locationId}): ${f.error}`).join('; ');
      throw new Error(`${failed.length} warehouse snapshot(s) not reconciled, ${reconciled.length} reconciled; failed: ${which}`);
    },
  };
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
