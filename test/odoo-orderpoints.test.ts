import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OdooClient, OrderpointGateway, ProductGateway, TransferGateway, orderQuantity, type OdooTransportName, type OdooVersion } from '../src/connectors/odoo/index.ts';
import { startOdooSimulator, type OdooSimulator } from '../simulators/odoo/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

// Reorder rules (stock.warehouse.orderpoint) on every version: qty_multiple ≤18, replenishment_uom_id on 19,
// qty_to_order_manual on 18+ (reference/odoo.md §2.7).
const combos: Array<{ version: OdooVersion; transport: OdooTransportName }> = [
  { version: 16, transport: 'jsonrpc' },
  { version: 17, transport: 'xmlrpc' },
  { version: 18, transport: 'jsonrpc' },
  { version: 19, transport: 'json2' },
];

let db: TestDatabase;
const simulators = new Map<OdooVersion, OdooSimulator>();

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 4);
  for (const { version } of combos) simulators.set(version, await startOdooSimulator({ version, databaseUrl: db.url, schema: `odoo_orderpoints_v${version}`, reset: true }));
});

afterAll(async () => {
  for (const sim of simulators.values()) await sim.close();
  await db.drop();
});

describe('orderQuantity (Odoo _compute_qty_to_order)', () => {
  it('orders up to max only when the forecast is strictly below min, rounded up to the multiple', () => {
    expect(orderQuantity(2, 10, 25, 6)).toBe(24); // 23 → next multiple of 6
    expect(orderQuantity(2, 10, 25, 1)).toBe(23);
    expect(orderQuantity(2, 10, 25, 0)).toBe(23); // 0 = exact quantity
    expect(orderQuantity(10, 10, 25, 1)).toBe(0); // equal to min: nothing (float_compare < 0)
    expect(orderQuantity(-4, 5, 0, 0)).toBe(9); // max below min: up to min
    expect(orderQuantity(1, 5, 5, 2.5)).toBe(5);
  });
});

describe.each(combos)('reorder rules on Odoo $version over $transport', ({ version, transport }) => {
  it('lists the rules below minimum for several locations in one search_read, with what to order', async () => {
    const sim = simulators.get(version)!;
    const client = await OdooClient.connect({ url: sim.url, database: sim.database, login: 'admin', apiKey: 'sim-admin-api-key', transport, timeoutMs: 3000 });
    const { stockLocationId, shelfLocationId, wardLocationId, warehouseId, internalPickingTypeId } = sim.seeded;
    const ids = await new ProductGateway(client).ensure([
      { key: 'op:gloves', defaultCode: 'OP-GLOVES', name: 'Gloves' },
      { key: 'op:masks', defaultCode: 'OP-MASKS', name: 'Masks' },
    ]);
    const gloves = ids.get('op:gloves')!.id;
    const masks = ids.get('op:masks')!.id;
    await sim.seedQuant({ productId: gloves, locationId: shelfLocationId, quantity: 3 });
    await sim.seedQuant({ productId: masks, locationId: stockLocationId, quantity: 50 });
    // An internal transfer of 1 glove Stock → Ward: outgoing for Stock, incoming for the ward (virtual_available).
    await new TransferGateway(client).reserve({ key: 'op:transfer', pickingTypeId: internalPickingTypeId, sourceLocationId: stockLocationId, destinationLocationId: wardLocationId, lines: [{ productId: gloves, quantity: 1 }] });

    const [packOfSix] = version >= 19 ? await client.create('uom.uom', [{ name: 'Pack of 6', relative_factor: 6 }]) : [undefined];
    const rules = new OrderpointGateway(client);
    const byGlovesInStock = version >= 19 ? { replenishmentUomId: packOfSix! } : { multiple: 6 };
    const items = [
      { key: 'rule:gloves:stock', productId: gloves, locationId: stockLocationId, warehouseId, min: 10, max: 25, ...byGlovesInStock },
      { key: 'rule:masks:stock', productId: masks, locationId: stockLocationId, warehouseId, min: 10, max: 20 },
      { key: 'rule:gloves:ward', productId: gloves, locationId: wardLocationId, warehouseId, min: 5, max: 5 },
    ];
    const created = await rules.ensure(items);
    expect([...created.values()].every((r) => r.created)).toBe(true);
    const again = await rules.ensure(items);
    expect([...again.values()].map((r) => [r.id, r.created])).toEqual([...created.values()].map((r) => [r.id, false]));

    const before = sim.callCount();
    const below = await rules.belowMinimum([stockLocationId, wardLocationId]);
    // One search_read for all rules (19: plus one read of the replenishment units).
    expect(sim.callCount() - before).toBe(version >= 19 ? 2 : 1);
    const byKey = (productId: number, locationId: number) => below.find((r) => r.productId === productId && r.locationId === locationId);
    // Stock: 3 on the shelf (child location) − 1 outgoing = 2; up to 25 → 23, rounded up to 6 → 24.
    expect(byKey(gloves, stockLocationId)).toMatchObject({ forecast: 2, onHand: 3, min: 10, max: 25, multiple: 6, toOrder: 24, manual: false });
    // Ward: nothing on hand, 1 incoming → forecast 1; up to 5 → 4 (multiple 1 by default ≤18, none on 19).
    expect(byKey(gloves, wardLocationId)).toMatchObject({ forecast: 1, onHand: 0, toOrder: 4, multiple: version >= 19 ? 0 : 1 });
    // Masks have 50 ≥ 10: not below minimum.
    expect(byKey(masks, stockLocationId)).toBeUndefined();
    expect(below).toHaveLength(2);

    // The gateway's quantity is the one Odoo itself computes (qty_to_order).
    const raw = await sim.records('stock.warehouse.orderpoint', ['product_id', 'location_id', 'qty_to_order', 'qty_forecast']);
    for (const rule of below) expect(raw.find((r) => r.id === rule.orderpointId)).toMatchObject({ qty_to_order: rule.toOrder, qty_forecast: rule.forecast });
    // The version's own fields: qty_multiple ≤18, refused on 19.
    if (version >= 19) await expect(client.write('stock.warehouse.orderpoint', [created.get('rule:masks:stock')!.id], { qty_multiple: 2 })).rejects.toMatchObject({ failureClass: 'permanent' });
    // qty_forecast is computed, not stored: Odoo refuses it in a domain.
    await expect(client.search('stock.warehouse.orderpoint', [['qty_forecast', '<', 0]])).rejects.toMatchObject({ failureClass: 'permanent' });
    // A second rule for the same product and location breaks product_location_check.
    await expect(client.create('stock.warehouse.orderpoint', [{ product_id: masks, location_id: stockLocationId, warehouse_id: warehouseId, product_min_qty: 1, product_max_qty: 2 }])).rejects.toMatchObject({ failureClass: 'business' });

    if (version >= 18) {
      // 18+: a quantity typed in Odoo (qty_to_order_manual) wins over the rule.
      await client.write('stock.warehouse.orderpoint', [created.get('rule:gloves:ward')!.id], { qty_to_order_manual: 30 });
      const ward = (await rules.belowMinimum([wardLocationId]))[0]!;
      expect(ward).toMatchObject({ toOrder: 30, manual: true });
    }
  });
});
