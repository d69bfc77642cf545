import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { Queryable } from '../store/database.ts';

// Append-only, hash-chained: each entry's hash covers its content and the previous entry's hash, so editing or
// deleting any entry breaks every hash after it. `verifyAuditChain` finds the first break.

const AUDIT_LOCK = 7_310_002;
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
function stableJson(value: unknown): string {
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
  await tx.query(
    `insert into carelane.audit_log (at, actor, action, target_type, target_id, reason, detail, prev_hash, hash)
     values ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9)`,
    [at, entry.actor, entry.action, entry.targetType ?? null, entry.targetId ?? null, entry.reason ?? null, JSON.stringify(entry.detail ?? null), prevHash, entryHash(prevHash, at, entry)],
  );
}

export interface AuditVerification {
  entries: number;
  ok: boolean;
  firstBrokenId?: number;
  problem?: string;
}

export async function verifyAuditChain(db: Queryable): Promise<AuditVerification> {
  const { rows } = await db.query<{ id: number; at: Date; actor: string; action: string; target_type: string | null; target_id: string | null; reason: string | null; detail: unknown; prev_hash: string; hash: string }>(
    'select * from carelane.audit_log order by id',
  );
  let prevHash = GENESIS;
  for (const row of rows) {
    if (row.prev_hash !== prevHash) return { entries: rows.length, ok: false, firstBrokenId: row.id, problem: 'an earlier entry was deleted or altered' };
    const expected = entryHash(prevHash, row.at.toISOString(), {
      actor: row.actor,
      action: row.action,
      ...(row.target_type === null ? {} : { targetType: row.target_type }),
      ...(row.target_id === null ? {} : { targetId: row.target_id }),
      ...(row.reason === null ? {} : { reason: row.reason }),
      detail: row.detail,
    });
    if (expected !== row.hash) return { entries: rows.length, ok: false, firstBrokenId: row.id, problem: 'this entry was altered' };
    prevHash = row.hash;
  }
  return { entries: rows.length, ok: true };
}
