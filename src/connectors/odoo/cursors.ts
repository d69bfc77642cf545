import type pg from 'pg';
import type { OdooClient } from './client.ts';
import type { Domain, OdooRecord } from './types.ts';

export interface ChangeCursor {
  writeDate: string;
  lastId: number;
}

export interface PollOptions {
  /** connection name from configuration: cursors are per Odoo database */
  connection: string;
  model: string;
  fields: string[];
  batchSize?: number;
  /** extra filter, e.g. [['usage','=','internal']] */
  domain?: Domain;
}

export async function loadCursor(pool: pg.Pool | pg.PoolClient, connection: string, model: string): Promise<ChangeCursor | undefined> {
  const { rows } = await pool.query<{ write_date: string; last_id: number }>('select write_date, last_id from carelane.odoo_cursors where connection = $1 and model = $2', [connection, model]);
  const row = rows[0];
  return row ? { writeDate: row.write_date, lastId: Number(row.last_id) } : undefined;
}

export async function saveCursor(pool: pg.Pool | pg.PoolClient, connection: string, model: string, cursor: ChangeCursor): Promise<void> {
  await pool.query(
    `insert into carelane.odoo_cursors (connection, model, write_date, last_id) values ($1, $2, $3, $4)
     on conflict (connection, model) do update set write_date = excluded.write_date, last_id = excluded.last_id, updated_at = now()`,
    [connection, model, cursor.writeDate, cursor.lastId],
  );
}

/**
 * Keyset over (write_date, id), oldest first: records written after the cursor, or in the cursor's second with
 * a larger id (write_date has one-second resolution). Odoo domains are prefix (Polish) notation.
 */
export function changedSince(cursor: ChangeCursor | undefined): Domain {
  if (!cursor) return [];
  return ['|', ['write_date', '>', cursor.writeDate], '&', ['write_date', '=', cursor.writeDate], ['id', '>', cursor.lastId]];
}

/**
 * Reads one batch of changed records, hands it to `handle`, and only then moves the cursor: a crash in between
 * re-delivers the batch (at least once; consumers are idempotent, DESIGN.md principle 2), never skips it.
 * Returns the number of records handed on; call again while it equals the batch size.
 * Caveat: Odoo stamps write_date when the write happens, not when its transaction commits, so a long transaction
 * can commit a record dated before the cursor; a reconciliation job (DESIGN.md flows) catches that drift.
 */
export async function pollChanges(client: OdooClient, pool: pg.Pool, options: PollOptions, handle: (records: OdooRecord[]) => Promise<void>): Promise<number> {
  const cursor = await loadCursor(pool, options.connection, options.model);
  const domain: Domain = [...(options.domain ?? []), ...changedSince(cursor)];
  const fields = [...new Set([...options.fields, 'write_date'])];
  const records = await client.searchRead(options.model, domain, { fields, order: 'write_date asc, id asc', limit: options.batchSize ?? 200 });
  if (records.length === 0) return 0;
  await handle(records);
  const last = records.at(-1)!;
  await saveCursor(pool, options.connection, options.model, { writeDate: String(last.write_date), lastId: last.id });
  return records.length;
}
