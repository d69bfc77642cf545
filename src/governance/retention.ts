import type pg from 'pg';

// Data minimization over time: payloads (which may hold PHI) are erased after `payloadDays`, and whole messages
// with their stages, deliveries and resolved exceptions after `metadataDays`. Work happens in small batches,
// each its own short statement or transaction, rows taken with SKIP LOCKED, so a purge never waits on or
// blocks live traffic. The audit log is never touched: it records decisions, not messages, and must stay whole.

export interface RetentionPeriods {
  payloadDays: number;
  metadataDays: number;
}

export interface RetentionPolicy extends RetentionPeriods {
  keepFailed: boolean;
  keepUnfinished: boolean;
  batchSize: number;
  classes: ReadonlyArray<{ source: string; payloadDays?: number | undefined; metadataDays?: number | undefined }>;
}

export interface PurgeResult {
  payloadsErased: number;
  messagesDeleted: number;
}

/** A class's source (`name` or `prefix*`) as a LIKE pattern with LIKE's own wildcards escaped. */
function likePattern(source: string): string {
  const escaped = source.replace(/[\\%_]/g, (c) => `\\${c}`);
  return escaped.endsWith('*') ? `${escaped.slice(0, -1)}%` : escaped;
}

interface Rule extends RetentionPeriods {
  /** patterns this rule's messages match (none = every source) */
  include: string | undefined;
  /** patterns of earlier classes: their messages belong to them, first match wins */
  exclude: string[];
}

function rules(policy: RetentionPolicy): Rule[] {
  const patterns = policy.classes.map((c) => likePattern(c.source));
  const perClass = policy.classes.map((c, index) => ({
    include: patterns[index],
    exclude: patterns.slice(0, index),
    payloadDays: c.payloadDays ?? policy.payloadDays,
    metadataDays: c.metadataDays ?? policy.metadataDays,
  }));
  return [...perClass, { include: undefined, exclude: patterns, payloadDays: policy.payloadDays, metadataDays: policy.metadataDays }];
}

/** Conditions shared by both purges; parameters $1 = days, $2 = include pattern or null, $3 = exclude patterns. */
function candidateFilter(policy: RetentionPolicy): string {
  const conditions = [
    `m.received_at < now() - make_interval(days => $1)`,
    `($2::text is null or m.source like $2)`,
    `not (m.source like any ($3::text[]))`,
  ];
  if (policy.keepFailed) conditions.push(`m.status not in ('failed', 'rejected')`);
  if (policy.keepUnfinished) {
    conditions.push(`m.status not in ('received', 'processing')`);
    conditions.push(`not exists (select 1 from carelane.deliveries d where d.message_id = m.id and d.status in ('pending', 'running', 'exception'))`);
    conditions.push(`not exists (select 1 from carelane.exceptions e where e.message_id = m.id and e.status = 'open')`);
  }
  return conditions.join(' and ');
}

export async function purgeExpiredMessages(pool: pg.Pool, policy: RetentionPolicy): Promise<PurgeResult> {
  const result: PurgeResult = { payloadsErased: 0, messagesDeleted: 0 };
  const filter = candidateFilter(policy);
  for (const rule of rules(policy)) {
    const params = (days: number) => [days, rule.include ?? null, rule.exclude];
    // Deleting first means the payload pass does not erase rows about to be deleted anyway.
    if (rule.metadataDays > 0) {
      for (;;) {
        const deleted = await deleteBatch(pool, filter, params(rule.metadataDays), policy.batchSize);
        result.messagesDeleted += deleted;
        if (deleted < policy.batchSize) break;
      }
    }
    if (rule.payloadDays > 0) {
      for (;;) {
        const { rowCount } = await pool.query(
          `update carelane.messages set payload = null, updated_at = now() where id in (
             select m.id from carelane.messages m where m.payload is not null and ${filter}
             order by m.id limit ${policy.batchSize} for update skip locked)`,
          params(rule.payloadDays),
        );
        result.payloadsErased += rowCount ?? 0;
        if ((rowCount ?? 0) < policy.batchSize) break;
      }
    }
  }
  return result;
}

async function deleteBatch(pool: pg.Pool, filter: string, params: unknown[], batchSize: number): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const { rows } = await client.query<{ id: number }>(
      `select m.id from carelane.messages m where ${filter} order by m.id limit ${batchSize} for update skip locked`,
      params,
    );
    const ids = rows.map((row) => row.id);
    if (ids.length > 0) {
      // Children first: deliveries and exceptions only point at messages with "set null", so deleting the
      // message alone would leave them behind, holding their payloads and reasons.
      await client.query(`delete from carelane.exceptions where message_id = any ($1) and status = 'resolved'`, [ids]);
      await client.query('delete from carelane.deliveries where message_id = any ($1)', [ids]);
      await client.query('delete from carelane.messages where id = any ($1)', [ids]); // stages cascade
    }
    await client.query('commit');
    return ids.length;
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
