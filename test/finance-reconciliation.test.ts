import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { pino } from 'pino';
import { OdooClient, odooConnections } from '../src/connectors/odoo/index.ts';
import { migrate } from '../src/store/migrate.ts';
import { parseConfigText } from '../src/config/index.ts';
import { recordSnapshot, reconcileStock, snapshotLinesFromAdvice, type SnapshotLine } from '../src/flows/finance/reconcile-stock.ts';
import { reconcileLatestSnapshots, stockReconciliationJob } from '../src/flows/finance/scheduled.ts';
import { resolveException, ResolutionRefusedError } from '../src/engine/exceptions.ts';
import { OwnershipRules } from '../src/governance/ownership.ts';
import { startOdooSimulator, type OdooSimulator } from '../simulators/odoo/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { freePort } from './support/free-port.ts';

// Inventory reconciliation against the Odoo simulator: 2,000 quants over two shelves read in pages, a warehouse
// snapshot with injected drift (changed counts, a lot Odoo lacks, a quant the warehouse lacks) → stock_mismatch
// exceptions aggregated per location, every difference listed; adjust_stock refused while Odoo owns stock.

let db: TestDatabase;
let odoo: OdooSimulator;
let client: OdooClient;
const QUANTS = 2000;
let productIds: number[] = [];
let lotIds: number[] = [];

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 4);
  await migrate(db.pool);
  odoo = await startOdooSimulator({ version: 17, databaseUrl: db.url, schema: 'odoo_finance_reconcile', reset: true });
  client = await OdooClient.connect({ url: odoo.url, database: odoo.database, login: 'admin', apiKey: 'sim-admin-api-key', transport: 'jsonrpc' });
  productIds = await odoo.seedRecords('product.product', Array.from({ length: 1000 }, (_, i) => ({ name: `Item ${i}`, default_code: `ITEM-${i}`, tracking: 'lot', active: true })));
  lotIds = await odoo.seedRecords('stock.lot', productIds.map((productId, i) => ({ name: `LOT-${i}`, product_id: productId, company_id: 1 })));
  // Quant i: product i % 1000 on shelf (i < 1000) or the stock location itself (i >= 1000), lot of that product, quantity 1 + i % 7.
  await odoo.seedRecords('stock.quant', Array.from({ length: QUANTS }, (_, i) => ({ product_id: productIds[i % 1000]!, location_id: i < 1000 ? odoo.seeded.shelfLocationId : odoo.seeded.stockLocationId, lot_id: lotIds[i % 1000]!, quantity: 1 + (i % 7), reserved_quantity: 0 })));
}, 60_000);

afterAll(async () => {
  await odoo?.close();
  await db?.drop();
});

/** The warehouse's view: what Odoo has, with drift injected. */
function* warehouseLines(): Generator<SnapshotLine> {
  for (let i = 0; i < QUANTS; i++) {
    const locationId = i < 1000 ? odoo.seeded.shelfLocationId : odoo.seeded.stockLocationId;
    if (i === 1500) continue; // Odoo has it, the warehouse does not
    const drift = i === 10 ? -2 : i === 20 ? 5 : i === 1200 ? 1 : 0;
    yield { locationId, productId: productIds[i % 1000]!, lotName: `LOT-${i % 1000}`, quantity: 1 + (i % 7) + drift };
  }
  yield { locationId: odoo.seeded.shelfLocationId, productId: productIds[0]!, lotName: 'LOT-UNKNOWN', quantity: 3 }; // the warehouse has a lot Odoo lacks
}

describe('inventory reconciliation', () => {
  it('reports injected drift as one stock_mismatch per location, listing every difference', async () => {
    const snapshotId = await recordSnapshot(db.pool, { snapshotKey: '846:wh:R-1', odooConnection: 'odoo-main', locationId: odoo.seeded.stockLocationId, takenAt: new Date() }, warehouseLines(), 500);
    const calls = odoo.callCount();
    const result = await reconcileStock(db.pool, client, { odooConnection: 'odoo-main', snapshotId, pageSize: 300, tolerance: 0, sampleLines: 3 });
    expect(result).toMatchObject({ quantsRead: QUANTS, snapshotLines: QUANTS, mismatches: 5 });
    // Paged: 7 pages of quants (2,000 / 300) and one lot read per page, nothing per quant.
    expect(odoo.callCount() - calls).toBe(14);
    const { rows: mismatches } = await db.pool.query<{ location_id: number; lot_name: string; odoo_quantity: string; warehouse_quantity: string }>('select location_id, lot_name, odoo_quantity, warehouse_quantity from carelane.stock_mismatches where run_id = $1 order by location_id, lot_name', [result.runId]);
    expect(mismatches.map((m) => [m.lot_name, Number(m.odoo_quantity), Number(m.warehouse_quantity)])).toEqual(
      expect.arrayContaining([['LOT-10', 4, 2], ['LOT-20', 7, 12], ['LOT-UNKNOWN', 0, 3], ['LOT-200', 4, 5], ['LOT-500', 3, 0]]),
    );
    const { rows: exceptions } = await db.pool.query<{ id: string; type: string; detail: { locationId: number; mismatches: number; sample: unknown[]; netDifference: number } }>(
      'select id, type, detail from carelane.exceptions where id = any($1::bigint[]) order by id',
      [result.exceptionIds],
    );
    expect(exceptions.map((e) => e.type)).toEqual(['stock_mismatch', 'stock_mismatch']);
    const shelf = exceptions.find((e) => e.detail.locationId === odoo.seeded.shelfLocationId)!;
    expect(shelf.detail).toMatchObject({ mismatches: 3, netDifference: 6 });
    expect(shelf.detail.sample).toHaveLength(3);
    expect(exceptions.find((e) => e.detail.locationId === odoo.seeded.stockLocationId)!.detail).toMatchObject({ mismatches: 2, netDifference: -2 });
    const { rows: scratch } = await db.pool.query('select 1 from carelane.reconciliation_quants where run_id = $1', [result.runId]);
    expect(scratch).toHaveLength(0);

    // Odoo owns stock quantities by default: adjust_stock is refused and the exception stays open.
    const ownership = new OwnershipRules({ domains: { items: 'odoo', vendors: 'odoo', locations: 'odoo' }, fields: {} });
    await expect(resolveException(db.pool, Number(shelf.id), { action: 'adjust_stock', actor: 'test', note: 'apply the count' }, { ownership })).rejects.toBeInstanceOf(ResolutionRefusedError);
    const { rows: still } = await db.pool.query<{ status: string }>('select status from carelane.exceptions where id = $1', [shelf.id]);
    expect(still[0]!.status).toBe('open');
  });

  it('reconciles the reachable connection on schedule when another is unreachable, and names the one that failed', async () => {
    // 'odoo-down' (nothing listens on its port) sorts before 'odoo-main', so it is met first in the round.
    const closedPort = await freePort();
    const clientFor = odooConnections({
      'odoo-down': { url: `http://127.0.0.1:${closedPort}`, database: 'carelane', login: 'admin', apiKey: 'unused', transport: 'jsonrpc', timeoutMs: 2000 },
      'odoo-main': { url: odoo.url, database: odoo.database, login: 'admin', apiKey: 'sim-admin-api-key', transport: 'jsonrpc' },
    });
    const { flows } = parseConfigText('flows: { reconciliation: { pageSize: 400, sampleLines: 3 } }\n', { DATABASE_URL: db.url });
    const down = await recordSnapshot(db.pool, { snapshotKey: '846:wh-down:R-2', odooConnection: 'odoo-down', locationId: 77, takenAt: new Date() }, [{ locationId: 77, productId: 1, quantity: 3 }]);
    const shelf = [...warehouseLines()].filter((l) => l.locationId === odoo.seeded.shelfLocationId);
    const main = await recordSnapshot(db.pool, { snapshotKey: '846:wh:R-2', odooConnection: 'odoo-main', locationId: odoo.seeded.shelfLocationId, takenAt: new Date() }, shelf);
    const logged: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) });

    const round = await reconcileLatestSnapshots(db.pool, clientFor, flows, log);
    // odoo-main's shelf is compared in full (the first test's snapshot of its stock location is already done)
    expect(round.reconciled).toEqual([expect.objectContaining({ quantsRead: 1000, snapshotLines: shelf.length, mismatches: 3 })]);
    const { rows: runs } = await db.pool.query<{ odoo_connection: string; finished: boolean }>('select odoo_connection, finished_at is not null as finished from carelane.stock_reconciliations where snapshot_id = $1', [main]);
    expect(runs).toEqual([{ odoo_connection: 'odoo-main', finished: true }]);
    expect(round.failed).toEqual([{ odooConnection: 'odoo-down', snapshotId: down, locationId: 77, error: expect.stringMatching(/unreachable.*ECONNREFUSED/) }]);
    expect(logged.find((l) => l.level === 40)).toMatchObject({ odooConnection: 'odoo-down', snapshotId: down, locationId: 77, msg: expect.stringMatching(/failed/) });

    // the job: the next round retries only the failed snapshot, and its error (job_runs.error) names it
    const job = stockReconciliationJob(db.pool, clientFor, flows, log, '30 2 * * *');
    await expect(job.run()).rejects.toThrow(/1 warehouse snapshot\(s\) not reconciled, 0 reconciled; failed: odoo-down \(snapshot \d+, location 77\): .*unreachable/);
    const { rows: finished } = await db.pool.query<{ n: number }>('select count(*)::int as n from carelane.stock_reconciliations where snapshot_id = $1 and finished_at is not null', [down]);
    expect(finished[0]!.n).toBe(0);
  });

  it('does not call an unreachable connection again for its other locations in the same round', async () => {
    // An Odoo that drops every connection: each location would cost a connect attempt (up to timeoutMs each).
    let connections = 0;
    const dropping = net.createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => dropping.listen(0, '127.0.0.1', resolve));
    try {
      const port = (dropping.address() as net.AddressInfo).port;
      const clientFor = odooConnections({ 'odoo-drops': { url: `http://127.0.0.1:${port}`, database: 'carelane', login: 'admin', apiKey: 'unused', transport: 'jsonrpc', timeoutMs: 2000 } });
      const { flows } = parseConfigText('{}\n', { DATABASE_URL: db.url });
      for (const locationId of [81, 82]) {
        await recordSnapshot(db.pool, { snapshotKey: `846:wh-drops:${locationId}`, odooConnection: 'odoo-drops', locationId, takenAt: new Date() }, [{ locationId, productId: 1, quantity: 3 }]);
      }
      const round = await reconcileLatestSnapshots(db.pool, clientFor, flows, pino({ level: 'silent' }));
      const failed = round.failed.filter((f) => f.odooConnection === 'odoo-drops');
      expect(failed.map((f) => f.locationId)).toEqual([81, 82]);
      expect(failed[1]!.error).toBe(failed[0]!.error);
      expect(connections).toBe(1);
    } finally {
      await new Promise((resolve) => dropping.close(resolve));
    }
  });

  it('reads an 846 into snapshot lines, keeping unresolved items apart', () => {
    const advice = {
      reportId: 'R-9',
      reportDate: '2026-12-01',
      reportType: 'MM',
      items: [
        { product: { gtin: '00614141000012', all: [] }, quantities: [{ qualifier: '17', quantity: 40 }], lots: [{ lot: 'L1' }] },
        { product: { gtin: '00614141000029', all: [] }, quantities: [{ qualifier: '33', quantity: 5 }], lots: [{ lot: 'A', quantity: 2 }, { lot: 'B', quantity: 3 }] },
        { product: { gtin: '09999999999999', all: [] }, quantities: [{ qualifier: '17', quantity: 1 }], lots: [] },
      ],
    };
    const byGtin = new Map([['00614141000012', 7], ['00614141000029', 8]]);
    const { lines, unresolved } = snapshotLinesFromAdvice(advice, 42, (item) => byGtin.get(item.product.gtin ?? ''));
    expect(lines).toEqual([
      { locationId: 42, productId: 7, lotName: 'L1', quantity: 40 },
      { locationId: 42, productId: 8, lotName: 'A', quantity: 2 },
      { locationId: 42, productId: 8, lotName: 'B', quantity: 3 },
    ]);
    expect(unresolved).toHaveLength(1);
  });
});
