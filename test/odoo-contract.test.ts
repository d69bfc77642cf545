import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { OdooClient, ProductGateway, StockGateway, TransferGateway, pollChanges, type OdooTransportName, type OdooVersion } from '../src/connectors/odoo/index.ts';
import { startOdooSimulator, type OdooSimulator } from '../simulators/odoo/index.ts';
import { createTestDatabase, databaseTargets, type TestDatabase } from './support/databases.ts';

// Contract tests: the connector against the Odoo simulator, for every version and every transport it offers
// (JSON-2 on 19 only; JSON-RPC and XML-RPC on 16–19, reference/odoo.md §1.5).
const combos: Array<{ version: OdooVersion; transport: OdooTransportName }> = [
  { version: 16, transport: 'jsonrpc' },
  { version: 16, transport: 'xmlrpc' },
  { version: 17, transport: 'jsonrpc' },
  { version: 17, transport: 'xmlrpc' },
  { version: 18, transport: 'jsonrpc' },
  { version: 18, transport: 'xmlrpc' },
  { version: 19, transport: 'json2' },
  { version: 19, transport: 'jsonrpc' },
  { version: 19, transport: 'xmlrpc' },
];

// Both PostgreSQL servers of the run (embedded, and the system one when present): the simulator keeps its whole
// state in PostgreSQL, so the contract must hold on either (test/support/databases.ts).
describe.each(databaseTargets())('Odoo simulator state on $name PostgreSQL', (target) => {
  let db: TestDatabase;
  const simulators = new Map<OdooVersion, OdooSimulator>();

  beforeAll(async () => {
    db = await createTestDatabase(target, 4);
    for (const version of [16, 17, 18, 19] as const) {
      simulators.set(version, await startOdooSimulator({ version, databaseUrl: db.url, schema: `odoo_sim_v${version}`, reset: true }));
    }
  });

  afterAll(async () => {
    for (const sim of simulators.values()) await sim.close();
    await db?.drop();
  });

  const connect = (sim: OdooSimulator, transport: OdooTransportName, registry?: Registry) =>
    OdooClient.connect({ url: sim.url, database: sim.database, login: 'admin', apiKey: 'sim-admin-api-key', transport, timeoutMs: 2000 }, registry ? { registry } : {});

  describe.each(combos)('Odoo $version over $transport', ({ version, transport }) => {
    const prefix = `${transport}-${version}`;

    it('detects the version and creates storable products with the version’s field names, once', async () => {
      const sim = simulators.get(version)!;
      const client = await connect(sim, transport);
      expect(client.version).toBe(version);
      const products = new ProductGateway(client);
      const items = [
        { key: `item:${prefix}:gauze`, defaultCode: `${prefix}-GAUZE`, name: 'Gauze 10x10', barcode: `${prefix}-0001` },
        { key: `item:${prefix}:stent`, defaultCode: `${prefix}-STENT`, name: 'Coronary stent', tracking: 'lot' as const },
      ];
      const first = await products.ensure(items);
      expect([...first.values()].every((r) => r.created)).toBe(true);
      const again = await products.ensure(items);
      expect([...again.values()].map((r) => r.id)).toEqual([...first.values()].map((r) => r.id));
      expect([...again.values()].every((r) => !r.created)).toBe(true);

      const found = await products.findByCodes([`${prefix}-GAUZE`, `${prefix}-STENT`]);
      expect(found).toHaveLength(2);
      expect(found.every((p) => p.storable)).toBe(true);
      expect(found.find((p) => p.defaultCode === `${prefix}-STENT`)?.tracking).toBe('lot');
      // The stored record uses the version's own fields: detailed_type ≤17, type+is_storable ≥18 (§2.1).
      const raw = (await sim.records('product.product')).find((r) => r.default_code === `${prefix}-GAUZE`)!;
      if (version >= 18) expect(raw).toMatchObject({ type: 'consu', is_storable: true });
      else expect(raw).toMatchObject({ detailed_type: 'product', type: 'product' });
      // Each product is bound to an external id carelane.<sanitised key> (DESIGN.md principle 2).
      const xmlids = (await sim.records('ir.model.data')).filter((r) => r.model === 'product.product' && r.module === 'carelane');
      for (const { id } of first.values()) expect(xmlids.filter((r) => r.res_id === id)).toHaveLength(1);
    });

    it('creates lots with expiry, reads quants, and reserves an internal transfer FEFO, idempotently', async () => {
      const sim = simulators.get(version)!;
      const registry = new Registry();
      const client = await connect(sim, transport, registry);
      const products = new ProductGateway(client);
      const stock = new StockGateway(client);
      const transfers = new TransferGateway(client);
      const ids = await products.ensure([{ key: `item:${prefix}:syringe`, defaultCode: `${prefix}-SYR`, name: 'Syringe 5ml', tracking: 'lot' }]);
      const productId = ids.get(`item:${prefix}:syringe`)!.id;
      const lots = await stock.ensureLots([
        { key: `lot:${prefix}:late`, name: 'L-LATE', productId, expirationDate: '2031-01-01 00:00:00' },
        { key: `lot:${prefix}:soon`, name: 'L-SOON', productId, expirationDate: '2030-01-01 00:00:00' },
      ]);
      const soonLot = lots.get(`lot:${prefix}:soon`)!.id;
      expect((await stock.lots([productId])).map((l) => [l.name, l.expirationDate])).toEqual([
        ['L-LATE', '2031-01-01 00:00:00'],
        ['L-SOON', '2030-01-01 00:00:00'],
      ]);
      const { shelfLocationId, stockLocationId, wardLocationId, internalPickingTypeId } = sim.seeded;
      await sim.seedQuant({ productId, locationId: shelfLocationId, lotId: lots.get(`lot:${prefix}:late`)!.id, quantity: 10 });
      await sim.seedQuant({ productId, locationId: shelfLocationId, lotId: soonLot, quantity: 4 });

      expect(await stock.warehouses()).toEqual([{ id: sim.seeded.warehouseId, name: 'Main Warehouse', code: 'WH', stockLocationId }]);
      expect((await stock.internalLocations()).map((l) => l.id)).toEqual(expect.arrayContaining([stockLocationId, shelfLocationId, wardLocationId]));

      // child_of: the shelf's quants count under WH/Stock (§2.4).
      const before = await stock.balances(stockLocationId, [productId]);
      expect(before.reduce((s, b) => s + b.quantity, 0)).toBe(14);

      const request = { key: `demand:${prefix}:1`, pickingTypeId: internalPickingTypeId, sourceLocationId: stockLocationId, destinationLocationId: wardLocationId, lines: [{ productId, quantity: 6 }] };
      const outcome = await transfers.reserve(request);
      expect(outcome).toMatchObject({ created: true, state: 'assigned' });
      const after = await stock.balances(stockLocationId, [productId]);
      // FEFO: all 4 of the lot expiring first, then 2 of the later one.
      expect(after.find((b) => b.lotId === soonLot)).toMatchObject({ reservedQuantity: 4, available: 0 });
      expect(after.reduce((s, b) => s + b.reservedQuantity, 0)).toBe(6);
      expect((await transfers.reservedByProduct(outcome.pickingId)).get(productId)).toBe(6);

      // A replay converges on the same picking and reserves nothing more.
      const replay = await transfers.reserve(request);
      expect(replay).toMatchObject({ pickingId: outcome.pickingId, created: false, state: 'assigned' });
      expect((await stock.balances(stockLocationId, [productId])).reduce((s, b) => s + b.reservedQuantity, 0)).toBe(6);
      const pickings = (await sim.records('stock.picking', ['origin'])).filter((p) => p.origin === request.key);
      expect(pickings).toHaveLength(1);
      // stock.move.name exists up to 18 only (§2.6).
      const moves = await sim.records('stock.move', version <= 18 ? ['name', 'picking_id'] : ['picking_id']);
      expect(moves.some((m) => Array.isArray(m.picking_id) && m.picking_id[0] === outcome.pickingId)).toBe(true);

      // Cancelling releases the reservation (do_unreserve answers None: over XML-RPC a fault after commit, §1.1).
      expect(await transfers.cancel(request.key)).toBe(true);
      expect(await transfers.state(outcome.pickingId)).toBe('cancel');
      expect((await stock.balances(stockLocationId, [productId])).reduce((s, b) => s + b.reservedQuantity, 0)).toBe(0);

      // Round trips are counted per transport/model/method, without record ids.
      const metric = await registry.getSingleMetricAsString('carelane_odoo_round_trips_total');
      expect(metric).toContain(`transport="${transport}",model="stock.picking",method="action_assign",outcome="ok"`);
      expect(metric).not.toMatch(/picking_id|demand:/);
    });

    it('polls changes with a write_date cursor that survives a restart', async () => {
      const sim = simulators.get(version)!;
      const client = await connect(sim, transport);
      const connection = `sim-${prefix}`;
      const seen: number[] = [];
      const poll = () => pollChanges(client, db.pool, { connection, model: 'product.product', fields: ['default_code'], batchSize: 500 }, async (records) => {
        seen.push(...records.map((r) => r.id));
      });
      const first = await poll();
      expect(first).toBeGreaterThan(0);
      expect(await poll()).toBe(0);
      await new ProductGateway(client).ensure([{ key: `item:${prefix}:new`, defaultCode: `${prefix}-NEW`, name: 'New item' }]);
      // A new client (a restarted process) resumes from the cursor stored in carelane.odoo_cursors.
      const restarted = await connect(sim, transport);
      const after: string[] = [];
      await pollChanges(restarted, db.pool, { connection, model: 'product.product', fields: ['default_code'] }, async (records) => {
        after.push(...records.map((r) => String(r.default_code)));
      });
      expect(after).toEqual([`${prefix}-NEW`]);
      expect(new Set(seen).size).toBe(seen.length);
    });
  });
});
