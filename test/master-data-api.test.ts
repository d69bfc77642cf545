import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Type } from 'typebox';
import { parseConfigText } from '../src/config/index.ts';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { CANONICAL_CONTRACTS, CANONICAL_EVENT_CONTRACTS, canonicalContract, ItemSchema, seedCanonicalContracts } from '../src/contracts/canonical/index.ts';
import { createToken, verifyAuditChain } from '../src/governance/index.ts';
import { mappingFailure, PgMasterDataLookup, replayMappingFailures, type UnmappedValue } from '../src/flows/master-data/index.ts';
import { saveMappings } from '../src/flows/master-data/store.ts';
import { enqueueDeliveries } from '../src/store/queue.ts';
import type { DeliveryHandler, Engine } from '../src/engine/index.ts';
import { OdooClient, ProductGateway, VendorGateway } from '../src/connectors/odoo/index.ts';
import { withCheckDigit } from '../src/connectors/gs1/index.ts';
import { startOdooSimulator, type OdooSimulator } from '../simulators/odoo/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { startEngine, testConfig, waitFor } from './support/engine-harness.ts';

const ADMIN = 'admin-token-for-master-data-tests';
const SUPPLY = 'urn:example:ehr:supply';

let db: TestDatabase;
let sim: OdooSimulator;
let odoo: OdooClient;
let app: RunningCarelane;
let harness: Engine;
const tokens: Record<string, string> = {};
/** runs of the test handler per delivery id */
const runs = new Map<number, number>();

const call = (method: string, path: string, options: { token?: string; body?: unknown; csv?: string } = {}) =>
  fetch(`${app.httpUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${options.token ?? ADMIN}`,
      ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(options.csv !== undefined ? { 'content-type': 'text/csv' } : {}),
    },
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    ...(options.csv !== undefined ? { body: options.csv } : {}),
  });

// A stand-in for a business flow step: resolves its items and location through the crosswalks and parks the
// delivery as a mapping_failure naming what is missing, as the demand flow does.
const reserveLike: DeliveryHandler = {
  action: 'test.reserve_like',
  async run(delivery, context) {
    runs.set(delivery.id, (runs.get(delivery.id) ?? 0) + 1);
    const payload = delivery.payload as { items: Array<{ system: string; code: string }>; location?: { code: string } };
    const lookup = new PgMasterDataLookup(context.pool);
    const { unmapped } = await lookup.mapItems(payload.items);
    const missing: UnmappedValue[] = unmapped.map((code) => ({ kind: 'item', system: code.system, code: code.code }));
    if (payload.location && !(await lookup.mapLocation(payload.location))) missing.push({ kind: 'location', system: '', code: payload.location.code });
    if (missing.length > 0) throw mappingFailure(missing);
  },
};

async function park(key: string, payload: unknown): Promise<{ deliveryId: number; exceptionId: number }> {
  const [deliveryId] = await enqueueDeliveries(db.pool, [{ lane: 'mdtest', action: 'test.reserve_like', endpoint: 'test', idempotencyKey: key, correlationId: key, payload }]);
  const exceptionId = await waitFor(async () => {
    const { rows } = await db.pool.query(`select id::int as id from carelane.exceptions where delivery_id = $1 and status = 'open' and type = 'mapping_failure'`, [deliveryId]);
    return rows[0]?.id as number | undefined;
  }, 20_000, `delivery ${deliveryId} parked`);
  return { deliveryId: deliveryId!, exceptionId };
}

const deliveryStatus = async (id: number) => (await db.pool.query(`select status from carelane.deliveries where id = $1`, [id])).rows[0]?.status as string;

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 6);
  sim = await startOdooSimulator({ version: 18, databaseUrl: db.url, schema: 'md_api_v18', reset: true });
  odoo = await OdooClient.connect({ url: sim.url, database: sim.database, login: 'admin', apiKey: 'sim-admin-api-key', transport: 'jsonrpc' });
  const config = parseConfigText(
    `server: { port: 0 }
mllp: { enabled: false }
logging: { level: silent }
odoo:
  connections:
    odoo-main: { url: "${sim.url}", database: "${sim.database}", login: admin, apiKey: "\${env:ODOO_KEY}", transport: jsonrpc }
scheduler: { jobs: { masterDataSync: { cron: "0 0 1 1 *", enabled: false } } }
masterData: { sync: { batchSize: 2, timeBudgetMs: 200 } }
`,
    { DATABASE_URL: db.url, CARELANE_ADMIN_TOKEN: ADMIN, ODOO_KEY: 'sim-admin-api-key' },
  );
  app = await startCarelane({ config, origin: 'test' }, { log: pino({ level: 'silent' }) });
  for (const role of ['viewer', 'operator', 'integrator'] as const) tokens[role] = await createToken(db.pool, `md-${role}`, role);
  harness = await startEngine(app.database, testConfig('engine: { lanes: { mdtest: { concurrency: 2 } } }\nroutes: [{ lane: mdtest, flow: noop }]'), [reserveLike], ['mdtest']);
});

afterAll(async () => {
  await harness?.stop();
  await app?.stop();
  await sim?.close();
  await db?.drop();
});

describe('crosswalk API', () => {
  it('lets viewers and operators read, only integrators and admins write; a change is a new version', async () => {
    const body = { ehrSystem: SUPPLY, ehrCode: 'GLOVE-M', odooProductId: 501 };
    expect((await call('POST', '/api/v1/crosswalks/items', { token: tokens.viewer, body })).status).toBe(403);
    expect((await call('POST', '/api/v1/crosswalks/items', { token: tokens.operator, body })).status).toBe(403);
    const created = await call('POST', '/api/v1/crosswalks/items', { token: tokens.integrator, body });
    expect(created.status).toBe(201);
    const first = (await created.json()) as { change: string; mapping: { id: number; version: number; createdBy: string } };
    expect(first).toMatchObject({ change: 'created', mapping: { version: 1, createdBy: 'token:md-integrator' } });
    const changed = (await (await call('POST', '/api/v1/crosswalks/items', { token: tokens.integrator, body: { ...body, odooProductId: 502 } })).json()) as typeof first;
    expect(changed).toMatchObject({ change: 'updated', mapping: { version: 2 } });

    for (const role of ['viewer', 'operator'] as const) {
      const list = (await (await call('GET', `/api/v1/crosswalks/items?ehrCode=GLOVE-M`, { token: tokens[role] })).json()) as { mappings: Array<{ odooProductId: number }> };
      expect(list.mappings.map((m) => m.odooProductId)).toEqual([502]);
    }
    const history = (await (await call('GET', `/api/v1/crosswalks/items/${first.mapping.id}/history`, { token: tokens.viewer })).json()) as { versions: Array<{ version: number; odooProductId: number; validTo: string | null }> };
    expect(history.versions.map((v) => [v.version, v.odooProductId, v.validTo === null])).toEqual([
      [1, 501, false],
      [2, 502, true],
    ]);
    expect((await call('POST', '/api/v1/crosswalks/items', { token: tokens.integrator, body: { ehrSystem: SUPPLY, ehrCode: 'NO-PRODUCT' } })).status).toBe(400);

    expect((await call('DELETE', `/api/v1/crosswalks/items/${changed.mapping.id}`, { token: tokens.operator })).status).toBe(403);
    expect((await call('DELETE', `/api/v1/crosswalks/items/${changed.mapping.id}`)).status).toBe(200);
    expect((await call('DELETE', `/api/v1/crosswalks/items/${changed.mapping.id}`)).status).toBe(404);
    const { rows } = await db.pool.query(`select actor, action from carelane.audit_log where target_type = 'crosswalk.items' and target_id = $1 order by id`, [`${SUPPLY}|GLOVE-M`]);
    expect(rows.map((r) => `${r.actor} ${r.action}`)).toEqual(['token:md-integrator crosswalk.create', 'token:md-integrator crosswalk.update', 'token:admin crosswalk.remove']);
  });

  it('imports a CSV file: a bad one answers 400 with line and column and imports nothing, a good one all rows', async () => {
    const header = 'ehr_code,site,odoo_connection,storeroom_location_id,destination_location_id,picking_type_id';
    const bad = await call('POST', '/api/v1/crosswalks/locations/import?fileName=sites.csv', { token: tokens.integrator, csv: `${header}\nOR-1,north,odoo-main,8,9,5\nOR-2,north,odoo-main,8,9,five\n` });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'csv_invalid', problems: [{ line: 3, column: 'picking_type_id', message: '"five" is not a record id (a positive whole number)' }] });
    expect(((await (await call('GET', '/api/v1/crosswalks/locations?site=north')).json()) as { mappings: unknown[] }).mappings).toEqual([]);
    const good = await call('POST', '/api/v1/crosswalks/locations/import?fileName=sites.csv', { token: tokens.integrator, csv: `${header}\r\nOR-1,north,odoo-main,8,9,5\r\n"OR-2",north,odoo-main,8,10,5\r\n` });
    expect(good.status).toBe(200);
    expect(await good.json()).toMatchObject({ counts: { created: 2, updated: 0 } });
    expect((await call('POST', '/api/v1/crosswalks/locations/import', { token: tokens.viewer, csv: `${header}\n` })).status).toBe(403);
  });
});

describe('canonical contracts in the registry', () => {
  it('lists every canonical contract at start-up, and keeps two majors of one active side by side', async () => {
    const active = (await (await call('GET', '/api/v1/contracts?status=active', { token: tokens.viewer })).json()) as { versions: Array<{ name: string; version: string; kind: string }> };
    expect(active.versions.filter((v) => v.kind === 'canonical').map((v) => `${v.name}@${v.version}`).sort()).toEqual([...CANONICAL_CONTRACTS, ...CANONICAL_EVENT_CONTRACTS].map((c) => `${c.name}@${c.version}`).sort());

    const { storable: _dropped, ...withoutStorable } = ItemSchema.properties;
    const itemV2 = canonicalContract('item', '2.0.0', Type.Object(withoutStorable, { additionalProperties: false, title: 'Item', 'x-class': 'business' }));
    const itemV11 = canonicalContract('item', '1.1.0', Type.Object({ ...ItemSchema.properties, lotPrefix: Type.Optional(Type.String({ 'x-class': 'business' })) }, { additionalProperties: false, title: 'Item', 'x-class': 'business' }));
    const seeded = await seedCanonicalContracts(db.pool, [...CANONICAL_CONTRACTS, itemV2, itemV11]);
    expect(seeded.activated).toEqual(['item@1.1.0', 'item@2.0.0']);
    expect(seeded.conflicts).toEqual([]);
    const item = (await (await call('GET', '/api/v1/contracts?name=item')).json()) as { versions: Array<{ version: string; status: string }> };
    // 1.1.0 stands in for 1.0.0 (compatible); 2.0.0 breaks it, so 1.x stays active for its consumers
    expect(item.versions.map((v) => `${v.version}:${v.status}`)).toEqual(['2.0.0:active', '1.1.0:active', '1.0.0:retired']);
    // a restart seeds nothing twice
    const again = await seedCanonicalContracts(db.pool, [...CANONICAL_CONTRACTS, itemV2, itemV11]);
    expect(again.activated).toEqual([]);
    expect(again.unchanged).toHaveLength(CANONICAL_CONTRACTS.length + 2);
    // a breaking change shipped as a minor is refused, not activated
    const wrong = await seedCanonicalContracts(db.pool, [canonicalContract('item', '1.2.0', Type.Object({ name: Type.Integer() }))]);
    expect(wrong.conflicts).toEqual(['item@1.2.0: breaking change against item@1.1.0; it needs a new major version']);
    expect((await verifyAuditChain(db.pool)).ok).toBe(true);
  });
});

describe('mapping_failure auto-replay', () => {
  it('replays a parked message once its mapping is added, and one missing two mappings only when both exist', async () => {
    const onlyItem = await park('md-replay-1', { items: [{ system: SUPPLY, code: 'KIT-9' }] });
    const itemAndRoom = await park('md-replay-2', { items: [{ system: SUPPLY, code: 'KIT-9' }], location: { code: 'OR-9' } });
    const { rows } = await db.pool.query(`select detail from carelane.exceptions where id = $1`, [itemAndRoom.exceptionId]);
    expect(rows[0].detail.unmapped).toEqual([{ kind: 'item', system: SUPPLY, code: 'KIT-9' }, { kind: 'location', system: '', code: 'OR-9' }]);

    const queue = (await (await call('GET', '/api/v1/mapping-failures', { token: tokens.viewer })).json()) as { unmapped: Array<{ value: UnmappedValue; openExceptions: number }> };
    expect(queue.unmapped.map((g) => `${g.value.kind} ${g.value.code} ${g.openExceptions}`)).toEqual(['item KIT-9 2', 'location OR-9 1']);

    const added = (await (await call('POST', '/api/v1/crosswalks/items', { token: tokens.integrator, body: { ehrSystem: SUPPLY, ehrCode: 'KIT-9', odooProductId: 77 } })).json()) as { autoReplay: { replayed: number[]; waiting: number[] } };
    expect(added.autoReplay).toEqual({ replayed: [onlyItem.exceptionId], waiting: [itemAndRoom.exceptionId] });
    await waitFor(async () => (await deliveryStatus(onlyItem.deliveryId)) === 'done', 20_000, 'the replayed delivery to complete');
    expect(runs.get(onlyItem.deliveryId)).toBe(2);
    expect(await deliveryStatus(itemAndRoom.deliveryId)).toBe('exception');

    const room = { ehrSystem: '', ehrCode: 'OR-9', site: 'north', odooConnection: 'odoo-main', storeroomLocationId: 8, destinationLocationId: 9, pickingTypeId: 5 };
    const roomAdded = (await (await call('POST', '/api/v1/crosswalks/locations', { token: tokens.integrator, body: room })).json()) as { autoReplay: { replayed: number[] } };
    expect(roomAdded.autoReplay.replayed).toEqual([itemAndRoom.exceptionId]);
    await waitFor(async () => (await deliveryStatus(itemAndRoom.deliveryId)) === 'done', 20_000, 'the second delivery to complete');

    const resolved = await db.pool.query(`select resolved_by, resolution_action, resolution_note from carelane.exceptions where id = any ($1) order by id`, [[onlyItem.exceptionId, itemAndRoom.exceptionId]]);
    expect(resolved.rows).toEqual([
      { resolved_by: 'system:crosswalks', resolution_action: 'replay', resolution_note: `mapping now present for item ${SUPPLY}|KIT-9 (API by token:md-integrator)` },
      { resolved_by: 'system:crosswalks', resolution_action: 'replay', resolution_note: 'mapping now present for location OR-9 (API by token:md-integrator)' },
    ]);
    expect(((await (await call('GET', '/api/v1/mapping-failures')).json()) as { unmapped: unknown[] }).unmapped).toEqual([]);
  });

  it('replays every exception naming the value, more than one page of them', async () => {
    const parked = [];
    for (const n of [1, 2, 3]) parked.push(await park(`md-replay-page-${n}`, { items: [{ system: SUPPLY, code: 'KIT-5' }] }));
    // saved without the auto-replay, then replayed with a page of 2
    await saveMappings(db.pool, 'items', [{ ehrSystem: SUPPLY, ehrCode: 'KIT-5', odooProductId: 78 }], { actor: 'test' });
    const outcome = await replayMappingFailures(db.pool, [{ kind: 'item', system: SUPPLY, code: 'KIT-5' }], 'test', 2);
    expect(outcome).toEqual({ replayed: parked.map((p) => p.exceptionId), waiting: [] });
    for (const p of parked) await waitFor(async () => (await deliveryStatus(p.deliveryId)) === 'done', 20_000, `delivery ${p.deliveryId} replayed`);
  });
});

describe('master-data sync from Odoo', () => {
  it('links item mappings by default_code and GTIN on the bulk lane, follows changes by cursor, and reports what no longer exists', async () => {
    const gtin = withCheckDigit('0950600013999');
    const products = await new ProductGateway(odoo).ensure([
      { key: 'item:sync-1', defaultCode: 'SYNC-1', name: 'Sync gauze' },
      { key: 'item:sync-2', defaultCode: 'SYNC-2', name: 'Sync tubes', barcode: gtin },
      { key: 'item:sync-3', defaultCode: 'SYNC-3', name: 'Sync drape' },
    ]);
    const vendor = (await new VendorGateway(odoo).ensure([{ key: 'vendor:sync', name: 'Sync Vendor', ref: 'V-SYNC' }])).get('vendor:sync')!.id;
    const csv = (kind: string, text: string) => call('POST', `/api/v1/crosswalks/${kind}/import`, { token: tokens.integrator, csv: text });
    expect((await csv('items', `ehr_system,ehr_code,odoo_product_id,default_code,gtin\nS,BY-CODE,,SYNC-1,\nS,BY-GTIN,,,${gtin}\nS,GONE,999999,,\n`)).status).toBe(200);
    expect((await csv('supplier-items', `vendor_ref,sku,odoo_product_id\nV-SYNC,VS-1,${products.get('item:sync-1')!.id}\nV-GONE,VG-1,${products.get('item:sync-3')!.id}\n`)).status).toBe(200);
    const room = { ehrSystem: '', ehrCode: 'WARD-X', site: 'north', odooConnection: 'odoo-main', storeroomLocationId: sim.seeded.stockLocationId, destinationLocationId: 424242, pickingTypeId: sim.seeded.internalPickingTypeId };
    expect((await call('POST', '/api/v1/crosswalks/locations', { token: tokens.integrator, body: room })).status).toBe(201);
    const parked = await park('md-sync-1', { items: [{ system: 'S', code: 'BY-CODE' }] });

    const runSync = async () => {
      const started = await call('POST', '/api/v1/master-data/sync', { token: tokens.integrator, body: {} });
      expect(started.status).toBe(202);
      const { run } = (await started.json()) as { run: { id: number } };
      return waitFor(async () => {
        const { runs: list } = (await (await call('GET', '/api/v1/master-data/sync-runs', { token: tokens.viewer })).json()) as { runs: Array<{ id: number; status: string; counts: Record<string, number>; missing: Array<Record<string, unknown>> }> };
        const found = list.find((r) => r.id === run.id);
        return found?.status === 'done' ? found : undefined;
      }, 30_000, 'the sync run to finish');
    };
    expect((await call('POST', '/api/v1/master-data/sync', { token: tokens.viewer, body: {} })).status).toBe(403);
    const first = await runSync();
    expect(first.counts).toMatchObject({ itemMappingsLinked: 2, supplierItemsRefreshed: 1, parkedReplayed: 1 });
    expect(first.counts.productsRead).toBeGreaterThanOrEqual(3);
    expect(first.missing).toEqual(
      expect.arrayContaining([
        { kind: 'product', odooId: 999999, usedBy: ['items:S|GONE'] },
        { kind: 'vendor', ref: 'V-GONE', usedBy: ['supplier-items:V-GONE|VG-1'] },
        { kind: 'location', odooId: 424242, usedBy: ['locations:|WARD-X'] },
      ]),
    );
    const lookup = new PgMasterDataLookup(db.pool);
    const { mapped } = await lookup.mapItems([{ system: 'S', code: 'BY-CODE' }, { system: 'S', code: 'BY-GTIN' }]);
    expect(mapped.get('S|BY-CODE')).toMatchObject({ odooProductId: products.get('item:sync-1')!.id, defaultCode: 'SYNC-1' });
    expect(mapped.get('S|BY-GTIN')).toMatchObject({ odooProductId: products.get('item:sync-2')!.id, defaultCode: 'SYNC-2', gtin });
    const supplierItem = await db.pool.query(`select odoo_vendor_id from carelane.supplier_item_crosswalk where sku = 'VS-1' and valid_to is null`);
    expect(supplierItem.rows[0].odoo_vendor_id).toBe(vendor);
    await waitFor(async () => (await deliveryStatus(parked.deliveryId)) === 'done', 20_000, 'the delivery the sync unblocked to complete');

    // Odoo owns the internal reference: a renamed code follows; the cursor ends at the last change read
    const renamed = products.get('item:sync-1')!.id;
    await odoo.write('product.product', [renamed], { default_code: 'SYNC-1B' });
    const second = await runSync();
    expect(second.counts).toMatchObject({ itemMappingsRefreshed: 1, itemMappingsLinked: 0 });
    const [product] = await odoo.read('product.product', [renamed], ['write_date']);
    const cursor = await db.pool.query(`select write_date, last_id from carelane.odoo_cursors where connection = 'odoo-main' and model = 'master-data:product.product'`);
    expect(cursor.rows[0].write_date).toBe(product!.write_date);
    expect(cursor.rows[0].last_id).toBeGreaterThanOrEqual(renamed);
    expect((await lookup.mapItems([{ system: 'S', code: 'BY-CODE' }])).mapped.get('S|BY-CODE')?.defaultCode).toBe('SYNC-1B');
    const { rows } = await db.pool.query(`select version, default_code, created_by from carelane.item_crosswalk where ehr_code = 'BY-CODE' order by version`);
    expect(rows.map((r) => `${r.version} ${r.default_code} ${r.created_by}`)).toEqual(['1 SYNC-1 token:md-integrator', '2 SYNC-1 system:master-data-sync', '3 SYNC-1B system:master-data-sync']);
    // the sync ran as deliveries on the bulk lane, never the critical one
    const lanes = await db.pool.query(`select distinct lane from carelane.deliveries where action = 'master_data.sync'`);
    expect(lanes.rows).toEqual([{ lane: 'bulk' }]);

    // a run whose delivery ended without finishing it (parked, cancelled) does not block the next one
    const stuck = await db.pool.query(`insert into carelane.master_data_sync_runs (connection, trigger, status) values ('odoo-main', 'test', 'running') returning id::int as id`);
    const third = await runSync();
    expect(third.id).toBeGreaterThan(stuck.rows[0].id);
    expect((await db.pool.query(`select status from carelane.master_data_sync_runs where id = $1`, [stuck.rows[0].id])).rows[0].status).toBe('failed');
  });
});
