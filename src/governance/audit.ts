import { createHash } from 'node:crypto';
import type { Selectable } from 'kysely';
import type pg from 'pg';
import type { Queryable } from '../store/database.ts';
import type { AuditLogTable } from '../store/schema.ts';

// Append-only, hash-chained: each entry's hash covers its content and the previous entry's hash, so editing or
// deleting any entry breaks every hash after it. `verifyAuditChain` finds the first break.
// What a chain alone cannot show: the newest entries deleted (the rest still links up), or the whole chain
// recomputed by someone who can write the table. A checkpoint — an entry's id and hash written down outside the
// database after an earlier verify — closes both: verify checks that entry is still there with that hash.

/** The audit chain's advisory lock: held while appending, and by anyone reading the chain's tail to append after it. */
export const AUDIT_LOCK = 7_310_002;
const GENESIS = '0'.repeat(64);

export interface AuditEntry {
  actor: string;
  action: string;
  targetType?: string;
  targetId?: string;
  reason?: string;
  detail?: unknown;
}

// jsonb does not keep key order, so the hash is taken over keys in sorted order.
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${stableJson((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

function entryHash(prevHash: string, at: string, entry: AuditEntry): string {
  const canonical = stableJson([prevHash, at, entry.actor, entry.action, entry.targetType ?? null, entry.targetId ?? null, entry.reason ?? null, entry.detail ?? null]);
  return createHash('sha256').update(canonical).digest('hex');
}

/** Appends an entry; must run inside the transaction whose change it records. */
export async function appendAudit(tx: pg.PoolClient, entry: AuditEntry): Promise<void> {
  // Serialises writers so each entry links to the one committed before it.
  await tx.query('select pg_advisory_xact_lock($1)', [AUDIT_LOCK]);
  const { rows } = await tx.query<{ hash: string }>('select hash from carelane.audit_log order by id desc limit 1');
  const prevHash = rows[0]?.hash ?? GENESIS;
  const at = new Date().toISOString();
  // The hash covers the detail as stored (JSON), which verify reads back: an undefined key or a Date hashed as the
  // object in memory would not match its stored form, and verify would report an untouched entry as altered.
  const stored = JSON.stringify(entry.detail ?? null);
  const hash = entryHash(prevHash, at, { ...entry, detail: JSON.parse(stored) as unknown });
  await tx.query(
    `insert into carelane.audit_log (at, actor, action, target_type, target_id, reason, detail, prev_hash, hash)
     values ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9)`,
    [at, entry.actor, entry.action, entry.targetType ?? null, entry.targetId ?? null, entry.reason ?? null, stored, prevHash, hash],
  );
}

/** An entry as recorded outside the database, to compare with later (`carelane audit verify --checkpoint`). */
export interface AuditCheckpoint {
  id: number;
  hash: string;
}

export interface AuditVerification {
  /** entries checked (up to and including the first broken one) */
  entries: number;
  ok: boolean;
  firstBrokenId?: number;
  problem?: string;
  /** the newest entry: write it down as the next checkpoint */
  head?: AuditCheckpoint;
}

export interface VerifyOptions {
  /** an entry that must still be in the chain with this hash */
  checkpoint?: AuditCheckpoint | undefined;
  /** rows read per query, so a long trail is never held in memory at once */
  pageSize?: number;
}

// the row as Kysely types it (store/schema.ts); pg returns the bigint id as a string, hence Number(row.id)
type AuditRow = Selectable<AuditLogTable>;

export async function verifyAuditChain(db: Queryable, options: VerifyOptions = {}): Promise<AuditVerification> {
  const pageSize = options.pageSize ?? 5000;
  const checkpoint = options.checkpoint;
  let prevHash = GENESIS;
  let entries = 0;
  let head: AuditCheckpoint | undefined;
  let checkpointSeen = false;
  for (let afterId = 0; ; ) {
    const { rows } = await db.query<AuditRow>('select * from carelane.audit_log where id > $1 order by id limit $2', [afterId, pageSize]);
    for (const row of rows) {
      const id = Number(row.id);
      entries += 1;
      if (row.prev_hash !== prevHash) return { entries, ok: false, firstBrokenId: id, problem: 'an earlier entry was deleted or altered' };
      const expected = entryHash(prevHash, row.at.toISOString(), {
        actor: row.actor,
        action: row.action,
        ...(row.target_type === null ? {} : { targetType: row.target_type }),
        ...(row.target_id === null ? {} : { targetId: row.target_id }),
        ...(row.reason === null ? {} : { reason: row.reason }),
        detail: row.detail,
      });
      if (expected !== row.hash) return { entries, ok: false, firstBrokenId: id, problem: 'this entry was altered' };
      if (checkpoint && id === checkpoint.id) {
        if (row.hash !== checkpoint.hash) return { entries, ok: false, firstBrokenId: id, problem: 'this entry does not have the checkpoint’s hash: the trail up to it was rewritten' };
        checkpointSeen = true;
      }
      prevHash = row.hash;
      head = { id, hash: row.hash };
    }
    if (rows.length < pageSize) break;
    afterId = Number(rows.at(-1)!.id);
  }
  if (checkpoint && !checkpointSeen) {
    return { entries, ok: false, firstBrokenId: checkpoint.id, problem: 'the checkpoint’s entry is gone: the newest entries were deleted', ...(head ? { head } : {}) };
  }
  return { entries, ok: true, ...(head ? { head } : {}) };
}
