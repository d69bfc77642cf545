import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarelaneError } from '../src/contracts/errors.ts';
import { OdooClient, ProductGateway, TransferGateway, type OdooTransportName, type OdooVersion } from '../src/connectors/odoo/index.ts';
import { startOdooSimulator, type OdooSimulator } from '../simulators/odoo/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

let db: TestDatabase;
const simulators = new Map<OdooVersion, OdooSimulator>();

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 4);
  for (const version of [16, 18, 19] as const) {
    simulators.set(version, await startOdooSimulator({ version, databaseUrl: db.url, schema: `odoo_fail_v${version}`, reset: true }));
  }
});

afterAll(async () => {
  for (const sim of simulators.values()) await sim.close();
  await db.drop();
});

const connect = (sim: OdooSimulator, transport: OdooTransportName, login = 'admin', apiKey = 'sim-admin-api-key', timeoutMs = 1500) =>
  OdooClient.connect({ url: sim.url, database: sim.database, login, apiKey, transport, timeoutMs });

async function failure(promise: Promise<unknown>): Promise<CarelaneError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof CarelaneError) return error;
    throw error;
  }
  throw new Error('expected a failure');
}

const perTransport: Array<{ version: OdooVersion; transport: OdooTransportName }> = [
  { version: 19, transport: 'json2' },
  { version: 18, transport: 'jsonrpc' },
  { version: 16, transport: 'xmlrpc' },
];

describe.each(perTransport)('failures over $transport (Odoo $version)', ({ version, transport }) => {
  const tag = `${transport}${version}`;
  const sim = () => simulators.get(version)!;

  it('a timeout after Odoo committed the picking is ambiguous, and the retry finds it instead of creating a second one', async () => {
    const client = await connect(sim(), transport, 'admin', 'sim-admin-api-key', 400);
    const products = await new ProductGateway(client).ensure([{ key: `item:${tag}:t`, defaultCode: `${tag}-T`, name: 'Tourniquet' }]);
    const productId = products.get(`item:${tag}:t`)!.id;
    await sim().seedQuant({ productId, locationId: sim().seeded.stockLocationId, quantity: 5 });
    const transfers = new TransferGateway(client);
    const request = { key: `demand:${tag}:timeout`, pickingTypeId: sim().seeded.internalPickingTypeId, sourceLocationId: sim().seeded.stockLocationId, destinationLocationId: sim().seeded.wardLocationId, lines: [{ productId, quantity: 2 }] };

    sim().addFault({ kind: 'timeout_after_commit', model: 'stock.picking', method: 'create', times: 1 });
    const lost = await failure(transfers.reserve(request));
    expect(lost).toMatchObject({ failureClass: 'ambiguous', code: 'no_response' });
    expect((await sim().records('stock.picking', ['origin'])).filter((p) => p.origin === request.key)).toHaveLength(1);

    // The external id was never written; the retry finds the picking by origin, binds it, and finishes the saga.
    const retried = await transfers.reserve(request);
    expect(retried).toMatchObject({ created: false, state: 'assigned' });
    expect((await sim().records('stock.picking', ['origin'])).filter((p) => p.origin === request.key)).toHaveLength(1);

    // Same story when the answer to the external-id create is lost.
    const second = { ...request, key: `demand:${tag}:timeout-xmlid` };
    sim().addFault({ kind: 'timeout_after_commit', model: 'ir.model.data', method: 'create', times: 1 });
    expect((await failure(transfers.reserve(second))).failureClass).toBe('ambiguous');
    const again = await transfers.reserve(second);
    expect(again.created).toBe(false);
    expect((await sim().records('stock.picking', ['origin'])).filter((p) => p.origin === second.key)).toHaveLength(1);
  });

  it('ValidationError is a business failure that keeps Odoo’s message', async () => {
    const client = await connect(sim(), transport);
    const products = new ProductGateway(client);
    await products.ensure([{ key: `item:${tag}:a`, defaultCode: `${tag}-A`, name: 'A', barcode: `${tag}-BC` }]);
    const error = await failure(products.ensure([{ key: `item:${tag}:b`, defaultCode: `${tag}-B`, name: 'B', barcode: `${tag}-BC` }]));
    expect(error).toMatchObject({ failureClass: 'business', exceptionType: 'delivery_failed' });
    expect(error.message).toContain(`Barcode "${tag}-BC" already assigned`);
    if (transport !== 'xmlrpc') expect(error.code).toBe('odoo_validation_error'); // XML-RPC code 2 does not name the subclass (§1.1)
  });

  it('a wrong value and an unknown field are permanent', async () => {
    const client = await connect(sim(), transport);
    const badValue = await failure(client.create('product.product', [{ name: 'X', tracking: 'sometimes' }]));
    expect(badValue).toMatchObject({ failureClass: 'permanent', code: 'odoo_bad_request' });
    expect(badValue.message).toContain('Wrong value for product.product.tracking');
    // is_storable does not exist before 18 (§2.1): reading it fails instead of silently returning nothing.
    const field = version >= 18 ? 'detailed_type' : 'is_storable';
    expect(await failure(client.searchRead('product.product', [], { fields: [field] }))).toMatchObject({ failureClass: 'permanent' });
  });

  it('a user without rights gets a permanent access error; a wrong API key is refused', async () => {
    const clerk = await connect(sim(), transport, 'clerk', 'sim-clerk-api-key');
    expect(Array.isArray(await clerk.searchRead('product.product', [], { fields: ['name'], limit: 1 }))).toBe(true);
    const denied = await failure(clerk.create('stock.picking', [{ picking_type_id: sim().seeded.internalPickingTypeId }]));
    expect(denied).toMatchObject({ failureClass: 'permanent', code: 'odoo_access_error' });
    expect(denied.message).toContain("You are not allowed to modify 'Transfer' (stock.picking) records");
    const stranger = await connect(sim(), transport, 'admin', 'wrong-key');
    expect(await failure(stranger.searchCount('product.product', []))).toMatchObject({ failureClass: 'permanent', code: 'odoo_access_denied' });
  });

  it('reading a deleted record is a permanent MissingError', async () => {
    const client = await connect(sim(), transport);
    expect(await failure(client.read('product.product', [987654], ['name']))).toMatchObject({ failureClass: 'permanent', code: 'odoo_missing_record' });
  });

  it('a concurrency failure after Odoo’s retries, a 503 and a stopped server are transient', async () => {
    const client = await connect(sim(), transport);
    sim().addFault({ kind: 'concurrency', model: 'product.product', method: 'search_count', times: 1 });
    expect(await failure(client.searchCount('product.product', []))).toMatchObject({ failureClass: 'transient', code: 'odoo_concurrency' });
    sim().addFault({ kind: 'http_503', model: 'product.product', times: 1 });
    expect(await failure(client.searchCount('product.product', []))).toMatchObject({ failureClass: 'transient', peerUnavailable: true });
    await sim().setDown(true);
    try {
      expect(await failure(client.searchCount('product.product', []))).toMatchObject({ failureClass: 'transient', code: 'peer_unavailable' });
    } finally {
      await sim().setDown(false);
    }
    expect(await client.searchCount('product.product', [])).toBeGreaterThan(0);
  });
});

describe('version and transport resolution', () => {
  it('picks JSON-2 on 19 and JSON-RPC before 19 when nothing is configured', async () => {
    const auto19 = await OdooClient.connect({ url: simulators.get(19)!.url, database: 'carelane', login: 'admin', apiKey: 'sim-admin-api-key' });
    expect([auto19.version, auto19.transportName]).toEqual([19, 'json2']);
    const auto16 = await OdooClient.connect({ url: simulators.get(16)!.url, database: 'carelane', login: 'admin', apiKey: 'sim-admin-api-key' });
    expect([auto16.version, auto16.transportName]).toEqual([16, 'jsonrpc']);
  });

  it('refuses JSON-2 against Odoo 16, which does not have it', async () => {
    const error = await failure(connect(simulators.get(16)!, 'json2'));
    expect(error).toMatchObject({ failureClass: 'permanent', code: 'odoo_transport_unsupported' });
  });

  it('JSON-2 refuses ids on an @api.model method with 422, a permanent failure', async () => {
    const client = await connect(simulators.get(19)!, 'json2');
    const error = await failure(client.call({ model: 'product.product', method: 'search_count', ids: [1], kwargs: { domain: [] } }));
    expect(error).toMatchObject({ failureClass: 'permanent', code: 'odoo_http_422' });
  });

  it('limits concurrency per connection', async () => {
    const sim = simulators.get(19)!;
    const client = await OdooClient.connect({ url: sim.url, database: 'carelane', login: 'admin', apiKey: 'sim-admin-api-key', version: 19, maxConcurrency: 2 });
    sim.addFault({ kind: 'slow', delayMs: 100, model: 'res.users', times: 6 });
    const started = Date.now();
    await Promise.all(Array.from({ length: 6 }, () => client.call({ model: 'res.users', method: 'context_get' })));
    // 6 calls of ≥100 ms, two at a time: at least three waves.
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });
});
