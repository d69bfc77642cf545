import type pg from 'pg';
import type { RouteConfig } from '../config/index.ts';
import { inTransaction } from '../store/database.ts';
import { messageWhere, type MessageFilter } from '../store/browse.ts';
import { enqueueDeliveries, recordStage } from '../store/queue.ts';
import { appendAudit } from '../governance/audit.ts';
import { findRoute } from './router.ts';

export interface ReplayRequest {
  /** messages by id, or by filter; one of the two is required */
  messageIds?: number[] | undefined;
  filter?: Omit<MessageFilter, 'before' | 'limit'> | undefined;
  /** at most this many messages (default 1000, max 10000) */
  limit?: number | undefined;
  dryRun: boolean;
  /** re-run messages whose effects were already delivered (a new effect at the peer) */
  force: boolean;
  actor: string;
  reason: string;
  ratePerSecond: number;
}

export type ReplayDecision =
  | 'requeue_failed_deliveries' // parked work goes back to its queue, same idempotency keys
  | 'route_again' // never routed (no route matched at the time): route it now
  | 'rerun_forced' // delivered before: run the whole message again under new keys
  | 'refused_already_delivered'
  | 'refused_in_progress'
  | 'refused_rejected_input'
  | 'refused_no_route';

export interface ReplayItem {
  messageId: number;
  decision: ReplayDecision;
  /** when the replayed work becomes ready (rate limiting), for decisions that enqueue */
  readyAt?: Date;
}

export interface ReplayOutcome {
  replayId: number | null;
  dryRun: boolean;
  matched: number;
  requeued: number;
  refused: number;
  items: ReplayItem[];
}

interface Candidate {
  id: number;
  source: string;
  message_type: string;
  correlation_id: string;
  status: string;
  unfinished: number;
  failed: number;
  done: number;
  routes: number;
}

const ENQUEUES: ReadonlySet<ReplayDecision> = new Set(['requeue_failed_deliveries', 'route_again', 'rerun_forced']);

/**
 * Replays messages safely: a dry run shows what each message would get; a real run is rate-limited (work is
 * spread over time at `ratePerSecond`), audited with who and why, and refuses to deliver an effect twice
 * unless forced.
 */
export async function replayMessages(pool: pg.Pool, routes: RouteConfig[], request: ReplayRequest): Promise<ReplayOutcome> {
  if (!request.reason.trim()) throw new Error('a replay needs a reason');
  if (!request.messageIds?.length && !request.filter) throw new Error('a replay needs message ids or a filter');
  const limit = Math.min(Math.max(request.limit ?? 1000, 1), 10_000);
  return inTransaction(pool, async (tx) => {
    const candidates = await findCandidates(tx, request, limit);
    const start = Date.now();
    let queued = 0;
    const items: ReplayItem[] = candidates.map((c) => {
      const decision = decide(c, request.force, routes);
      if (!ENQUEUES.has(decision)) return { messageId: c.id, decision };
      const readyAt = new Date(start + (queued++ / request.ratePerSecond) * 1000);
      return { messageId: c.id, decision, readyAt };
    });
    const requeued = items.filter((i) => ENQUEUES.has(i.decision)).length;
    const outcome: ReplayOutcome = { replayId: null, dryRun: request.dryRun, matched: items.length, requeued, refused: items.length - requeued, items };
    const { rows } = await tx.query<{ id: number }>(
      `insert into carelane.replays (requested_by, reason, filter, dry_run, forced, matched, requeued, refused)
       values ($1, $2, $3::jsonb, $4, $5, $6, $7, $8) returning id`,
      [request.actor, request.reason, JSON.stringify({ messageIds: request.messageIds ?? null, filter: request.filter ?? null, limit }), request.dryRun, request.force, outcome.matched, requeued, outcome.refused],
    );
    outcome.replayId = rows[0]!.id;
    if (request.dryRun) return outcome;
    for (const item of items) await apply(tx, item, candidates.find((c) => c.id === item.messageId)!, outcome.replayId, request, routes);
    await appendAudit(tx, {
      actor: request.actor,
      action: request.force ? 'replay.forced' : 'replay',
      targetType: 'replay',
      targetId: String(outcome.replayId),
      reason: request.reason,
      detail: { matched: outcome.matched, requeued, refused: outcome.refused, messageIds: items.filter((i) => ENQUEUES.has(i.decision)).map((i) => i.messageId) },
    });
    return outcome;
  });
}

function decide(c: Candidate, force: boolean, routes: RouteConfig[]): ReplayDecision {
  if (c.status === 'rejected') return 'refused_rejected_input';
  if (c.unfinished > 0) return 'refused_in_progress';
  if (c.failed > 0) return 'requeue_failed_deliveries';
  if (c.routes === 0) return findRoute(routes, c.source, c.message_type) ? 'route_again' : 'refused_no_route';
  return force ? 'rerun_forced' : 'refused_already_delivered';
}

async function findCandidates(tx: pg.PoolClient, request: ReplayRequest, limit: number): Promise<Candidate[]> {
  const params: unknown[] = [];
  let where: string;
  if (request.messageIds?.length) {
    params.push(request.messageIds);
    where = 'where id = any($1::bigint[])';
  } else {
    where = messageWhere(request.filter ?? {}, params);
  }
  params.push(limit);
  const { rows } = await tx.query<Candidate>(
    `select m.id, m.source, m.message_type, m.correlation_id, m.status,
            count(d.id) filter (where d.status in ('pending', 'running'))::int as unfinished,
            count(d.id) filter (where d.status = 'exception')::int as failed,
            count(d.id) filter (where d.status = 'done')::int as done,
            count(d.id) filter (where d.action = 'route')::int as routes
     from (select * from carelane.messages ${where} order by id limit $${params.length} for update) m
     left join carelane.deliveries d on d.message_id = m.id
     group by m.id, m.source, m.message_type, m.correlation_id, m.status
     order by m.id`,
    params,
  );
  return rows;
}

async function apply(tx: pg.PoolClient, item: ReplayItem, message: Candidate, replayId: number, request: ReplayRequest, routes: RouteConfig[]): Promise<void> {
  const stage = `replay #${replayId} by ${request.actor}: ${item.decision.replaceAll('_', ' ')}`;
  await recordStage(tx, item.messageId, stage, ENQUEUES.has(item.decision) ? 'ok' : 'skipped', { reason: request.reason });
  if (item.decision === 'requeue_failed_deliveries') {
    await tx.query(
      `update carelane.deliveries set status = 'pending', attempts = 0, run_after = $2, completed_at = null, last_error = null
       where message_id = $1 and status = 'exception'`,
      [item.messageId, item.readyAt],
    );
    await tx.query(
      `update carelane.exceptions set status = 'resolved', resolved_at = now(), resolved_by = $2, resolution_action = 'replay', resolution_note = $3
       where message_id = $1 and status = 'open'`,
      [item.messageId, request.actor, request.reason],
    );
    await tx.query(`update carelane.messages set status = 'processing', updated_at = now() where id = $1`, [item.messageId]);
    await tx.query(`select pg_notify('carelane_deliveries', lane) from (select distinct lane from carelane.deliveries where message_id = $1 and status = 'pending') l`, [item.messageId]);
    return;
  }
  if (item.decision === 'route_again' || item.decision === 'rerun_forced') {
    const route = findRoute(routes, message.source, message.message_type);
    if (!route) return;
    await enqueueDeliveries(tx, [
      {
        lane: route.lane,
        action: 'route',
        endpoint: 'internal',
        // A new key: a forced re-run must produce new effects downstream, not be deduplicated away.
        idempotencyKey: `route:${item.messageId}:replay:${replayId}`,
        correlationId: message.correlation_id,
        messageId: item.messageId,
        orderingKey: message.source,
        payload: { flow: route.flow },
        ...(item.readyAt ? { runAfter: item.readyAt } : {}),
      },
    ]);
    await tx.query(`update carelane.messages set status = 'processing', status_reason = null, updated_at = now() where id = $1`, [item.messageId]);
  }
}
