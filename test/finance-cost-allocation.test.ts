import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { parseConfigText } from '../src/config/index.ts';
import type { CarelaneConfig } from '../src/config/schema.ts';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { sendMllp } from '../src/connectors/hl7v2/index.ts';
import { OdooClient, ProductGateway } from '../src/connectors/odoo/index.ts';
import { applyMappings } from '../src/flows/master-data/mappings.ts';
import { addDays, dayIn } from '../src/flows/finance/cost-periods.ts';
import { closeCostPeriods, costDistribution, type CostPeriodView } from '../src/flows/finance/index.ts';
import { startOdooSimulator, type OdooSimulator } from '../simulators/odoo/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { waitFor } from './support/engine-harness.ts';

// Issue 7 (cost allocation) end to end over real sockets: DFT^P03 charges over MLLP and FHIR Procedures with
// used items into a running Carelane → utilization events per department and service line → the cutoff closes
// the past days → one balanced journal entry per department in the Odoo simulator, with the analytic
// distribution; a late event goes to the next open period, a closed one is never rewritten, reversals and
// credits net out, and the totals reconcile with what was used.

const ADMIN = 'cost-allocation-admin-token';
const ITEMS = 'http://north.example/items';
const PRICE = { gauze: 2.5, drape: 12 };
let db: TestDatabase;
let odoo: OdooSimulator;
let app: RunningCarelane;
let flows: CarelaneConfig['flows'];
let client: OdooClient;
const products: Record<string, number> = {};
const accounts: Record<string, number> = {};
const today = dayIn('UTC', new Date());
const threeDaysAgo = addDays(today, -3);
const hl7Day = (day: string) => `${day.replaceAll('-', '')}101500`;

/** FT1 (6.4.1): 2 transaction id, 4 date, 6 type CG/CD, 7 code, 10 quantity, 16 location, 25 procedure code. */
function ft1(set: number, transactionId: string, day: string, type: 'CG' | 'CD', item: string, quantity: number, location: string): string {
  const fields = Array.from({ length: 26 }, () => '');
  fields[0] = 'FT1';
  fields[1] = String(set);
  fields[2] = transactionId;
  fields[4] = hl7Day(day);
  fields[6] = type;
  fields[7] = `${item}^Supply^${ITEMS}`;
  fields[10] = String(quantity);
  fields[16] = `${location}^^^NORTH`;
  fields[25] = '29881^Arthroscopy, knee^CPT';
  return fields.join('|');
}

const dft = (controlId: string, ...ft1s: string[]): string =>
  [
    `MSH|^~\\&|BILLING|NORTH|CARELANE|NET|20261124080000||DFT^P03^DFT_P03|${controlId}|P|2.5.1`,
    'EVN|P03|20261124080000',
    'PID|1||777888^^^HOSP^MR||ROE^RICHARD||19650202|M',
    'PV1|1|I|OR-3^^^NORTH',
    ...ft1s,
  ].join('\r');

function procedure(id: string, status: string, day: string, used: string[]): Record<string, unknown> {
  return {
    resourceType: 'Procedure',
    id,
    status,
    subject: { reference: 'Patient/pat-42' },
    code: { coding: [{ system: 'http://www.ama-assn.org/go/cpt', code: '29881' }] },
    performedDateTime: `${day}T09:30:00Z`,
    location: { reference: 'Location/WARD-5' },
    usedCode: used.map((code) => ({ coding: [{ system: ITEMS, code }] })),
  };
}

async function postProcedure(resource: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${app.fhirUrl}/fhir/ehr-north/Procedure`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(resource) });
  expect(response.status).toBe(200);
}

async function api<T>(path: string, method = 'GET'): Promise<{ status: number; body: T }> {
  const response = await fetch(`${app.httpUrl}${path}`, { method, headers: { authorization: `Bearer ${ADMIN}` } });
  return { status: response.status, body: (await response.json()) as T };
}

async function netQuantity(): Promise<Record<number, number>> {
  const { rows } = await app.database.pool.query<{ product_id: number; quantity: string }>('select product_id, sum(quantity) as quantity from carelane.utilization_events group by 1');
  return Object.fromEntries(rows.map((r) => [r.product_id, Number(r.quantity)]));
}

/** Entries Carelane recorded as posted: written when cost.post_entry completes, just after Odoo posted the move. */
const recordedEntries = async () => Number((await app.database.pool.query<{ n: string }>('select count(*) as n from carelane.cost_entries')).rows[0]!.n);

const eventCount = async () => Number((await app.database.pool.query<{ n: string }>('select count(*) as n from carelane.utilization_events')).rows[0]!.n);

/** Every Carelane entry posted, with its Odoo journal items. */
async function postedMoves() {
  const moves = (await odoo.records('account.move', ['ref', 'state', 'move_type', 'date', 'name', 'amount_total'])).filter((m) => String(m.ref).startsWith('Carelane cost:'));
  const lines = await odoo.records('account.move.line', ['move_id', 'account_id', 'debit', 'credit', 'product_id', 'quantity', 'analytic_distribution']);
  return moves.map((move): Record<string, unknown> & { lines: typeof lines } => ({ ...move, lines: lines.filter((l) => (Array.isArray(l.move_id) ? l.move_id[0] : l.move_id) === move.id) }));
}

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 6);
  odoo = await startOdooSimulator({ version: 17, databaseUrl: db.url, schema: 'odoo_cost_allocation', reset: true });
  client = await OdooClient.connect({ url: odoo.url, database: odoo.database, login: 'admin', apiKey: 'sim-admin-api-key', transport: 'jsonrpc' });
  const ensured = await new ProductGateway(client).ensure([
    { key: 'item:gauze', defaultCode: 'GAUZE-4X4', name: 'Gauze 4x4', storable: true },
    { key: 'item:drape', defaultCode: 'DRAPE-KNEE', name: 'Knee drape', storable: true },
  ]);
  for (const [key, value] of ensured) products[key] = value.id;
  await client.write('product.product', [products['item:gauze']!], { standard_price: PRICE.gauze });
  await client.write('product.product', [products['item:drape']!], { standard_price: PRICE.drape });
  const [departments, serviceLines] = await odoo.seedRecords('account.analytic.plan', [{ name: 'Departments' }, { name: 'Service lines' }]);
  const ids = await odoo.seedRecords('account.analytic.account', [
    { name: 'Operating rooms', code: 'OR', plan_id: departments },
    { name: 'Ward 5', code: 'W5', plan_id: departments },
    { name: 'ICU', code: 'ICU', plan_id: departments },
    { name: 'Orthopaedics', code: 'ORTHO', plan_id: serviceLines },
  ]);
  [accounts.or, accounts.ward, accounts.icu, accounts.ortho] = ids as [number, number, number, number];

  const config = parseConfigText(
    `
server: { port: 0 }
mllp: { port: 0 }
engine: { pollIntervalMs: 50 }
fhir:
  listener: { port: 0 }
  sources: [{ id: ehr-north }]
odoo:
  connections:
    odoo-main: { url: "${odoo.url}", database: ${odoo.database}, login: admin, apiKey: "\${env:ODOO_KEY}", transport: jsonrpc, timeoutMs: 5000 }
flows:
  costAllocation:
    timeZone: UTC
    expenseAccountId: ${odoo.seeded.expenseAccountId}
    counterpartAccountId: ${odoo.seeded.stockValuationAccountId}
    serviceLines: { "29881": ${accounts.ortho} }
governance:
  tokenization:
    keys: [{ id: k1, secret: "\${env:PTK}" }]
    activeKeyId: k1
routes:
  - { source: mllp, type: "DFT^*", lane: critical, flow: demand }
  - { source: "fhir:*", type: "FHIR_*", lane: critical, flow: demand }
  - { lane: standard, flow: noop }
`,
    { DATABASE_URL: db.url, CARELANE_ADMIN_TOKEN: ADMIN, ODOO_KEY: 'sim-admin-api-key', PTK: 'tokenization-secret-for-cost-allocation-tests-01' },
  );
  flows = config.flows;
  app = await startCarelane({ config, origin: 'test' }, { log: pino({ level: 'silent' }) });
  const actor = { actor: 'test', source: 'test setup' };
  const place = { site: 'north', odooConnection: 'odoo-main', storeroomLocationId: odoo.seeded.stockLocationId, destinationLocationId: odoo.seeded.wardLocationId, pickingTypeId: odoo.seeded.internalPickingTypeId };
  await applyMappings(app.database.pool, 'locations', [
    { ehrSystem: 'facility:NORTH', ehrCode: 'OR-3', ...place, analyticAccountId: accounts.or },
    { ehrSystem: '', ehrCode: 'Location/WARD-5', ...place, analyticAccountId: accounts.ward },
    // a location mapped for reservations but not yet to a cost centre
    { ehrSystem: 'facility:NORTH', ehrCode: 'ICU-1', ...place },
  ], actor);
  await applyMappings(app.database.pool, 'items', [
    { ehrSystem: ITEMS, ehrCode: 'G44', odooProductId: products['item:gauze']! },
    { ehrSystem: ITEMS, ehrCode: 'DRP', odooProductId: products['item:drape']! },
  ], actor);
}, 60_000);

afterAll(async () => {
  await app?.stop();
  await odoo?.close();
  await db?.drop();
});

describe('cost allocation (utilization → analytic distribution at a daily cutoff)', () => {
  it('records charges and procedures per department and service line; a re-sent message adds nothing', async () => {
    const [ack] = await sendMllp('127.0.0.1', app.mllpPort!, [dft('DFT-1', ft1(1, 'T-1', threeDaysAgo, 'CG', 'G44', 4, 'OR-3'), ft1(2, 'T-2', threeDaysAgo, 'CG', 'DRP', 1, 'OR-3'))]);
    expect(ack).toContain('MSA|AA|DFT-1');
    await postProcedure(procedure('proc-1', 'completed', threeDaysAgo, ['G44']));
    await waitFor(async () => (await eventCount()) === 3, 15_000, 'three utilization events');
    const { rows } = await app.database.pool.query<{ department_account_id: number; service_line: string; service_line_account_id: number; product_id: number; quantity: string; period: string; late: boolean }>(
      `select department_account_id, service_line, service_line_account_id, product_id, quantity, to_char(period, 'YYYY-MM-DD') as period, late from carelane.utilization_events order by department_account_id, product_id`,
    );
    expect(rows.map((r) => ({ ...r, quantity: Number(r.quantity) }))).toEqual([
      { department_account_id: accounts.or, service_line: '29881', service_line_account_id: accounts.ortho, product_id: products['item:gauze'], quantity: 4, period: threeDaysAgo, late: false },
      { department_account_id: accounts.or, service_line: '29881', service_line_account_id: accounts.ortho, product_id: products['item:drape'], quantity: 1, period: threeDaysAgo, late: false },
      { department_account_id: accounts.ward, service_line: '29881', service_line_account_id: accounts.ortho, product_id: products['item:gauze'], quantity: 1, period: threeDaysAgo, late: false },
    ]);

    // The billing system sends the same charges again under a new control id: same FT1-2, nothing to add.
    await sendMllp('127.0.0.1', app.mllpPort!, [dft('DFT-1-again', ft1(1, 'T-1', threeDaysAgo, 'CG', 'G44', 4, 'OR-3'), ft1(2, 'T-2', threeDaysAgo, 'CG', 'DRP', 1, 'OR-3'))]);
    await waitFor(async () => {
      const { rows: done } = await app.database.pool.query(`select 1 from carelane.deliveries d join carelane.messages m on m.id = d.message_id where m.external_id = 'DFT-1-again' and d.action = 'cost.record' and d.status = 'done'`);
      return done.length === 2;
    }, 15_000, 'the re-sent charges processed');
    expect(await eventCount()).toBe(3);
  });

  it('parks utilization at a location without a cost centre, and records it once the analytic account is added', async () => {
    await sendMllp('127.0.0.1', app.mllpPort!, [dft('DFT-ICU', ft1(1, 'T-ICU', threeDaysAgo, 'CG', 'G44', 2, 'ICU-1'))]);
    const parked = await waitFor(async () => {
      const { rows } = await app.database.pool.query<{ id: string; reason: string; detail: { unmapped: unknown[] } }>(`select id, reason, detail from carelane.exceptions where type = 'mapping_failure' and status = 'open'`);
      return rows[0];
    }, 15_000, 'the parked charge');
    expect(parked.reason).toContain('ICU-1');
    expect(parked.reason).toContain('no analytic account');
    expect(parked.detail.unmapped).toEqual([{ kind: 'location', system: 'facility:NORTH', code: 'ICU-1' }]);
    const place = { site: 'north', odooConnection: 'odoo-main', storeroomLocationId: odoo.seeded.stockLocationId, destinationLocationId: odoo.seeded.wardLocationId, pickingTypeId: odoo.seeded.internalPickingTypeId };
    await applyMappings(app.database.pool, 'locations', [{ ehrSystem: 'facility:NORTH', ehrCode: 'ICU-1', ...place, analyticAccountId: accounts.icu }], { actor: 'integrator', source: 'test' });
    await waitFor(async () => (await eventCount()) === 4, 15_000, 'the replayed charge recorded');
    const { rows } = await app.database.pool.query<{ status: string }>('select status from carelane.exceptions where id = $1', [parked.id]);
    expect(rows[0]!.status).toBe('resolved');
  });

  it('the cutoff posts one balanced entry per department with the analytic distribution, once', async () => {
    const cutoff = await api<{ closed: Array<{ from: string; to: string }>; entries: unknown[] }>('/api/v1/cost-allocation/cutoff', 'POST');
    expect(cutoff.status).toBe(200);
    expect(cutoff.body.closed).toEqual([{ odooConnection: 'odoo-main', from: threeDaysAgo, to: addDays(today, -1) }]);
    expect(cutoff.body.entries).toHaveLength(3); // OR, ward, ICU
    const moves = await waitFor(async () => {
      const found = await postedMoves();
      return found.length === 3 && found.every((m) => m.state === 'posted') && (await recordedEntries()) === 3 && found;
    }, 20_000, 'three posted entries');
    const orMove = moves.find((m) => m.lines.some((l) => JSON.stringify(l.analytic_distribution).includes(`${accounts.or},${accounts.ortho}`)))!;
    expect(orMove).toMatchObject({ move_type: 'entry', date: threeDaysAgo });
    expect(String(orMove.name)).toMatch(/^MISC\/\d{4}\/\d{2}\/\d{4}$/);
    const expense = orMove.lines.filter((l) => (l.account_id as [number, string])[0] === odoo.seeded.expenseAccountId);
    // 17+: one comma-joined key for the department and the service line (reference/odoo.md §2.11)
    expect(expense.map((l) => [l.quantity, l.debit, l.analytic_distribution])).toEqual(
      expect.arrayContaining([
        [4, 4 * PRICE.gauze, { [`${accounts.or},${accounts.ortho}`]: 100 }],
        [1, PRICE.drape, { [`${accounts.or},${accounts.ortho}`]: 100 }],
      ]),
    );
    for (const move of moves) {
      const debit = move.lines.reduce((s, l) => s + Number(l.debit), 0);
      const credit = move.lines.reduce((s, l) => s + Number(l.credit), 0);
      expect(debit).toBeCloseTo(credit, 6);
    }
    expect(Number(orMove.amount_total)).toBeCloseTo(4 * PRICE.gauze + PRICE.drape, 6);

    // Running the cutoff again closes nothing and posts nothing twice.
    const again = await api<{ closed: unknown[]; entries: unknown[] }>('/api/v1/cost-allocation/cutoff', 'POST');
    expect(again.body).toEqual({ closed: [], entries: [] });
    const { rows: audit } = await app.database.pool.query<{ actor: string }>(`select actor from carelane.audit_log where action = 'cost.cutoff'`);
    expect(audit).toHaveLength(1);
  });

  it('a late event, a reversal and a credit go to the next open period; closed periods stay as posted; totals reconcile', async () => {
    const before = await postedMoves();
    // proc-2 happened three days ago (a closed day) but arrives now: late, today's period.
    await postProcedure(procedure('proc-2', 'completed', threeDaysAgo, ['G44', 'G44']));
    // proc-1 was entered in error: its gauze comes off, in the period open now.
    await postProcedure(procedure('proc-1', 'entered-in-error', threeDaysAgo, ['G44']));
    // The billing system credits the drape (FT1-6 CD, a transaction of its own).
    await sendMllp('127.0.0.1', app.mllpPort!, [dft('DFT-CREDIT', ft1(1, 'T-3', today, 'CD', 'DRP', 1, 'OR-3'))]);
    await waitFor(async () => (await eventCount()) === 7, 15_000, 'late event, reversal and credit recorded');
    const { rows: recent } = await app.database.pool.query<{ demand_key: string; quantity: string; period: string; late: boolean }>(
      `select demand_key, quantity, to_char(period, 'YYYY-MM-DD') as period, late from carelane.utilization_events where period = $1::date order by demand_key`,
      [today],
    );
    const bySource = recent.map((r) => [r.demand_key.split('|').at(-1)!, Number(r.quantity), r.late] as const).sort((a, b) => a[0].localeCompare(b[0]));
    expect(bySource).toEqual([
      ['Procedure/proc-1', -1, true],
      ['Procedure/proc-2', 2, true],
      ['T-3', -1, false],
    ]);
    const periods = await api<{ periods: CostPeriodView[] }>(`/api/v1/cost-allocation/periods?from=${threeDaysAgo}`);
    const closedWard = periods.body.periods.find((p) => p.period === threeDaysAgo && p.departmentAccountId === accounts.ward)!;
    expect(closedWard).toMatchObject({ closed: true, events: 1, quantity: 1, postedQuantity: 1, amount: PRICE.gauze, reconciled: true });
    const openWard = periods.body.periods.find((p) => p.period === today && p.departmentAccountId === accounts.ward)!;
    expect(openWard).toMatchObject({ closed: false, events: 2, lateEvents: 2, quantity: 1, entryKey: null, reconciled: null });
    // Nothing posted in a closed period changed.
    expect(await postedMoves()).toEqual(before);

    // Tomorrow's cutoff closes today and posts the net: ward +1 gauze, OR a credit of one drape.
    const tomorrow = new Date(Date.parse(`${addDays(today, 1)}T06:00:00Z`));
    const result = await closeCostPeriods(app.database.pool, flows, ['odoo-main'], 'test', tomorrow);
    expect(result.closed).toEqual([{ odooConnection: 'odoo-main', from: today, to: today }]);
    const moves = await waitFor(async () => {
      const found = await postedMoves();
      return found.length === 5 && found.every((m) => m.state === 'posted') && (await recordedEntries()) === 5 && found;
    }, 20_000, 'two more posted entries');
    const orCredit = moves.find((m) => m.date === today && m.lines.some((l) => JSON.stringify(l.analytic_distribution).includes(`${accounts.or},`)))!;
    const creditLine = orCredit.lines.find((l) => (l.account_id as [number, string])[0] === odoo.seeded.expenseAccountId)!;
    expect([creditLine.debit, creditLine.credit, creditLine.quantity]).toEqual([0, PRICE.drape, -1]);

    // Totals reconcile with consumption: per product, the net used equals what was posted, and what Odoo's
    // journal items carry on the expense account equals Carelane's recorded amounts.
    expect(await netQuantity()).toEqual({ [products['item:gauze']!]: 4 + 1 + 2 + 2 - 1, [products['item:drape']!]: 0 });
    const all = await api<{ periods: CostPeriodView[] }>(`/api/v1/cost-allocation/periods?from=${threeDaysAgo}`);
    expect(all.body.periods.filter((p) => !(p.closed && p.reconciled === true))).toEqual([]);
    const { rows: entries } = await app.database.pool.query<{ amount: string; quantity: string }>('select amount, quantity from carelane.cost_entries');
    const posted = entries.reduce((s, e) => s + Number(e.amount), 0);
    const expected = (4 + 1 + 2 + 2 - 1) * PRICE.gauze + 0 * PRICE.drape;
    expect(posted).toBeCloseTo(expected, 6);
    const odooExpense = moves.flatMap((m) => m.lines).filter((l) => (l.account_id as [number, string])[0] === odoo.seeded.expenseAccountId).reduce((s, l) => s + Number(l.debit) - Number(l.credit), 0);
    expect(odooExpense).toBeCloseTo(expected, 6);
    expect(entries.reduce((s, e) => s + Number(e.quantity), 0)).toBe(4 + 1 + 2 + 2 - 1 + 0);
  });

  it('writes the 16 format (one key per plan) and the 17+ format (plans combined)', () => {
    expect(costDistribution(16, 7, 12)).toEqual({ '7': 100, '12': 100 });
    expect(costDistribution(17, 7, 12)).toEqual({ '7,12': 100 });
    expect(costDistribution(19, 7, null)).toEqual({ '7': 100 });
  });

  it('keeps patient identifiers out of what reaches Odoo', async () => {
    const everything = JSON.stringify(await postedMoves());
    for (const identifier of ['777888', 'ROE', 'pat-42']) expect(everything).not.toContain(identifier);
  });
});
