import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastControlNumber, nextControlNumber, nextEnvelopeNumbers } from '../src/connectors/x12/control-numbers.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 12);
});
afterAll(async () => {
  await db?.drop();
});

describe('X12 control numbers on PostgreSQL', () => {
  it('starts at 1 and counts up per partner and kind, independently', async () => {
    expect(await nextControlNumber(db.pool, 'acme', 'ISA')).toBe(1);
    expect(await nextControlNumber(db.pool, 'acme', 'ISA')).toBe(2);
    expect(await nextControlNumber(db.pool, 'acme', 'GS')).toBe(1);
    expect(await nextControlNumber(db.pool, 'medline', 'ISA')).toBe(1);
    expect(await lastControlNumber(db.pool, 'acme', 'ISA')).toBe(2);
    expect(await nextEnvelopeNumbers(db.pool, 'owens')).toEqual({ interchange: 1, group: 1, transaction: 1 });
  });

  it('never hands out the same number twice under concurrent senders', async () => {
    const values = await Promise.all(Array.from({ length: 60 }, () => nextControlNumber(db.pool, 'busy', 'ST')));
    expect(new Set(values).size).toBe(60);
    expect(Math.max(...values)).toBe(60);
  });

  it('does not reuse a number taken in a transaction that rolled back', async () => {
    const client = await db.pool.connect();
    try {
      await client.query('begin');
      expect(await nextControlNumber(client, 'rollback', 'ISA')).toBe(1);
      await client.query('commit');
      await client.query('begin');
      await nextControlNumber(client, 'rollback', 'ISA');
      await client.query('rollback');
    } finally {
      client.release();
    }
    // The rolled-back number was never sent; the row is back at 1, and the next number is still unused.
    expect(await nextControlNumber(db.pool, 'rollback', 'ISA')).toBe(2);
  });

  it('refuses to wrap around once ISA13 is exhausted', async () => {
    await db.pool.query("insert into carelane.x12_control_numbers (partner, kind, last_value) values ('full', 'ISA', 999999999)");
    await expect(nextControlNumber(db.pool, 'full', 'ISA')).rejects.toMatchObject({ code: 'x12_control_numbers_exhausted' });
  });
});
