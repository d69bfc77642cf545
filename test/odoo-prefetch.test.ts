import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OdooClient, ProductGateway, ProductPrefetch } from '../src/connectors/odoo/index.ts';
import { startOdooSimulator, type OdooSimulator } from '../simulators/odoo/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

let db: TestDatabase;
let sim: OdooSimulator;
let client: OdooClient;

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 4);
  sim = await startOdooSimulator({ version: 18, databaseUrl: db.url, schema: 'odoo_prefetch_v18', reset: true });
  client = await OdooClient.connect({ url: sim.url, database: sim.database, login: 'admin', apiKey: 'sim-admin-api-key', transport: 'jsonrpc' });
  await new ProductGateway(client).ensure(
    Array.from({ length: 300 }, (_, i) => ({ key: `pf:${i}`, defaultCode: `PF-${i}`, name: `Item ${i}`, barcode: `0400000${String(i).padStart(5, '0')}` })),
  );
});

afterAll(async () => {
  await sim.close();
  await db.drop();
});

describe('crosswalk prefetch', () => {
  it('resolves 300 codes and barcodes in one round trip, then from cache until the TTL, then asks again', async () => {
    let clock = 1_000;
    const prefetch = new ProductPrefetch(client, { ttlMs: 60_000, now: () => clock });
    const codes = Array.from({ length: 200 }, (_, i) => `PF-${i}`).concat(['PF-UNKNOWN']);
    const barcodes = Array.from({ length: 100 }, (_, i) => `0400000${String(200 + i).padStart(5, '0')}`);
    const before = sim.callCount();
    const first = await prefetch.lookup({ codes, barcodes });
    expect(sim.callCount() - before).toBe(1);
    expect(prefetch.roundTrips).toBe(1);
    expect(first.byCode.size).toBe(200);
    expect(first.byCode.has('PF-UNKNOWN')).toBe(false);
    expect(first.byBarcode.get('040000000250')?.defaultCode).toBe('PF-250');

    // Cached: the same keys, an unknown one, and a code learnt through its barcode cost nothing.
    clock += 59_000;
    const cached = await prefetch.lookup({ codes: ['PF-5', 'PF-UNKNOWN', 'PF-250'], barcodes: ['040000000005'] });
    expect(sim.callCount() - before).toBe(1);
    expect(cached.byCode.get('PF-250')?.barcode).toBe('040000000250');
    expect(cached.byBarcode.get('040000000005')?.defaultCode).toBe('PF-5');

    // A product recoded in Odoo is seen once the TTL has passed.
    const id = first.byCode.get('PF-7')!.id;
    await client.write('product.product', [id], { default_code: 'PF-7-NEW' });
    expect((await prefetch.lookup({ codes: ['PF-7'] })).byCode.get('PF-7')?.id).toBe(id);
    clock += 2_000;
    const expired = await prefetch.lookup({ codes: ['PF-7', 'PF-7-NEW'] });
    expect(sim.callCount() - before).toBe(2 + 1); // one lookup + the write above
    expect(expired.byCode.has('PF-7')).toBe(false);
    expect(expired.byCode.get('PF-7-NEW')?.id).toBe(id);
  });

  it('splits very large batches by keysPerCall and keeps at most maxEntries answers', async () => {
    const prefetch = new ProductPrefetch(client, { keysPerCall: 100, maxEntries: 150 });
    const codes = Array.from({ length: 300 }, (_, i) => `PF-${i}`);
    const found = await prefetch.lookup({ codes });
    expect(prefetch.roundTrips).toBe(3);
    expect(found.byCode.size).toBe(299); // PF-7 was recoded above
    expect(prefetch.size).toBeLessThanOrEqual(300);
    // The oldest answers were dropped: asking for the first codes again is a new round trip.
    await prefetch.lookup({ codes: ['PF-0'] });
    expect(prefetch.roundTrips).toBe(4);
  });
});
