import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarelaneError } from '../src/contracts/errors.ts';
import { OdooClient, ProductGateway, type OdooTransportName, type OdooVersion } from '../src/connectors/odoo/index.ts';
import { startOdooSimulator, type OdooSimulator } from '../simulators/odoo/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

// The engine's abort signal (HandlerContext.signal) ends Odoo calls promptly on every transport. Classification
// is the connector's usual rule: aborted after the request left → ambiguous; before → transient.
let db: TestDatabase;
const simulators = new Map<OdooVersion, OdooSimulator>();

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 4);
  for (const version of [16, 18, 19] as const) {
    simulators.set(version, await startOdooSimulator({ version, databaseUrl: db.url, schema: `odoo_abort_v${version}`, reset: true }));
  }
});

afterAll(async () => {
  for (const sim of simulators.values()) await sim.close();
  await db.drop();
});

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

describe.each(perTransport)('aborting calls over $transport (Odoo $version)', ({ version, transport }) => {
  const sim = () => simulators.get(version)!;
  // A long own deadline, so only the caller's abort can end the slow call early.
  const connect = (maxConcurrency?: number) =>
    OdooClient.connect({ url: sim().url, database: sim().database, login: 'admin', apiKey: 'sim-admin-api-key', transport, timeoutMs: 10_000, ...(maxConcurrency ? { maxConcurrency } : {}) });

  it('a slow call aborted after it was sent ends at once and is ambiguous', async () => {
    const client = await connect();
    await client.searchCount('product.product', []); // authenticated before the timed part
    sim().addFault({ kind: 'slow', model: 'product.product', method: 'search_read', delayMs: 1500, times: 1 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('attempt timed out')), 100);
    const started = performance.now();
    const error = await failure(new ProductGateway(client, { signal: controller.signal }).findByCodes(['ABORT-1']));
    expect(performance.now() - started).toBeLessThan(800);
    expect(error).toMatchObject({ failureClass: 'ambiguous', code: 'aborted_after_send', peerUnavailable: false });
  });

  it('a call already aborted, or aborted while queued behind the concurrency limit, is never sent (transient)', async () => {
    const client = await connect(1);
    await client.searchCount('product.product', []);
    const aborted = new AbortController();
    aborted.abort(new Error('engine stopping'));
    const calls = sim().callCount();
    expect(await failure(client.withSignal(aborted.signal).searchCount('product.product', []))).toMatchObject({ failureClass: 'transient', code: 'aborted_before_send' });
    expect(sim().callCount()).toBe(calls);

    sim().addFault({ kind: 'slow', model: 'product.product', method: 'search_count', delayMs: 600, times: 1 });
    const first = client.searchCount('product.product', []);
    const queued = new AbortController();
    const second = failure(client.searchCount('product.product', [], { signal: queued.signal }));
    setTimeout(() => queued.abort(new Error('attempt timed out')), 50);
    const started = performance.now();
    expect(await second).toMatchObject({ failureClass: 'transient', code: 'aborted_before_send' });
    expect(performance.now() - started).toBeLessThan(400);
    // The slot holder is unaffected and the limiter still admits the next call.
    expect(await first).toBeGreaterThanOrEqual(0);
    expect(await client.searchCount('product.product', [])).toBeGreaterThanOrEqual(0);
  });
});
