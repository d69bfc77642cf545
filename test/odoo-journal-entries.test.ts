import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JournalEntryGateway, OdooClient, ProductGateway, type OdooTransportName, type OdooVersion } from '../src/connectors/odoo/index.ts';
import { costDistribution } from '../src/flows/finance/index.ts';
import { startOdooSimulator, type OdooSimulator } from '../simulators/odoo/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

// Contract tests of the journal entries cost allocation posts (account.move 'entry' with line_ids, analytic
// distribution per version, reference/odoo.md §2.11) on the oldest and newest versions and every transport.
const combos: Array<{ version: OdooVersion; transport: OdooTransportName }> = [
  { version: 16, transport: 'jsonrpc' },
  { version: 16, transport: 'xmlrpc' },
  { version: 19, transport: 'json2' },
  { version: 19, transport: 'xmlrpc' },
];

let db: TestDatabase;
const simulators = new Map<OdooVersion, OdooSimulator>();

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 3);
  for (const version of [16, 19] as const) simulators.set(version, await startOdooSimulator({ version, databaseUrl: db.url, schema: `odoo_entries_v${version}`, reset: true }));
});

afterAll(async () => {
  for (const sim of simulators.values()) await sim.close();
  await db.drop();
});

const connect = (sim: OdooSimulator, transport: OdooTransportName, timeoutMs = 2000) =>
  OdooClient.connect({ url: sim.url, database: sim.database, login: 'admin', apiKey: 'sim-admin-api-key', transport, timeoutMs });

describe.each(combos)('journal entries on Odoo $version over $transport', ({ version, transport }) => {
  const prefix = `${transport}-${version}`;

  async function setup(client: OdooClient, sim: OdooSimulator) {
    const product = (await new ProductGateway(client).ensure([{ key: `item:${prefix}`, defaultCode: `${prefix}-GAUZE`, name: 'Gauze' }])).get(`item:${prefix}`)!.id;
    await client.write('product.product', [product], { standard_price: 1.25 });
    const [plan] = await client.create('account.analytic.plan', [{ name: `Departments ${prefix}` }]);
    const [department, service] = await client.create('account.analytic.account', [{ name: `OR ${prefix}`, plan_id: plan }, { name: `Ortho ${prefix}`, plan_id: plan }]);
    const lines = (amount: number) => [
      { accountId: sim.seeded.expenseAccountId, name: 'Supplies used', debit: amount, credit: 0, productId: product, quantity: 4, analyticDistribution: costDistribution(version, department!, service!) },
      { accountId: sim.seeded.stockValuationAccountId, name: 'Counterpart', debit: 0, credit: amount, quantity: 1 },
    ];
    return { product, department: department!, service: service!, lines };
  }

  it('posts a balanced entry once, with the analytic distribution of its version, and reads the unit cost', async () => {
    const sim = simulators.get(version)!;
    const client = await connect(sim, transport);
    const { product, department, service, lines } = await setup(client, sim);
    expect(await new ProductGateway(client).standardPrices([product])).toEqual(new Map([[product, 1.25]]));
    const entries = new JournalEntryGateway(client);
    const request = { key: `cost:${prefix}:2026-11-20:1`, date: '2026-11-20', reference: `Carelane cost:${prefix}`, lines: lines(5) };
    const first = await entries.record(request);
    expect(first).toMatchObject({ created: true, state: 'posted', date: '2026-11-20', journalId: sim.seeded.miscJournalId, amountTotal: 5 });
    expect(first.name).toMatch(/^MISC\/2026\/11\/\d{4}$/);
    const again = await entries.record(request);
    expect(again).toMatchObject({ created: false, moveId: first.moveId, state: 'posted' });
    const read = await entries.lines(first.moveId);
    expect(read.map((l) => [l.debit, l.credit])).toEqual([[5, 0], [0, 5]]);
    expect(read[0]!.analyticDistribution).toEqual(version >= 17 ? { [[department, service].sort((a, b) => a - b).join(',')]: 100 } : { [String(department)]: 100, [String(service)]: 100 });
  });

  it('adopts an entry whose create committed without an answer, by its reference', async () => {
    const sim = simulators.get(version)!;
    const client = await connect(sim, transport, 400);
    const { lines } = await setup(client, sim);
    const entries = new JournalEntryGateway(client);
    const request = { key: `cost:${prefix}:lost`, date: '2026-11-21', reference: `Carelane cost:${prefix}:lost`, lines: lines(3) };
    sim.addFault({ kind: 'timeout_after_commit', model: 'account.move', method: 'create', times: 1 });
    await expect(entries.record(request)).rejects.toMatchObject({ failureClass: 'ambiguous' });
    const retried = await entries.record(request);
    expect(retried).toMatchObject({ created: false, state: 'posted' });
    expect((await sim.records('account.move', ['ref'])).filter((m) => m.ref === request.reference)).toHaveLength(1);
  });

  it("refuses an unbalanced entry with Odoo's UserError, as a business failure", async () => {
    const sim = simulators.get(version)!;
    const client = await connect(sim, transport);
    const { lines } = await setup(client, sim);
    const unbalanced = lines(2);
    unbalanced[1]!.credit = 1.5;
    await expect(new JournalEntryGateway(client).record({ key: `cost:${prefix}:unbalanced`, date: '2026-11-22', reference: `Carelane cost:${prefix}:unbalanced`, lines: unbalanced })).rejects.toMatchObject({
      failureClass: 'business',
      message: expect.stringContaining('is not balanced'),
    });
  });
});
