import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { RouteConfig } from '../config/index.ts';
import { inTransaction } from '../store/database.ts';
import { insertInbound, notifyLanes } from '../store/messages.ts';
import { recordStage, settleMessage } from '../store/queue.ts';
import { appendAudit } from '../governance/audit.ts';
import { findRoute } from './router.ts';
import type { SettlementHook } from './handlers.ts';

export interface EditReplayRequest {
  messageId: number;
  payload: Buffer;
  contentType?: string | undefined;
  actor: string;
  reason: string;
}

export interface EditReplayOutcome {
  originalId: number;
  messageId: number;
  correlationId: string;
  status: string;
  routed: boolean;
  resolvedExceptions: number[];
}

export interface EditReplayOptions {
  /**
   * The engine's settlement hook: told the original is superseded when its exceptions are closed (no HL7 v2
   * application ACK of its own from then on: the copy's answers the same MSH-10), and told a copy no route
   * takes is unrouted (an application reject, as at the front door).
   */
  onSettled?: SettlementHook;
  /** the lane given to what onSettled enqueues for a copy no route takes */
  unroutedLane?: string;
}

/** The original still has work queued or running: editing now would race it. */
export class EditReplayConflictError extends Error {}

/**
 * Edit-and-replay (issue 9): a person corrects a message (a wrong code, a broken segment) and sends the
 * corrected copy through the engine. The original is never changed — it stays as evidence of what the sender
 * sent. The copy is stored as a new message under the original's source, type, sender id and correlation id
 * (so it shares the business transaction's timeline) and routed like any inbound message. The original's open
 * exceptions are closed as superseded and its parked steps cancelled, all in one transaction with the audit
 * entry. Sending the same correction twice returns the first copy (deduplicated on the edited content).
 */
export async function editAndReplay(pool: pg.Pool, routes: RouteConfig[], request: EditReplayRequest, options: EditReplayOptions = {}): Promise<EditReplayOutcome | undefined> {
  if (!request.reason.trim()) throw new Error('an edit-and-replay needs a reason');
  const contentHash = createHash('sha256').update(request.payload).digest('hex');
  let lane: string | undefined;
  const outcome = await inTransaction(pool, async (tx) => {
    const { rows } = await tx.query<{ id: number; source: string; message_type: string; external_id: string | null; correlation_id: string; content_type: string; content_hash: string }>(
      `select id::int as id, source, message_type, external_id, correlation_id, content_type, content_hash
       from carelane.messages where id = $1 for update`,
      [request.messageId],
    );
    const original = rows[0];
    if (!original) return undefined;
    const { rows: busy } = await tx.query(`select 1 from carelane.deliveries where message_id = $1 and status in ('pending', 'running') limit 1`, [original.id]);
    if (busy.length > 0) throw new EditReplayConflictError(`message ${original.id} still has steps queued or running; wait for them to finish or park`);

    const route = findRoute(routes, original.source, original.message_type);
    lane = route?.lane;
    const contentType = request.contentType ?? original.content_type;
    const [stored] = await insertInbound(tx, [
      {
        source: original.source,
        messageType: original.message_type,
        externalId: original.external_id,
        dedupeKey: `edit:${original.id}:${contentHash}`,
        contentHash,
        correlationId: original.correlation_id,
        status: 'received',
        statusReason: route ? null : 'no route matches this source and type',
        contentType,
        payload: request.payload,
        payloadSize: request.payload.length,
        payloadTruncated: false,
        ackPayload: null,
        route: route ? { ...route, orderingKey: original.source } : null,
      },
    ]);
    const copy = stored!;
    if (copy.duplicate) return { originalId: original.id, messageId: copy.messageId, correlationId: copy.correlationId, status: copy.status, routed: route !== undefined, resolvedExceptions: [] };

    await recordStage(tx, copy.messageId, `edited copy of message #${original.id} by ${request.actor}`, 'ok', { originalId: original.id, reason: request.reason });
    await recordStage(tx, original.id, `edited and replayed as message #${copy.messageId} by ${request.actor}`, 'ok', { editedMessageId: copy.messageId, reason: request.reason });
    const { rows: closed } = await tx.query<{ id: number; delivery_id: number | null }>(
      `update carelane.exceptions set status = 'resolved', resolved_at = now(), resolved_by = $2, resolution_action = 'edit_replay', resolution_note = $3
       where message_id = $1 and status = 'open' returning id::int as id, delivery_id::int as delivery_id`,
      [original.id, request.actor, `${request.reason} (superseded by edited message #${copy.messageId})`],
    );
    const parked = closed.map((c) => c.delivery_id).filter((id): id is number => id !== null);
    if (parked.length > 0) await tx.query(`update carelane.deliveries set status = 'cancelled', completed_at = now() where id = any($1::bigint[]) and status = 'exception'`, [parked]);
    const settled = await settleMessage(tx, original.id);
    if (options.onSettled) {
      const ackLane = route?.lane ?? options.unroutedLane ?? 'standard';
      if (settled) await options.onSettled(tx, { messageId: original.id, ...settled, status: 'superseded', lane: ackLane, correlationId: original.correlation_id });
      if (!route) await options.onSettled(tx, { messageId: copy.messageId, messageType: original.message_type, contentType, status: 'unrouted', lane: ackLane, correlationId: copy.correlationId });
    }
    await appendAudit(tx, {
      actor: request.actor,
      action: 'message.edit_replay',
      targetType: 'message',
      targetId: String(original.id),
      reason: request.reason,
      // hashes, not contents: payloads may hold PHI and the audit trail is kept longer than payloads
      detail: { editedMessageId: copy.messageId, originalHash: original.content_hash, editedHash: contentHash, resolvedExceptions: closed.map((c) => c.id) },
    });
    return { originalId: original.id, messageId: copy.messageId, correlationId: copy.correlationId, status: copy.status, routed: route !== undefined, resolvedExceptions: closed.map((c) => c.id) };
  });
  // after the commit: a worker woken earlier would not see the new step
  if (outcome && lane) await notifyLanes(pool, [lane]).catch(() => {});
  return outcome;
}
