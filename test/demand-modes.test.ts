import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { parseConfigText } from '../src/config/index.ts';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { sendMllp } from '../src/connectors/hl7v2/index.ts';
import { OdooClient, OrderpointGateway, ProductGateway, VendorGateway } from '../src/connectors/odoo/index.ts';
import { applyMappings } from '../src/flows/master-data/mappings.ts';
import { startOdooSimulator, type OdooSimulator } from '../simulators/odoo/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { waitFor } from './support/engine-harness.ts';

// The flow modes of issue 6 (flows.<flow>.mode): direct (the reservation inside the routed step, no queue hop),
// event-driven (canonical events through the outbox, in the step's own transaction), hybrid (event-driven plus
// the batch reconciliation that retries partial reservations), and reorder rules feeding replenishment.

let db: TestDatabase;
let odoo: OdooSimulator;
let client: OdooClient;
const products: Record<string, number> = {};

const siu = (id: string, start: string): string =>
  [
    `MSH|^~\\&|SCHED|NORTH|CARELANE|NET|20261124080000||SIU^S12^SIU_S12|M-${id}|P|2.5.1`,
    `SCH|${id}|F-${id}||||||^Knee arthroscopy|60|MIN|^^60^${start}^${start}`,
    'PID|1||777888^^^HOSP^MR||ROE^RICHARD||19600101|M',
    'RGS|1',
    `AIS|1||29881^Arthroscopy, knee^CPT|${start}|0|MIN|60|MIN`,
    'AIL|1||OR-3^^^NORTH',
  ].join('\r');

async function startWith(flows: string): Promise<RunningCarelane> {
  const config = parseConfigText(
    `
server: { port: 0 }
mllp: { port: 0 }
engine: { pollIntervalMs: 50 }
odoo:
  connections:
    odoo-main: { url: "${odoo.url}", database: ${odoo.database}, login: admin, apiKey: "\${env:ODOO_KEY}", transport: jsonrpc }
governance:
  tokenization: { keys: [{ id: k1, secret: "\${env:PTK}" }], activeKeyId: k1 }
flows:
${flows}
routes:
  - { source: mllp, type: "SIU^*", lane: critical, flow: demand }
`,
    { DATABASE_URL: db.url, CARELANE_ADMIN_TOKEN: 'modes-admin-token', ODOO_KEY: 'sim-admin-api-key', PTK: 'tokenization-secret-for-demand-mode-tests-01' },
  );
  const app = await startCarelane({ config, origin: 'test' }, { log: pino({ level: 'silent' }) });
  const actor = { actor: 'test', source: 'test setup' };
  await applyMappings(app.database.pool, 'locations', [{ ehrSystem: 'facility:NORTH', ehrCode: 'OR-3', site: 'north', odooConnection: 'odoo-main', storeroomLocationId: odoo.seeded.stockLocationId, destinationLocationId: odoo.seeded.wardLocationId, pickingTypeId: odoo.seeded.internalPickingTypeId }], actor);
  await applyMappings(app.database.pool, 'items', [{ ehrSystem: 'local', ehrCode: 'CLIP', odooProductId: products.clip! }, { ehrSystem: 'local', ehrCode: 'MESH', odooProductId: products.mesh! }], actor);
  await applyMappings(app.database.pool, 'preference-cards', [{ site: 'north', procedureSystem: 'CPT', procedureCode: '29881', lines: [{ system: 'local', code: 'CLIP', quantity: 2 }, { system: 'local', code: 'MESH', quantity: 1 }] }], actor);
  return app;
}

const demand = async (app: RunningCarelane, id: string) =>
  (await app.database.pool.query<{ status: string }>('select status from carelane.demands where demand_key = $1', [`SCHED^NORTH|F-${id}`])).rows[0]?.status;
const events = async (app: RunningCarelane) => (await app.database.pool.query<{ topic: string; key: string; payload: unknown }>('select topic, key, payload from carelane.event_outbox order by id')).rows;

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 6);
  odoo = await startOdooSimulator({ version: 17, databaseUrl: db.url, schema: 'odoo_demand_modes', reset: true });
  client = await OdooClient.connect({ url: odoo.url, database: odoo.database, login: 'admin', apiKey: 'sim-admin-api-key', transport: 'jsonrpc' });
  const made = await new ProductGateway(client).ensure([
    { key: 'm:clip', defaultCode: 'CLIP', name: 'Ligating clip' },
    { key: 'm:mesh', defaultCode: 'MESH', name: 'Surgical mesh' },
    { key: 'm:tape', defaultCode: 'TAPE', name: 'Surgical tape' },
  ]);
  products.clip = made.get('m:clip')!.id;
  products.mesh = made.get('m:mesh')!.id;
  products.tape = made.get('m:tape')!.id;
  await odoo.seedQuant({ productId: products.clip, locationId: odoo.seeded.stockLocationId, quantity: 50 });
  const vendor = (await new VendorGateway(client).ensure([{ key: 'm:vendor', name: 'Surgical Goods', ref: 'SURGOODS' }])).get('m:vendor')!.id;
  const templates = await client.read('product.product', Object.values(products), ['product_tmpl_id']);
  await new VendorGateway(client).ensurePrices(templates.map((row) => ({ key: `m:price:${row.id}`, vendorId: vendor, productTemplateId: (row.product_tmpl_id as [number, string])[0], price: 4 })));
}, 60_000);

afterAll(async () => {
  await odoo?.close();
  await db?.drop();
});

describe('direct demand, event-driven replenishment, reorder rules', () => {
  let app: RunningCarelane;
  beforeAll(async () => {
    app = await startWith(`  demand: { mode: direct }
  replenishment: { mode: event-driven, groupWindowSeconds: 1, orderpointsCron: "* * * * * *" }`);
  });
  afterAll(async () => app?.stop());

  it('reserves inside the routed step (no demand.reserve delivery) and publishes the purchase order as an event', async () => {
    await sendMllp('127.0.0.1', app.mllpPort!, [siu('D-1', '20261210080000')]);
    await waitFor(async () => (await demand(app, 'D-1')) === 'partial', 15_000, 'the direct reservation');
    const { rows } = await app.database.pool.query<{ action: string }>('select action from carelane.deliveries order by id');
    expect(rows.map((r) => r.action)).not.toContain('demand.reserve');
    const placed = await waitFor(async () => (await events(app)).find((e) => e.topic === 'carelane.purchase_order.placed'), 15_000, 'the purchase order event');
    expect(placed.payload).toMatchObject({ site: 'north', lines: [expect.objectContaining({ productId: products.mesh, quantity: 1 })] });
    // demand runs in direct mode, which publishes nothing of its own
    expect((await events(app)).filter((e) => e.topic.startsWith('carelane.reservation.'))).toEqual([]);
  });

  it('orders what a reorder rule below minimum asks for, once per rule and day', async () => {
    await new OrderpointGateway(client).ensure([{ key: 'm:rule:tape', productId: products.tape!, locationId: odoo.seeded.stockLocationId, warehouseId: odoo.seeded.warehouseId, min: 10, max: 30, multiple: 5 }]);
    const requested = await waitFor(
      async () => {
        const { rows } = await app.database.pool.query<{ quantity: string; status: string }>(`select quantity, status from carelane.replenishment_requests where reason = 'orderpoint'`);
        return rows.length > 0 && rows;
      },
      15_000,
      'the reorder request',
    );
    // forecast 0 < min 10: up to max 30, a multiple of 5
    expect(requested).toEqual([expect.objectContaining({ quantity: '30' })]);
    await waitFor(async () => (await events(app)).some((e) => e.topic === 'carelane.purchase_order.placed' && JSON.stringify(e.payload).includes(`"productId":${products.tape}`)), 15_000, 'the reorder PO');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const { rows } = await app.database.pool.query(`select 1 from carelane.replenishment_requests where reason = 'orderpoint'`);
    expect(rows).toHaveLength(1);
  });
});

describe('hybrid demand', () => {
  let app: RunningCarelane;
  beforeAll(async () => {
    app = await startWith(`  demand: { mode: hybrid, reconcileCron: "* * * * * *" }
  replenishment: { groupWindowSeconds: 3600 }`);
  });
  afterAll(async () => app?.stop());

  it('publishes the partial reservation, and the reconciliation reserves the rest once stock has arrived', async () => {
    await sendMllp('127.0.0.1', app.mllpPort!, [siu('H-1', '20261211080000')]);
    await waitFor(async () => (await demand(app, 'H-1')) === 'partial', 15_000, 'the partial reservation');
    expect((await events(app)).map((e) => e.topic)).toContain('carelane.reservation.partial');
    await odoo.seedQuant({ productId: products.mesh!, locationId: odoo.seeded.stockLocationId, quantity: 5 });
    await waitFor(async () => (await demand(app, 'H-1')) === 'reserved', 15_000, 'the reconciled reservation');
    const topics = (await events(app)).filter((e) => e.key === 'SCHED^NORTH|F-H-1').map((e) => e.topic);
    expect(topics.slice(-1)).toEqual(['carelane.reservation.reserved']);
    const pickings = (await odoo.records('stock.picking', ['origin'])).filter((p) => String(p.origin).includes('F-H-1'));
    expect(pickings).toHaveLength(1);
  });
});
