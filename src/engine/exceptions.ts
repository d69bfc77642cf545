import type pg from 'pg';
import { inTransaction } from '../store/database.ts';
import { settleMessage } from '../store/queue.ts';
import { appendAudit } from '../governance/audit.ts';

export const RESOLUTION_ACTIONS = ['replay', 'dismiss', 'cancel'] as const;
export type ResolutionAction = (typeof RESOLUTION_ACTIONS)[number];

export interface Resolution {
  action: ResolutionAction;
  actor: string;
  note: string;
}

export class ExceptionNotOpenError extends Error {}

/**
 * Closes an exception, recording who, when, what action and why (audited):
 * - replay: the parked delivery goes back to its queue with fresh attempts and the same idempotency key;
 * - dismiss: accepted as it is; the delivery stays parked for the record;
 * - cancel: the delivery is cancelled and will never run.
 */
export async function resolveException(pool: pg.Pool, id: number, resolution: Resolution): Promise<{ deliveryId: number | null; messageId: number | null }> {
  if (!resolution.note.trim()) throw new Error('resolving an exception needs a note saying why');
  return inTransaction(pool, async (tx) => {
    const { rows } = await tx.query<{ delivery_id: number | null; message_id: number | null; type: string }>(
      `update carelane.exceptions set status = 'resolved', resolved_at = now(), resolved_by = $2, resolution_action = $3, resolution_note = $4
       where id = $1 and status = 'open' returning delivery_id, message_id, type`,
      [id, resolution.actor, resolution.action, resolution.note],
    );
    const exception = rows[0];
    if (!exception) throw new ExceptionNotOpenError(`exception ${id} does not exist or is already resolved`);
    if (exception.delivery_id !== null) {
      if (resolution.action === 'replay') {
        await tx.query(
          `update carelane.deliveries set status = 'pending', attempts = 0, run_after = now(), completed_at = null
           where id = $1 and status = 'exception'`,
          [exception.delivery_id],
        );
        await tx.query(`select pg_notify('carelane_deliveries', lane) from carelane.deliveries where id = $1`, [exception.delivery_id]);
        if (exception.message_id !== null) await tx.query(`update carelane.messages set status = 'processing', updated_at = now() where id = $1`, [exception.message_id]);
      } else if (resolution.action === 'cancel') {
        await tx.query(`update carelane.deliveries set status = 'cancelled', completed_at = now() where id = $1 and status = 'exception'`, [exception.delivery_id]);
      }
    }
    if (exception.message_id !== null) {
      await tx.query('insert into carelane.message_stages (message_id, stage, outcome, detail) values ($1, $2, $3, $4::jsonb)', [
        exception.message_id,
        `exception #${id} resolved by ${resolution.actor}: ${resolution.action}`,
        'ok',
        JSON.stringify({ note: resolution.note }),
      ]);
      if (resolution.action !== 'replay') await settleMessage(tx, exception.message_id);
    }
    await appendAudit(tx, {
      actor: resolution.actor,
      action: `exception.${resolution.action}`,
      targetType: 'exception',
      targetId: String(id),
      reason: resolution.note,
      detail: { type: exception.type, deliveryId: exception.delivery_id, messageId: exception.message_id },
    });
    return { deliveryId: exception.delivery_id, messageId: exception.message_id };
  });
}
