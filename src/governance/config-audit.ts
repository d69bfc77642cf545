import { createHash } from 'node:crypto';
import type pg from 'pg';
import { inTransaction } from '../store/database.ts';
import { AUDIT_LOCK, appendAudit, stableJson } from './audit.ts';

// Configuration changes in the audit trail (issue 8). carelane.yaml is the source of truth and changes by a
// restart, so the change is seen when a node starts: the configuration as shown to people (secrets redacted)
// is compared with the last one recorded, and a difference is appended as `config.change` with the paths that
// changed and the whole redacted configuration, so the next change can be compared with it. Who edited the
// file is not knowable here; the entry names the node that loaded it and the file.

const MAX_LISTED_CHANGES = 200;

export interface ConfigChange {
  hash: string;
  previousHash: string | null;
  /** dotted paths whose value was added, removed or changed */
  changed: string[];
}

/**
 * Appends `config.change` if the redacted configuration differs from the last one recorded; returns the change,
 * or undefined when it is the same.
 */
export async function recordConfiguration(pool: pg.Pool, shown: unknown, who: { node: string; origin: string }): Promise<ConfigChange | undefined> {
  // compared as it is stored (JSON: undefined settings absent), so the last recorded one compares like for like
  const redacted = JSON.parse(JSON.stringify(shown ?? null)) as unknown;
  const hash = createHash('sha256').update(stableJson(redacted)).digest('hex');
  return inTransaction(pool, async (tx) => {
    // the audit chain's lock: two nodes starting together record one change
    await tx.query('select pg_advisory_xact_lock($1)', [AUDIT_LOCK]);
    const { rows } = await tx.query<{ detail: { hash?: string; config?: unknown } | null }>(
      `select detail from carelane.audit_log where action = 'config.change' order by id desc limit 1`,
    );
    const previous = rows[0]?.detail ?? undefined;
    if (previous?.hash === hash) return undefined;
    const changed = previous ? differences(previous.config, redacted, '') : [];
    const change: ConfigChange = { hash, previousHash: previous?.hash ?? null, changed: changed.slice(0, MAX_LISTED_CHANGES) };
    await appendAudit(tx, {
      actor: `node:${who.node}`,
      action: 'config.change',
      targetType: 'configuration',
      targetId: hash.slice(0, 16),
      reason: previous ? `configuration loaded from ${who.origin} differs from the last one recorded` : `first configuration recorded (${who.origin})`,
      detail: { ...change, changedCount: changed.length, config: redacted },
    });
    return change;
  });
}

function differences(before: unknown, after: unknown, path: string): string[] {
  if (isRecord(before) && isRecord(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((key) => differences(before[key], after[key], path ? `${path}.${key}` : key));
  }
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    return before.flatMap((item, index) => differences(item, after[index], `${path}.${index}`));
  }
  return stableJson(before) === stableJson(after) ? [] : [path || '(root)'];
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
