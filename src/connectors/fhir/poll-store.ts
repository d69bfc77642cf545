import type pg from 'pg';
import { NEW_CURSOR, type PollCursor } from './poll-cursor.ts';

/**
 * The poll cursors in PostgreSQL (carelane.fhir_poll_cursors, migration 024): claimed under a lease so that of
 * several Carelane processes one polls a (source, type) at a time, saved only by the lease's holder (a holder
 * whose lease ran out and was taken over cannot move the cursor back under the new one).
 */

export interface PollLease {
  source: string;
  resourceType: string;
  holder: string;
  seconds: number;
}

/** The stored cursor, or undefined when another holder's lease is still running. */
export async function claimCursor(pool: pg.Pool, lease: PollLease): Promise<PollCursor | undefined> {
  await pool.query('insert into carelane.fhir_poll_cursors (source, resource_type) values ($1, $2) on conflict do nothing', [lease.source, lease.resourceType]);
  const { rows } = await pool.query<{ last_updated: string | null; seen: Record<string, string> }>(
    `update carelane.fhir_poll_cursors set lease_holder = $3, lease_until = now() + make_interval(secs => $4)
      where source = $1 and resource_type = $2 and (lease_until is null or lease_until < now() or lease_holder = $3)
      returning last_updated, seen`,
    [lease.source, lease.resourceType, lease.holder, lease.seconds],
  );
  const row = rows[0];
  if (!row) return undefined;
  return row.last_updated === null && Object.keys(row.seen).length === 0 ? NEW_CURSOR : { lastUpdated: row.last_updated ?? undefined, seen: row.seen };
}

/** Saves the cursor and extends the lease; false when the lease was lost (nothing saved). */
export async function saveCursor(pool: pg.Pool, lease: PollLease, cursor: PollCursor, complete: boolean): Promise<boolean> {
  const { rowCount } = await pool.query(
    `update carelane.fhir_poll_cursors
        set last_updated = $4, seen = $5::jsonb, lease_until = now() + make_interval(secs => $6), updated_at = now(),
            last_run_at = case when $7 then now() else last_run_at end
      where source = $1 and resource_type = $2 and lease_holder = $3`,
    [lease.source, lease.resourceType, lease.holder, cursor.lastUpdated ?? null, JSON.stringify(cursor.seen), lease.seconds, complete],
  );
  return rowCount === 1;
}

/** Extends the lease without touching the cursor; false when the lease was lost. */
export async function renewLease(pool: pg.Pool, lease: PollLease): Promise<boolean> {
  const { rowCount } = await pool.query(
    'update carelane.fhir_poll_cursors set lease_until = now() + make_interval(secs => $4) where source = $1 and resource_type = $2 and lease_holder = $3',
    [lease.source, lease.resourceType, lease.holder, lease.seconds],
  );
  return rowCount === 1;
}

export async function releaseCursor(pool: pg.Pool, lease: PollLease): Promise<void> {
  await pool.query(
    'update carelane.fhir_poll_cursors set lease_holder = null, lease_until = null where source = $1 and resource_type = $2 and lease_holder = $3',
    [lease.source, lease.resourceType, lease.holder],
  );
}

/** What is stored for a source (tests and the docs' operator queries read the same columns). */
export async function readCursors(pool: pg.Pool, source: string): Promise<Array<{ resourceType: string; lastUpdated: string | null; seen: number; lastRunAt: Date | null }>> {
  const { rows } = await pool.query<{ resource_type: string; last_updated: string | null; seen: number; last_run_at: Date | null }>(
    `select resource_type, last_updated, (select count(*)::int from jsonb_object_keys(seen)) as seen, last_run_at
       from carelane.fhir_poll_cursors where source = $1 order by resource_type`,
    [source],
  );
  return rows.map((r) => ({ resourceType: r.resource_type, lastUpdated: r.last_updated, seen: r.seen, lastRunAt: r.last_run_at }));
}

/** The saved cursor of each resource type of these sources (rows whose cursor has not moved yet are left out). */
export async function savedCursors(pool: pg.Pool, sources: readonly string[]): Promise<Array<{ source: string; resourceType: string; lastUpdated: string }>> {
  const { rows } = await pool.query<{ source: string; resource_type: string; last_updated: string }>(
    'select source, resource_type, last_updated from carelane.fhir_poll_cursors where source = any($1) and last_updated is not null',
    [sources],
  );
  return rows.map((r) => ({ source: r.source, resourceType: r.resource_type, lastUpdated: r.last_updated }));
}
