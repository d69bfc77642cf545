import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markOutboundSent, prepareOutbound, raiseSupplierDelays, recordFunctionalAcks, type X12PartnerProfile } from '../src/connectors/x12/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

const profile = (id: string, withinMinutes: number): X12PartnerProfile => ({
  id,
  ours: { qualifier: 'ZZ', id: 'CARELANE', applicationCode: 'CARELANE' },
  theirs: { qualifier: 'ZZ', id: id.toUpperCase(), applicationCode: id.toUpperCase() },
  version: '005010',
  transport: 'http',
  endpoint: 'http://127.0.0.1:1/x12',
  acknowledgment: { kind: '999', withinMinutes },
  usage: 'P',
});
const fast = profile('fastsupply', 30);
const slow = profile('slowsupply', 240);

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 4);
});
afterAll(async () => {
  await db?.drop();
});

async function sent(key: string, partner: string, sentAt: string): Promise<number> {
  const o = await prepareOutbound(db.pool, { idempotencyKey: key, partner, transactionType: '850', functionalId: 'PO' }, (n) => ({ body: `ISA ${n.interchange}`, st02: String(n.transaction).padStart(4, '0') }));
  await markOutboundSent(db.pool, key);
  await db.pool.query('update carelane.x12_outbound set sent_at = $2 where idempotency_key = $1', [key, sentAt]);
  return o.gs06;
}

const openDelays = () => db.pool.query<{ reason: string; classification: string; detail: { partner: string; idempotencyKey: string; minutesLate: number; isa13: number } }>("select reason, classification, detail from carelane.exceptions where type = 'supplier_delay' and status = 'open' order by id").then((r) => r.rows);

describe('supplier_delay exceptions from overdue 997/999s', () => {
  it('opens one business exception per overdue interchange, with the partner and how late, and never a second', async () => {
    const now = new Date('2026-03-01T12:00:00Z');
    await sent('po-a', fast.id, '2026-03-01T10:00:00Z'); // due 10:30 → 90 min late
    await sent('po-b', fast.id, '2026-03-01T11:45:00Z'); // due 12:15 → not late
    await sent('po-c', slow.id, '2026-03-01T07:00:00Z'); // due 11:00 → 60 min late
    const gs06 = await sent('po-d', fast.id, '2026-03-01T09:00:00Z'); // late, but acknowledged
    await recordFunctionalAcks(db.pool, fast.id, [{ kind: '999', functionalId: 'PO', groupControlNumber: String(gs06), status: 'A', transactions: [] }]);
    await prepareOutbound(db.pool, { idempotencyKey: 'po-e', partner: fast.id, transactionType: '850', functionalId: 'PO' }, () => ({ body: 'x', st02: '0001' })); // never sent

    const raised = await raiseSupplierDelays(db.pool, [fast, slow], now);
    expect(raised.map((r) => [r.idempotencyKey, r.partner, r.minutesLate]).sort()).toEqual([['po-a', fast.id, 90], ['po-c', slow.id, 60]]);
    const rows = await openDelays();
    expect(rows).toHaveLength(2);
    expect(rows.every((r) => r.classification === 'business')).toBe(true);
    expect(rows.find((r) => r.detail.idempotencyKey === 'po-a')!.reason).toMatch(/fastsupply.*999 expected within 30 min.*90 min late/);

    // Later runs (and two at once) add nothing for the same interchanges.
    const again = await Promise.all([raiseSupplierDelays(db.pool, [fast, slow], new Date('2026-03-01T13:00:00Z')), raiseSupplierDelays(db.pool, [fast, slow], new Date('2026-03-01T13:00:00Z'))]);
    expect(again.flat().map((r) => r.idempotencyKey)).toEqual(['po-b']);
    expect(await openDelays()).toHaveLength(3);
  });
});
