import type pg from 'pg';
import { inTransaction } from '../store/database.ts';
import { enqueueDeliveries, settleMessage } from '../store/queue.ts';
import { appendAudit } from '../governance/audit.ts';
import { findPurchaseOrderByName } from '../store/demands.ts';
import type { OwnershipRules } from '../governance/ownership.ts';
import type { SettlementHook } from './handlers.ts';

export const RESOLUTION_ACTIONS = ['replay', 'dismiss', 'cancel', 'remap_and_replay', 'accept_variance', 'cancel_po_line', 'adjust_stock'] as const;
export type ResolutionAction = (typeof RESOLUTION_ACTIONS)[number];

/**
 * Playbook actions (docs/finance.md "Playbooks") that act on Odoo: resolving with one closes the exception and
 * enqueues a `playbook.<action>` delivery (src/flows/finance/playbooks.ts) on the Odoo connection, so the effect is
 * retried, circuit-broken and idempotent like any other (key playbook:<exception id>:<action>).
 */
export const PLAYBOOK_ACTIONS: Readonly<Record<string, readonly string[]>> = {
  accept_variance: ['price_variance', 'quantity_variance'],
  cancel_po_line: ['quantity_variance', 'supplier_delay'],
  adjust_stock: ['stock_mismatch'],
};

export interface Resolution {
  action: ResolutionAction;
  actor: string;
  note: string;
}

export interface ResolveOptions {
  /** declared ownership: adjust_stock is refused unless the warehouse (supplier) owns stock quantities (items.stock) */
  ownership?: OwnershipRules;
  /** lane of playbook deliveries; default standard */
  lane?: string;
  /**
   * The engine's settlement hook, run when closing the exception settles its message (dismiss, cancel, a
   * playbook), in the same transaction: the HL7 v2 application ACK tells the sender the outcome the operator
   * decided, if it was not told already.
   */
  onSettled?: SettlementHook;
}

export class ExceptionNotOpenError extends Error {}
/** The action does not apply to this exception (wrong type, or ownership forbids it): nothing was changed. */
export class ResolutionRefusedError extends Error {}

/**
 * Closes an exception, recording who, when, what action and why (audited):
 * - replay: the parked delivery goes back to its queue with fresh attempts and the same idempotency key;
 * - dismiss: accepted as it is; the delivery stays parked for the record;
 * - cancel: the delivery is cancelled and will never run.
 */
export async function resolveException(pool: pg.Pool, id: number, resolution: Resolution, options: ResolveOptions = {}): Promise<{ deliveryId: number | null; messageId: number | null }> {
  if (!resolution.note.trim()) throw new Error('resolving an exception needs a note saying why');
  return inTransaction(pool, async (tx) => {
    const { rows } = await tx.query<{ delivery_id: number | null; message_id: number | null; type: string; correlation_id: string | null; detail: Record<string, unknown> | null; endpoint: string | null; lane: string | null }>(
      `update carelane.exceptions e set status = 'resolved', resolved_at = now(), resolved_by = $2, resolution_action = $3, resolution_note = $4
       where e.id = $1 and e.status = 'open'
       returning e.delivery_id, e.message_id, e.type, e.correlation_id, e.detail,
                 (select d.endpoint from carelane.deliveries d where d.id = e.delivery_id) as endpoint,
                 (select d.lane from carelane.deliveries d where d.id = e.delivery_id) as lane`,
      [id, resolution.actor, resolution.action, resolution.note],
    );
    const exception = rows[0];
    if (!exception) throw new ExceptionNotOpenError(`exception ${id} does not exist or is already resolved`);
    const playbookTypes = PLAYBOOK_ACTIONS[resolution.action];
    if (playbookTypes) {
      if (!playbookTypes.includes(exception.type)) throw new ResolutionRefusedError(`${resolution.action} applies to ${playbookTypes.join(', ')} exceptions, not ${exception.type}`);
      // Odoo owns stock quantities unless declared otherwise (DESIGN.md principle 5): then a difference is reported only.
      const stockOwner = options.ownership?.ownerOf('items', 'stock') ?? 'odoo';
      if (resolution.action === 'adjust_stock' && stockOwner !== 'supplier') {
        throw new ResolutionRefusedError(`stock quantities are owned by ${stockOwner} (masterData.fieldOwners "items.stock"): Carelane reports the difference and does not adjust Odoo`);
      }
      const endpoint = await playbookEndpoint(tx, exception.detail, exception.endpoint, resolution.action);
      if (!endpoint) throw new ResolutionRefusedError(`exception ${id} names no Odoo connection to ${resolution.action} on`);
      await enqueueDeliveries(tx, [
        {
          lane: options.lane ?? 'standard',
          action: `playbook.${resolution.action}`,
          endpoint,
          idempotencyKey: `playbook:${id}:${resolution.action}`,
          correlationId: exception.correlation_id ?? `exception-${id}`,
          messageId: exception.message_id,
          payload: { exceptionId: id, type: exception.type, detail: exception.detail ?? {}, actor: resolution.actor, note: resolution.note },
        },
      ]);
      // The playbook supersedes the parked delivery: it will never run as it was.
      if (exception.delivery_id !== null) await tx.query(`update carelane.deliveries set status = 'cancelled', completed_at = now() where id = $1 and status = 'exception'`, [exception.delivery_id]);
    }
    if (exception.delivery_id !== null) {
      if (resolution.action === 'replay' || resolution.action === 'remap_and_replay') {
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
      if (resolution.action !== 'replay' && resolution.action !== 'remap_and_replay') {
        const settled = await settleMessage(tx, exception.message_id);
        if (settled && options.onSettled) {
          const { rows: message } = await tx.query<{ correlation_id: string }>('select correlation_id from carelane.messages where id = $1', [exception.message_id]);
          await options.onSettled(tx, {
            messageId: exception.message_id,
            ...settled,
            lane: exception.lane ?? options.lane ?? 'standard',
            correlationId: exception.correlation_id ?? message[0]!.correlation_id,
          });
        }
      }
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

/**
 * The purchase order an exception's detail names. Flows name it differently (invoice match `poName`, X12 ack
 * delays `poNumber`, supplier-cycle delays and receipts `po`); every playbook reads it through here.
 */
export function poNameIn(detail: Record<string, unknown> | null | undefined): string | undefined {
  for (const key of ['poName', 'poNumber', 'po'] as const) {
    const value = detail?.[key];
    if (typeof value === 'string' && value !== '') return value;
  }
  return undefined;
}

/**
 * Where a playbook acts: the connection the exception names, its purchase order's, or the parked delivery's
 * endpoint. The PO is found by its key when the detail carries one (ack delays do), else by its Odoo number,
 * which each Odoo database numbers on its own: a number on several connections is refused, never guessed, since
 * the playbook would change an order on the wrong Odoo.
 */
async function playbookEndpoint(tx: pg.PoolClient, detail: Record<string, unknown> | null, parkedEndpoint: string | null, action: string): Promise<string | undefined> {
  if (typeof detail?.odooConnection === 'string') return detail.odooConnection;
  const poKey = typeof detail?.poKey === 'string' && detail.poKey !== '' ? detail.poKey : undefined;
  for (const ref of [poKey, poNameIn(detail)]) {
    if (ref === undefined) continue;
    const found = await findPurchaseOrderByName(tx, ref);
    if (!found) continue;
    if (found.connections.length > 1) {
      throw new ResolutionRefusedError(
        `purchase order ${ref} exists on more than one Odoo connection (${found.connections.join(', ')}) and the exception does not say which: ${action} refused rather than acting on the wrong order`,
      );
    }
    return found.order.odooConnection;
  }
  return parkedEndpoint ?? undefined;
}
