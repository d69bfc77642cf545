import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { parseConfigText } from '../src/config/index.ts';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { sendMllp } from '../src/connectors/hl7v2/index.ts';
import { OdooClient, ProductGateway, VendorGateway } from '../src/connectors/odoo/index.ts';
import { applyMappings } from '../src/flows/master-data/mappings.ts';
import { startOdooSimulator, type OdooSimulator } from '../simulators/odoo/index.ts';
import { startSupplierSimulator, type SupplierSimulator } from '../simulators/supplier/index.ts';
import { startEhrSimulator, startHl7Receiver, type EhrSimulator, type Hl7Receiver } from '../simulators/ehr/index.ts';
import type { X12PartnerProfile } from '../src/connectors/x12/partner-profile.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { waitFor } from './support/engine-harness.ts';
import { carelanePorts, everythingSent, findIdentifiers, startWireTap } from './support/phi-scan.ts';

// Issue 6 end to end over real sockets: HL7 v2 SIU over MLLP and a FHIR SupplyRequest into a running Carelane,
// reservations in the Odoo simulator, a shortfall turned into a purchase order and an 850 at the supplier
// simulator; cancel releases; an unmapped code parks and completes once the mapping is added; Odoo down for a
// while loses and duplicates nothing.

const ADMIN = 'demand-flow-admin-token';
const PATIENT_MRN = '555666';
let db: TestDatabase;
let odoo: OdooSimulator;
let supplier: SupplierSimulator;
let ehr: EhrSimulator;
let hl7Ehr: Hl7Receiver;
let app: RunningCarelane;
let client: OdooClient;
const logLines: string[] = [];
// every byte written to the peers and by Carelane's listeners, for the PHI scan at the end (issue 8)
const wire = startWireTap();
const products: Record<string, number> = {};

const profile: X12PartnerProfile = {
  id: 'medsupply',
  ours: { qualifier: 'ZZ', id: 'CARELANE', applicationCode: 'CARELANE' },
  theirs: { qualifier: 'ZZ', id: 'MEDSUPPLY', applicationCode: 'MEDSUPPLY' },
  version: '005010',
  transport: 'http',
  endpoint: 'http://127.0.0.1:1/unused',
  acknowledgment: { kind: '999', withinMinutes: 60 },
  usage: 'T',
};

const siu = (trigger: string, id: string, start = '20261201090000', ail = 'AIL|1||OR-3^^^NORTH'): string =>
  [
    `MSH|^~\\&|SCHED|NORTH|CARELANE|NET|20261124080000||SIU^${trigger}^SIU_S12|M-${id}-${trigger}-${start}|P|2.5.1`,
    `SCH|${id}|F-${id}||||||^Knee arthroscopy|60|MIN|^^60^${start}^${start}`,
    `PID|1||${PATIENT_MRN}^^^HOSP^MR||DOE^JANE||19700101|F`,
    'RGS|1',
    `AIS|1||29881^Arthroscopy, knee^CPT|${start}|0|MIN|60|MIN`,
    ail,
  ].join('\r');

async function api<T>(path: string): Promise<{ status: number; body: T }> {
  const response = await fetch(`${app.httpUrl}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } });
  return { status: response.status, body: (await response.json()) as T };
}

const pickings = async (origin: string) => (await odoo.records('stock.picking', ['origin', 'state', 'scheduled_date'])).filter((p) => String(p.origin).startsWith(origin));

async function demand(key: string) {
  const { rows } = await app.database.pool.query<{ status: string; lines: Array<{ productId: number; quantity: number; reserved: number }>; correlation_id: string; revision: number }>(
    'select status, lines, correlation_id, revision from carelane.demands where demand_key = $1',
    [key],
  );
  return rows[0];
}

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 6);
  odoo = await startOdooSimulator({ version: 18, databaseUrl: db.url, schema: 'odoo_demand_flow', reset: true });
  supplier = await startSupplierSimulator({ profile });
  ehr = await startEhrSimulator();
  hl7Ehr = await startHl7Receiver();
  client = await OdooClient.connect({ url: odoo.url, database: odoo.database, login: 'admin', apiKey: 'sim-admin-api-key', transport: 'jsonrpc' });

  const ensured = await new ProductGateway(client).ensure([
    { key: 'item:gauze', defaultCode: 'GAUZE-4X4', name: 'Gauze 4x4', barcode: '00614141000012' },
    { key: 'item:drape', defaultCode: 'DRAPE-KNEE', name: 'Knee drape' },
    { key: 'item:suture', defaultCode: 'SUTURE-3-0', name: 'Suture 3-0' },
  ]);
  for (const [key, value] of ensured) products[key] = value.id;
  await odoo.seedQuant({ productId: products['item:gauze']!, locationId: odoo.seeded.stockLocationId, quantity: 100 });
  await odoo.seedQuant({ productId: products['item:drape']!, locationId: odoo.seeded.stockLocationId, quantity: 1 });
  const vendors = await new VendorGateway(client).ensure([{ key: 'vendor:medsupply', name: 'MedSupply Inc', ref: 'MEDSUPPLY' }]);
  const vendorId = vendors.get('vendor:medsupply')!.id;
  const templates = await client.read('product.product', Object.values(products), ['product_tmpl_id']);
  await new VendorGateway(client).ensurePrices(
    templates.map((row) => ({ key: `price:${row.id}`, vendorId, productTemplateId: (row.product_tmpl_id as [number, string])[0], price: 2.5 })),
  );

  const config = parseConfigText(
    `
server: { port: 0 }
mllp: { port: 0 }
engine: { pollIntervalMs: 50 }
fhir:
  listener: { port: 0 }
  sources: [{ id: ehr-north }]
  servers:
    ehr-north: { url: "${ehr.fhirBaseUrl}" }
odoo:
  connections:
    odoo-main: { url: "${odoo.url}", database: ${odoo.database}, login: admin, apiKey: "\${env:ODOO_KEY}", transport: jsonrpc, timeoutMs: 2000 }
endpoints:
  odoo-main: { retry: { maxAttempts: 50, initialDelayMs: 100, maxDelayMs: 500 }, circuit: { failureThreshold: 3, openMs: 300 } }
x12:
  http: { port: 0 }
  partners:
    - ${JSON.stringify({ ...profile, endpoint: `${supplier.url}/x12` })}
suppliers:
  - { vendorRef: MEDSUPPLY, channel: x12, partner: medsupply }
hl7v2:
  destinations:
    north-ehr: { host: 127.0.0.1, port: ${hl7Ehr.port}, receivingApplication: SCHED, receivingFacility: NORTH, responseTimeoutMs: 2000 }
flows:
  replenishment: { groupWindowSeconds: 1 }
  demand:
    statusBack:
      - { source: "fhir:ehr-north", fhirServer: ehr-north }
      - { source: mllp, hl7Destination: north-ehr }
governance:
  tokenization:
    keys: [{ id: k1, secret: "\${env:PTK}" }]
    activeKeyId: k1
routes:
  - { source: mllp, type: "SIU^*", lane: critical, flow: demand }
  - { source: mllp, type: "OMS^*", lane: critical, flow: demand }
  - { source: mllp, type: "ADT^*", lane: critical, flow: demand }
  - { source: "fhir:*", type: "FHIR_*", lane: critical, flow: demand }
  - { lane: standard, flow: noop }
`,
    { DATABASE_URL: db.url, CARELANE_ADMIN_TOKEN: ADMIN, ODOO_KEY: 'sim-admin-api-key', PTK: 'tokenization-secret-for-demand-flow-tests-0123' },
  );
  const log = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
  wire.peers(odoo.port, supplier.port, ehr.port, hl7Ehr.port);
  app = await startCarelane({ config, origin: 'test' }, { log });
  wire.carelane(...carelanePorts(app));

  const actor = { actor: 'test', source: 'test setup' };
  await applyMappings(app.database.pool, 'locations', [
    { ehrSystem: 'facility:NORTH', ehrCode: 'OR-3', site: 'north', odooConnection: 'odoo-main', storeroomLocationId: odoo.seeded.stockLocationId, destinationLocationId: odoo.seeded.wardLocationId, pickingTypeId: odoo.seeded.internalPickingTypeId },
    { ehrSystem: '', ehrCode: 'Location/WARD-5', site: 'north', odooConnection: 'odoo-main', storeroomLocationId: odoo.seeded.stockLocationId, destinationLocationId: odoo.seeded.wardLocationId, pickingTypeId: odoo.seeded.internalPickingTypeId },
  ], actor);
  await applyMappings(app.database.pool, 'items', [
    { ehrSystem: 'http://north.example/items', ehrCode: 'G44', odooProductId: products['item:gauze']! },
    { ehrSystem: 'http://north.example/items', ehrCode: 'DRP', odooProductId: products['item:drape']! },
  ], actor);
  await applyMappings(app.database.pool, 'preference-cards', [
    { site: 'north', procedureSystem: 'CPT', procedureCode: '29881', lines: [{ system: 'http://north.example/items', code: 'G44', quantity: 4 }, { system: 'http://north.example/items', code: 'DRP', quantity: 3 }] },
  ], actor);
  await applyMappings(app.database.pool, 'supplier-items', [{ vendorRef: 'MEDSUPPLY', sku: 'MS-DRAPE-01', odooProductId: products['item:drape']! }], actor);
}, 60_000);

afterAll(async () => {
  wire.stop();
  await app?.stop();
  await supplier?.close();
  await ehr?.close();
  await hl7Ehr?.close();
  await odoo?.close();
  await db?.drop();
});

describe('clinical demand → reservation → replenishment → purchase order', () => {
  it('SIU^S12 over MLLP reserves the preference card in Odoo; the shortfall becomes a PO and an 850 at the supplier', async () => {
    const [ack] = await sendMllp('127.0.0.1', app.mllpPort!, [siu('S12', 'APT-100')]);
    expect(ack).toContain('MSA|AA');
    const key = 'SCHED^NORTH|F-APT-100';
    const reserved = await waitFor(async () => {
      const row = await demand(key);
      return row && row.status !== 'requested' && row;
    }, 15_000, 'the reservation');
    // 100 gauze on hand, 1 drape for 3 wanted: partial
    expect(reserved.status).toBe('partial');
    expect(reserved.lines).toEqual([
      { productId: products['item:gauze'], quantity: 4, reserved: 4 },
      { productId: products['item:drape'], quantity: 3, reserved: 1 },
    ].sort((a, b) => a.productId! - b.productId!));
    const [picking] = await pickings(`reservation:${key}`);
    expect(picking).toMatchObject({ state: 'confirmed', scheduled_date: '2026-12-01 09:00:00' });

    const order = await waitFor(() => supplier.orders.size > 0 && [...supplier.orders.values()][0], 20_000, 'the 850 at the supplier');
    expect(order.via).toBe('x12');
    expect(order.order.lines).toHaveLength(1);
    expect(order.order.lines[0]).toMatchObject({ quantity: 2, product: { vendorPartNumber: 'MS-DRAPE-01' } });
    const pos = await odoo.records('purchase.order', ['name', 'state', 'origin']);
    expect(pos).toHaveLength(1);
    expect(pos[0]).toMatchObject({ state: 'purchase', name: order.order.poNumber });

    // The timeline follows the demand into the purchase order it shares.
    const timeline = await api<{ related: Array<{ relation: string }>; entries: Array<{ kind: string; what: string }> }>(`/api/v1/transactions/${encodeURIComponent(reserved.correlation_id)}`);
    expect(timeline.status).toBe(200);
    expect(timeline.body.related).toEqual([expect.objectContaining({ relation: 'purchase_order' })]);
    const kinds = new Set(timeline.body.entries.map((e) => e.kind));
    for (const kind of ['message', 'stage', 'delivery', 'demand', 'purchase_order']) expect(kinds).toContain(kind);
    expect(timeline.body.entries.map((e) => e.what)).toEqual(expect.arrayContaining([expect.stringMatching(/^x12\.send_850/)]));

    // Status back to the scheduling EHR: ORM^O01, ORC-1 SC, placer number APT-100, ORC-5 HD (partly on order).
    const told = await waitFor(() => hl7Ehr.processed().find((m) => m.messageType.startsWith('ORM^O01')), 10_000, 'the order status at the EHR');
    expect(told.answered).toBe('AA');
    expect(told.text).toMatch(/\rORC\|SC\|APT-100\|F-APT-100\|\|HD\|/);
  });

  it('the same SIU again (a re-send with a new control id) and a replay change nothing; S13 moves the date; S15 releases', async () => {
    const key = 'SCHED^NORTH|F-APT-100';
    const again = siu('S12', 'APT-100').replace('M-APT-100-S12', 'RESENT-1');
    await sendMllp('127.0.0.1', app.mllpPort!, [again]);
    await waitFor(async () => {
      const { rows } = await app.database.pool.query(`select status from carelane.messages where external_id = 'RESENT-1-20261201090000' and status = 'processed'`);
      return rows.length === 1;
    }, 10_000, 'the re-sent message processed');
    expect(await pickings(`reservation:${key}`)).toHaveLength(1);

    // A forced replay of the original booking runs the flow again: the demand row says it is already reserved.
    const replay = await fetch(`${app.httpUrl}/api/v1/replay`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ filter: { source: 'mllp', type: 'SIU^S12' }, limit: 1, dryRun: false, force: true, reason: 'test: replay must not reserve twice' }),
    });
    expect(replay.status).toBe(200);
    await waitFor(async () => {
      const { rows } = await app.database.pool.query(`select 1 from carelane.message_stages where stage like '%already reserved as asked%'`);
      return rows.length >= 2;
    }, 10_000, 'the replayed flow deciding nothing');
    expect(await pickings(`reservation:${key}`)).toHaveLength(1);
    expect(await odoo.records('purchase.order')).toHaveLength(1);

    await sendMllp('127.0.0.1', app.mllpPort!, [siu('S13', 'APT-100', '20261202100000')]);
    await waitFor(async () => (await pickings(`reservation:${key}`))[0]?.scheduled_date === '2026-12-02 10:00:00', 10_000, 'the moved date');

    await sendMllp('127.0.0.1', app.mllpPort!, [siu('S15', 'APT-100', '20261202100000')]);
    await waitFor(async () => (await pickings(`reservation:${key}`))[0]?.state === 'cancel', 10_000, 'the released reservation');
    expect((await demand(key))!.status).toBe('cancelled');
    await waitFor(() => hl7Ehr.processed().some((m) => /\rORC\|SC\|APT-100\|[^|]*\|\|CA\|/.test(m.text)), 10_000, 'the cancelled status at the EHR');
    // the released drape is free again
    const quants = (await odoo.records('stock.quant', ['product_id', 'reserved_quantity'])).filter((q) => (q.product_id as [number])[0] === products['item:drape']);
    expect(quants.reduce((sum, q) => sum + Number(q.reserved_quantity), 0)).toBe(0);
  });

  it('a FHIR SupplyRequest with an unmapped item parks as mapping_failure, and completes once the mapping is added', async () => {
    const supplyRequest = {
      resourceType: 'SupplyRequest',
      id: 'sr-1',
      status: 'active',
      itemCodeableConcept: { coding: [{ system: 'http://north.example/items', code: 'SUT30', display: 'Suture 3-0' }] },
      quantity: { value: 5 },
      deliverTo: { reference: 'Location/WARD-5' },
      authoredOn: '2026-11-24T08:00:00Z',
    };
    const response = await fetch(`${app.fhirUrl}/fhir/ehr-north/SupplyRequest`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(supplyRequest) });
    expect(response.status).toBe(200);
    const parked = await waitFor(async () => {
      const { rows } = await app.database.pool.query<{ id: string; detail: { unmapped: unknown[] } }>(`select id, detail from carelane.exceptions where type = 'mapping_failure' and status = 'open'`);
      return rows[0];
    }, 10_000, 'the parked demand');
    expect(parked.detail.unmapped).toEqual([{ kind: 'item', system: 'http://north.example/items', code: 'SUT30' }]);
    const failures = await api<{ failures: Array<{ code: string; count: number }> }>('/api/v1/mapping-failures');
    expect(JSON.stringify(failures.body)).toContain('SUT30');

    await odoo.seedQuant({ productId: products['item:suture']!, locationId: odoo.seeded.stockLocationId, quantity: 50 });
    await applyMappings(app.database.pool, 'items', [{ ehrSystem: 'http://north.example/items', ehrCode: 'SUT30', odooProductId: products['item:suture']! }], { actor: 'integrator', source: 'test' });
    const key = 'fhir:ehr-north|SupplyRequest/sr-1';
    const row = await waitFor(async () => {
      const r = await demand(key);
      return r && r.status === 'reserved' && r;
    }, 15_000, 'the replayed demand reserved');
    expect(row.lines).toEqual([{ productId: products['item:suture'], quantity: 5, reserved: 5 }]);
    const { rows } = await app.database.pool.query(`select status, resolved_by from carelane.exceptions where id = $1`, [parked.id]);
    expect(rows[0]).toMatchObject({ status: 'resolved', resolved_by: 'system:crosswalks' });
    // The FHIR EHR gets a Task about its SupplyRequest saying the supplies are reserved.
    const task = await waitFor(() => ehr.store.all('Task').find((t) => (t as { focus?: { reference?: string } }).focus?.reference === 'SupplyRequest/sr-1'), 10_000, 'the Task at the EHR');
    expect(task).toMatchObject({ status: 'in-progress', businessStatus: { coding: [expect.objectContaining({ code: 'reserved' })] } });
  });

  it('a true duplicate (new id, same patient, place, items and time) is a duplicate_order, not a second transfer', async () => {
    await sendMllp('127.0.0.1', app.mllpPort!, [siu('S12', 'APT-200', '20261205080000')]);
    await waitFor(async () => (await demand('SCHED^NORTH|F-APT-200'))?.status === 'partial' || (await demand('SCHED^NORTH|F-APT-200'))?.status === 'reserved', 15_000, 'the first booking reserved');
    await sendMllp('127.0.0.1', app.mllpPort!, [siu('S12', 'APT-201', '20261205080000')]);
    const duplicate = await waitFor(async () => {
      const { rows } = await app.database.pool.query<{ detail: { duplicateOf: string } }>(`select detail from carelane.exceptions where type = 'duplicate_order'`);
      return rows[0];
    }, 10_000, 'the duplicate_order exception');
    expect(duplicate.detail.duplicateOf).toBe('SCHED^NORTH|F-APT-200');
    expect(await pickings('reservation:SCHED^NORTH|F-APT-201')).toHaveLength(0);
  });

  it('Odoo down for a while: nothing lost, nothing duplicated once it is back', async () => {
    await odoo.setDown(true);
    const ids = ['APT-300', 'APT-301', 'APT-302'];
    await sendMllp('127.0.0.1', app.mllpPort!, ids.map((id, i) => siu('S12', id, `2026121${i}070000`)));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await odoo.setDown(false);
    for (const id of ids) {
      await waitFor(async () => ['reserved', 'partial'].includes((await demand(`SCHED^NORTH|F-${id}`))?.status ?? ''), 30_000, `${id} reserved after the outage`);
      expect(await pickings(`reservation:SCHED^NORTH|F-${id}`)).toHaveLength(1);
    }
  });

  it('bedside supplies follow the patient: an ADT^A02 moves the open OMS^O05 supply reservation to the new ward', async () => {
    const [ward3] = await client.create('stock.location', [{ name: 'Ward 3', usage: 'internal', location_id: odoo.seeded.stockLocationId }]);
    const actor = { actor: 'test', source: 'test setup' };
    await applyMappings(app.database.pool, 'locations', [
      { ehrSystem: 'facility:NORTH', ehrCode: 'CATHLAB', site: 'north', odooConnection: 'odoo-main', storeroomLocationId: odoo.seeded.stockLocationId, destinationLocationId: odoo.seeded.wardLocationId, pickingTypeId: odoo.seeded.internalPickingTypeId },
      { ehrSystem: 'facility:NORTH', ehrCode: 'WARD3', site: 'north', odooConnection: 'odoo-main', storeroomLocationId: odoo.seeded.stockLocationId, destinationLocationId: ward3!, pickingTypeId: odoo.seeded.internalPickingTypeId },
    ], actor);
    await applyMappings(app.database.pool, 'items', [{ ehrSystem: 'MM', ehrCode: '100-2001', odooProductId: products['item:gauze']! }], actor);
    const oms = [
      'MSH|^~\\&|MATMGMT|NORTH|CARELANE|NET|20261124101500||OMS^O05^OMS_O05|OMS-1|P|2.5.1',
      `PID|1||${PATIENT_MRN}^^^HOSP^MR||DOE^JANE||19700101|F`,
      'PV1|1|I|CATHLAB^2^^NORTH',
      'ORC|NW|SUP-1001^MATMGMT||GRP-9',
      'RQD|1|100-2001^Gauze^MM|||6|EA^each^UCUM',
    ].join('\r');
    await sendMllp('127.0.0.1', app.mllpPort!, [oms]);
    const before = await waitFor(async () => {
      const { rows } = await app.database.pool.query<{ demand_key: string; status: string; reservation_key: string }>(`select demand_key, status, reservation_key from carelane.demands where demand_key = 'MATMGMT^NORTH|SUP-1001' and status = 'reserved'`);
      return rows[0];
    }, 15_000, 'the supply reservation');

    const adt = [
      'MSH|^~\\&|ADT|NORTH|CARELANE|NET|20261124110000||ADT^A02^ADT_A02|ADT-A02-1|P|2.5.1',
      'EVN|A02|20261124110000',
      `PID|1||${PATIENT_MRN}^^^HOSP^MR||DOE^JANE||19700101|F`,
      'PV1|1|I|WARD3^12^A^NORTH|||CATHLAB^2^^NORTH',
    ].join('\r');
    await sendMllp('127.0.0.1', app.mllpPort!, [adt]);
    const after = await waitFor(async () => {
      const { rows } = await app.database.pool.query<{ status: string; revision: number; destination_location_id: number; reservation_key: string }>(
        'select status, revision, destination_location_id, reservation_key from carelane.demands where demand_key = $1',
        [before.demand_key],
      );
      return rows[0]?.revision === 2 && rows[0].status === 'reserved' && rows[0];
    }, 15_000, 'the supply reservation moved');
    expect(after.destination_location_id).toBe(ward3);
    const transfers = await odoo.records('stock.picking', ['origin', 'state', 'location_dest_id']);
    expect(transfers.find((p) => p.origin === before.reservation_key)).toMatchObject({ state: 'cancel' });
    expect(transfers.find((p) => p.origin === after.reservation_key)).toMatchObject({ state: 'assigned', location_dest_id: [ward3, expect.any(String)] });
    // the booked procedure of the same patient stays where it is booked
    expect(JSON.stringify((await app.database.pool.query(`select kind from carelane.demands where revision > 1 and kind <> 'supply'`)).rows)).not.toContain('scheduled');
  });

  it('sends no patient identifier or name anywhere: Odoo, the supplier, the EHR, answers, logs, metrics, events', async () => {
    const phi = [PATIENT_MRN, 'DOE', 'JANE', '19700101'];
    // the scan means something only if the values went in
    expect(findIdentifiers([{ where: 'into Carelane', text: wire.received() }], phi).map((found) => found.value).sort()).toEqual([...phi].sort());
    const sent = await everythingSent(app, wire, logLines);
    // and only if the tap saw Carelane's traffic to its peers
    for (const port of [odoo.port, supplier.port, ehr.port, hl7Ehr.port]) expect(sent.map((text) => text.where)).toContain(`to peer :${port}`);
    expect(findIdentifiers(sent, phi)).toEqual([]);
  });
});
