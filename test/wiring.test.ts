import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { parseConfigText } from '../src/config/index.ts';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { enqueueDeliveries } from '../src/engine/index.ts';
import { OdooClient, ProductGateway, VendorGateway } from '../src/connectors/odoo/index.ts';
import { generate850, readX12 } from '../src/connectors/x12/index.ts';
import { startOdooSimulator, type OdooSimulator } from '../simulators/odoo/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { countByStatus, waitFor } from './support/engine-harness.ts';

// carelane.yaml → running engine: an Odoo connection and an X12 partner configured in the file are what the
// registered handlers and the X12 listener use (the composition root in src/app.ts).
describe('connectors wired from carelane.yaml', () => {
  let db: TestDatabase;
  let odoo: OdooSimulator;
  let app: RunningCarelane;

  beforeAll(async () => {
    db = await createTestDatabase(embeddedTarget());
    odoo = await startOdooSimulator({ version: 19, databaseUrl: db.url, schema: 'odoo_wiring', reset: true });
    const config = parseConfigText(
      `
server: { port: 0 }
mllp: { enabled: false }
logging: { level: silent }
engine: { pollIntervalMs: 100 }
odoo:
  connections:
    odoo-main: { url: "${odoo.url}", database: "${odoo.database}", login: admin, apiKey: "\${env:ODOO_KEY}" }
x12:
  http: { port: 0 }
  partners:
    - id: medsupply
      ours: { qualifier: ZZ, id: CARELANE, applicationCode: CARELANE }
      theirs: { qualifier: ZZ, id: MEDSUPPLY, applicationCode: MEDSUPPLY }
      version: "005010"
      transport: http
      endpoint: "http://127.0.0.1:1/unused"
      acknowledgment: { kind: "999", withinMinutes: 60 }
      usage: P
`,
      { DATABASE_URL: db.url, CARELANE_ADMIN_TOKEN: 'wiring-admin-token', ODOO_KEY: 'sim-admin-api-key' },
    );
    app = await startCarelane({ config, origin: 'test' }, { log: pino({ level: 'silent' }) });
  });
  afterAll(async () => {
    await app.stop();
    await odoo.close();
    await db.drop();
  });

  it('runs an odoo.place_purchase_order delivery against the configured Odoo connection, once', async () => {
    const client = await OdooClient.connect({ url: odoo.url, database: odoo.database, login: 'admin', apiKey: 'sim-admin-api-key' });
    const [vendor] = [...(await new VendorGateway(client).ensure([{ key: 'vendor:wiring', name: 'Wiring Medical Supply', ref: 'WMS' }])).values()];
    const [product] = [...(await new ProductGateway(client).ensure([{ key: 'item:wiring:gloves', defaultCode: 'W-GLOVES', name: 'Gloves' }])).values()];
    await enqueueDeliveries(app.database.pool, [
      {
        lane: 'standard',
        action: 'odoo.place_purchase_order',
        endpoint: 'odoo-main',
        idempotencyKey: 'po:wiring:1',
        correlationId: 'corr-po-wiring-1',
        payload: { vendorId: vendor!.id, lines: [{ productId: product!.id, quantity: 12, unitPrice: 3.5 }] },
      },
    ]);
    await waitFor(async () => (await countByStatus(app.database)).done === 1 || undefined, 20_000, 'PO placed');
    const orders = (await odoo.records('purchase.order', ['origin', 'state'])).filter((o) => o.origin === 'po:wiring:1');
    expect(orders).toHaveLength(1);
    expect(['purchase', 'to approve']).toContain(orders[0]!.state);
  });

  it('answers an X12 850 from a configured partner with a 999 after storing it', async () => {
    const interchange = generate850(
      { poNumber: 'PO-W-1', orderDate: '2026-11-24', shipTo: { id: 'SITE-1' }, lines: [{ quantity: 5, unitOfMeasure: 'EA', unitPrice: '2.00', vendorPartNumber: 'GLV-1' }] },
      {
        sender: { qualifier: 'ZZ', id: 'MEDSUPPLY' },
        receiver: { qualifier: 'ZZ', id: 'CARELANE' },
        version: '005010',
        interchangeControlNumber: 41,
        groupControlNumber: 41,
        transactionControlNumber: 1,
        usage: 'P',
        at: new Date('2026-11-24T10:00:00Z'),
      },
    ).text;
    expect(app.x12Url).toBeDefined();
    const response = await fetch(`${app.x12Url}/x12/medsupply`, { method: 'POST', body: interchange, headers: { 'content-type': 'application/edi-x12' } });
    expect(response.status).toBe(200);
    const ack = readX12(await response.text());
    const transaction = ack.interchanges[0]!.groups[0]!.transactions[0]!;
    expect(transaction.type).toBe('999');
    expect(transaction.issues).toEqual([]);
    const { rows } = await app.database.pool.query(`select source, message_type from carelane.messages where source = 'x12:medsupply'`);
    expect(rows).toEqual([{ source: 'x12:medsupply', message_type: 'X12_850' }]);
  });
});
