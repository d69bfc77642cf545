import type pg from 'pg';
import { permanentError } from '../../contracts/errors.ts';

/**
 * Control numbers per trading partner, persisted and never reused (table carelane.x12_control_numbers,
 * migration 002_x12.sql). ISA13 is N0 9/9 and GS06 N0 1/9 (X12.5/X12.6): values run 1 … 999 999 999; ST02 is
 * AN 4/9 and Carelane writes it as a number of at least four digits. Running out is refused rather than
 * wrapped to 1, since a partner that remembers old numbers would take the new interchange for a duplicate.
 */

export type ControlNumberKind = 'ISA' | 'GS' | 'ST';

const MAX_VALUE = 999_999_999;

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

/**
 * Takes the next control number of `kind` for `partner`. Atomic on its own (insert … on conflict do update …
 * returning locks the row); inside the caller's transaction it commits or rolls back with it, which may burn
 * a number but never hands one out twice.
 */
export async function nextControlNumber(db: Queryable, partner: string, kind: ControlNumberKind): Promise<number> {
  if (!partner.trim()) throw permanentError('partner is empty', { code: 'x12_partner_missing', where: { field: 'partner' } });
  const { rows } = await db.query<{ last_value: string }>(
    `insert into carelane.x12_control_numbers as c (partner, kind, last_value) values ($1, $2, 1)
     on conflict (partner, kind) do update set last_value = c.last_value + 1, updated_at = now()
     where c.last_value < $3
     returning last_value`,
    [partner, kind, MAX_VALUE],
  );
  const value = rows[0]?.last_value;
  if (value === undefined) {
    throw permanentError(`${kind} control numbers for partner ${partner} are exhausted (${MAX_VALUE})`, { code: 'x12_control_numbers_exhausted', where: { field: kind } });
  }
  return Number(value);
}

/** The three numbers one outbound interchange with one group and one transaction set needs, in one round trip each. */
export async function nextEnvelopeNumbers(db: Queryable, partner: string): Promise<{ interchange: number; group: number; transaction: number }> {
  return {
    interchange: await nextControlNumber(db, partner, 'ISA'),
    group: await nextControlNumber(db, partner, 'GS'),
    transaction: await nextControlNumber(db, partner, 'ST'),
  };
}

/** The last number handed out (0 when none): for monitoring and tests. */
export async function lastControlNumber(db: Queryable, partner: string, kind: ControlNumberKind): Promise<number> {
  const { rows } = await db.query<{ last_value: string }>('select last_value from carelane.x12_control_numbers where partner = $1 and kind = $2', [partner, kind]);
  return Number(rows[0]?.last_value ?? 0);
}
