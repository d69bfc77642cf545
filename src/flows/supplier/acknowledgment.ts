import type pg from 'pg';
import { CarelaneError, permanentError } from '../../contracts/errors.ts';
import type { DeliveryHandler, HandlerResult, NewDelivery, StageRecord } from '../../engine/handlers.ts';
import { many2oneId, type OdooClientFor, type OdooRecord } from '../../connectors/odoo/index.ts';
import type { PurchaseOrderAck } from '../../connectors/x12/index.ts';
import type { FlowsConfig } from '../../config/schema.ts';
import { readAckLine, type LineAcknowledgment } from './ack-lines.ts';
import { acknowledgmentsOf, loadMessage } from './documents.ts';
import { findSentOrder, matchLine, type SentOrder } from './order-lines.ts';
import { closeAcknowledgmentWait, linkToPurchaseOrder, openBusinessException, recordAcknowledgment, recordAcknowledgmentApplied } from './store.ts';
import { payloadOf } from '../step-payload.ts';

export interface AcknowledgmentDependencies {
  clientFor: OdooClientFor;
  flows: FlowsConfig;
}

/** Payload of `supplier.apply_ack`: one acknowledgment of one PO, read and matched by the flow. */
export interface ApplyAckPayload {
  poKey: string;
  poName: string;
  odooOrderId: number;
  messageId: number;
  /** this acknowledgment's place among the PO's acknowledgments in the message (0: the first); absent in payloads enqueued before it existed */
  ordinal?: number;
  acknowledgmentType: string;
  lines: LineAcknowledgment[];
}

/**
 * `flow.supplier_ack` (routed: X12_855 from `x12:<partner>`, SUPPLIER_855 from `supplier_rest:<id>`): reads the
 * acknowledgment, finds the PO by its number (the Odoo PO name Carelane sent), matches each line to the PO line
 * it answers (product identifiers, then line number), records what the supplier said per line, closes the wait
 * for an acknowledgment (supplier_delay), links the message into the PO's transaction, and enqueues
 * `supplier.apply_ack` to write the changes into Odoo. Nothing here talks to Odoo.
 */
export function supplierAckFlow({ flows }: AcknowledgmentDependencies): DeliveryHandler {
  return {
    action: 'flow.supplier_ack',
    async run(delivery, context): Promise<HandlerResult> {
      if (delivery.messageId === null) throw permanentError('flow.supplier_ack needs the message it was routed for', { code: 'flow_without_message' });
      const messageId = delivery.messageId;
      const message = await loadMessage(context.pool, messageId);
      const stages: StageRecord[] = [];
      const next: NewDelivery[] = [];
      const commits: Array<(client: pg.PoolClient) => Promise<void>> = [];
      const perOrder = new Map<string, number>();
      for (const ack of acknowledgmentsOf(message)) {
        const sent = await findSentOrder(context.pool, ack.poNumber, { segment: 'BAK', field: 'BAK03' }, message.source);
        const { lines, unmatched } = readAcknowledgment(ack, sent);
        // One interchange can carry two 855s for one PO (an original and a change): each is applied, in the
        // order they stand. Its place among the PO's acknowledgments in the message tells them apart, the same
        // on every replay of the message; the first keeps the key it always had, so deliveries enqueued before
        // are still recognised.
        const ordinal = perOrder.get(sent.order.poKey) ?? 0;
        perOrder.set(sent.order.poKey, ordinal + 1);
        const payload: ApplyAckPayload = { poKey: sent.order.poKey, poName: sent.order.name, odooOrderId: sent.order.odooOrderId, messageId, ordinal, acknowledgmentType: ack.acknowledgmentType, lines };
        stages.push({
          stage: `${sent.order.name}: acknowledged ${ack.acknowledgmentType} — ${summary(lines)}`,
          outcome: 'ok',
          detail: { lines: lines.map((l) => ({ lineNumber: l.lineNumber, productId: l.productId, status: l.status, ordered: l.orderedQuantity, confirmed: l.confirmedQuantity, backordered: l.backorderedQuantity, rejected: l.rejectedQuantity, promisedDate: l.promisedDate })) },
        });
        if (unmatched.length > 0) {
          stages.push({ stage: `${sent.order.name}: ${unmatched.length} acknowledged line(s) match no line of the order; ignored`, outcome: 'error', detail: { unmatched } });
        }
        commits.push(async (tx) => {
          await recordAcknowledgment(tx, { poKey: sent.order.poKey, messageId, ordinal, correlationId: delivery.correlationId, acknowledgmentType: ack.acknowledgmentType, lines });
          await closeAcknowledgmentWait(tx, sent.order.poKey, messageId);
          await linkToPurchaseOrder(tx, delivery.correlationId, sent.order.correlationId, 'acknowledgment');
        });
        next.push({
          lane: flows.supplier.lane,
          action: 'supplier.apply_ack',
          endpoint: sent.order.odooConnection,
          idempotencyKey: `supplier.apply_ack:${sent.order.poKey}:${messageId}${ordinal > 0 ? `:${ordinal}` : ''}`,
          correlationId: sent.order.correlationId,
          messageId,
          orderingKey: `po:${sent.order.name}`,
          payload,
        });
      }
      return {
        stages,
        next,
        inTransaction: async (tx) => {
          for (const commit of commits) await commit(tx);
        },
      };
    },
  };
}

/**
 * Each acknowledged line against the PO line it answers. An acknowledgment without line detail (BAK02 AK, or
 * AD with no PO1 loop) stands for every line: accepted, or rejected when the whole order is (RJ).
 */
export function readAcknowledgment(ack: PurchaseOrderAck, sent: SentOrder): { lines: LineAcknowledgment[]; unmatched: Array<{ lineNumber?: string; product: unknown }> } {
  const unmatched: Array<{ lineNumber?: string; product: unknown }> = [];
  const byProduct = new Map<number, LineAcknowledgment>();
  for (const line of ack.lines) {
    const poLine = matchLine(sent.lines, { lineNumber: line.lineNumber, product: line.product });
    if (!poLine) {
      unmatched.push({ ...(line.lineNumber ? { lineNumber: line.lineNumber } : {}), product: line.product.all });
      continue;
    }
    byProduct.set(poLine.productId, readAckLine(line, poLine));
  }
  if (ack.lines.length === 0) {
    const whole = ack.acknowledgmentType === 'RJ' ? { code: 'IR', status: 'rejected' as const } : { code: 'IA', status: 'accepted' as const };
    for (const poLine of sent.lines) byProduct.set(poLine.productId, readAckLine({ product: { all: [] }, statuses: [whole] }, poLine));
  }
  return { lines: [...byProduct.values()], unmatched };
}

function summary(lines: LineAcknowledgment[]): string {
  const counts = new Map<string, number>();
  for (const line of lines) counts.set(line.status, (counts.get(line.status) ?? 0) + 1);
  return [...counts].map(([status, n]) => `${n} ${status}`).join(', ') || 'no lines';
}

/** What supplier.apply_ack did with one line in Odoo. */
export interface AppliedLine {
  productId: number;
  odooPurchaseLineId: number | undefined;
  status: string;
  did: 'kept' | 'written' | 'cancelled_rest' | 'order_cancelled' | 'recorded' | 'refused' | 'exception';
  changes?: Record<string, { from: unknown; to: unknown }>;
  note?: string;
}

// States in which Odoo keeps a PO line's quantity and date editable over RPC: an RFQ, one waiting for approval,
// a confirmed order. A locked ('done', or 19's `locked`) or cancelled order is not changed behind the buyer.
const EDITABLE_STATES = new Set(['draft', 'sent', 'to approve', 'purchase']);

/** Odoo datetimes are naive UTC 'YYYY-MM-DD HH:MM:SS'; a promised day becomes noon UTC (stays the same day everywhere in Europe/Americas). */
const plannedDatetime = (day: string): string => `${day} 12:00:00`;

/**
 * `supplier.apply_ack` (endpoint: the Odoo connection): writes the acknowledgment into the Odoo PO.
 * - accepted: nothing changes;
 * - changed quantity below the order: `product_qty` is written (purchase_stock shrinks the open receipt move);
 *   above the order it is not written: a `quantity_variance` exception asks a buyer;
 * - new date (changed or backordered): `date_planned` is written (purchase_stock moves the receipt's deadline);
 * - backordered: recorded with its promised date, the quantity stays on order;
 * - rejected: with flows.supplier.rejections = cancel, the rest of the line is cancelled the way Odoo allows it
 *   (`product_qty` down to `qty_received`: purchase_stock cancels the open move; every line of an order with
 *   nothing received rejected → `button_cancel`); with `exception`, or when Odoo refuses, a
 *   `supplier_rejection` exception carries the evidence for a buyer.
 * Odoo refuses to lower a quantity below what was received ("Create a return first"): checked before writing,
 * and any refusal of a write is recorded on the line and opened as an exception, never forced.
 */
export function applyAckStep({ clientFor, flows }: AcknowledgmentDependencies): DeliveryHandler {
  return {
    action: 'supplier.apply_ack',
    async run(delivery, context): Promise<HandlerResult> {
      const payload = payloadOf<ApplyAckPayload>(delivery.payload, 'supplier.apply_ack', ['poKey', 'poName', 'odooOrderId', 'messageId', 'lines']);
      const client = (await clientFor(delivery.endpoint)).withSignal(context.signal);
      const [order] = await client.read('purchase.order', [payload.odooOrderId], ['name', 'state']);
      if (!order) throw permanentError(`purchase order ${payload.poName} (id ${payload.odooOrderId}) no longer exists in Odoo`, { code: 'po_missing', where: { field: 'payload.odooOrderId' } });
      const state = String(order.state);
      const odooLines = await client.searchRead('purchase.order.line', [['order_id', '=', payload.odooOrderId]], { fields: ['product_id', 'product_qty', 'qty_received', 'date_planned'], order: 'id' });
      const byProduct = new Map<number, OdooRecord>(odooLines.map((l) => [many2oneId(l.product_id) ?? 0, l]));
      const applied: AppliedLine[] = [];
      const exceptions: Array<{ type: string; line: LineAcknowledgment; reason: string; evidence: Record<string, unknown> }> = [];
      const evidence = (line: LineAcknowledgment, odoo: OdooRecord | undefined) => ({
        po: payload.poName,
        lineNumber: line.lineNumber,
        productId: line.productId,
        codes: line.codes,
        ordered: line.orderedQuantity,
        confirmed: line.confirmedQuantity,
        rejected: line.rejectedQuantity,
        ...(line.reason ? { reason: line.reason } : {}),
        ...(odoo ? { odooProductQty: Number(odoo.product_qty), odooQtyReceived: Number(odoo.qty_received) } : {}),
        odooState: state,
      });

      const rejectAll = flows.supplier.rejections === 'cancel' && payload.lines.length > 0 && payload.lines.every((l) => l.status === 'rejected')
        && odooLines.every((l) => Number(l.qty_received) === 0) && payload.lines.length === odooLines.length && state !== 'cancel';
      if (rejectAll && EDITABLE_STATES.has(state)) {
        try {
          await client.action('purchase.order', 'button_cancel', [payload.odooOrderId]);
          for (const line of payload.lines) applied.push({ productId: line.productId, odooPurchaseLineId: byProduct.get(line.productId)?.id, status: line.status, did: 'order_cancelled', ...(line.reason ? { note: line.reason } : {}) });
        } catch (error) {
          if (!isOdooRefusal(error)) throw error;
          for (const line of payload.lines) {
            applied.push({ productId: line.productId, odooPurchaseLineId: byProduct.get(line.productId)?.id, status: line.status, did: 'refused', note: (error as Error).message });
            exceptions.push({ type: 'supplier_rejection', line, reason: `Odoo refused to cancel ${payload.poName}: ${(error as Error).message}`, evidence: evidence(line, byProduct.get(line.productId)) });
          }
        }
      } else {
        for (const line of payload.lines) {
          const odoo = byProduct.get(line.productId);
          const base = { productId: line.productId, odooPurchaseLineId: odoo?.id, status: line.status };
          if (!odoo) {
            applied.push({ ...base, did: 'exception', note: 'the product is no longer on the Odoo order' });
            exceptions.push({ type: line.status === 'rejected' ? 'supplier_rejection' : 'quantity_variance', line, reason: `${payload.poName} line ${line.lineNumber}: the product is no longer on the Odoo order`, evidence: evidence(line, odoo) });
            continue;
          }
          const values: Record<string, unknown> = {};
          const changes: Record<string, { from: unknown; to: unknown }> = {};
          const currentQty = Number(odoo.product_qty);
          const received = Number(odoo.qty_received);
          let wanted: number | undefined;
          if (line.status === 'rejected') {
            if (flows.supplier.rejections === 'exception') {
              applied.push({ ...base, did: 'exception', ...(line.reason ? { note: line.reason } : {}) });
              exceptions.push({ type: 'supplier_rejection', line, reason: `${payload.poName} line ${line.lineNumber} rejected by the supplier (${line.reason ?? line.codes}); flows.supplier.rejections = exception: a buyer decides`, evidence: evidence(line, odoo) });
              continue;
            }
            // Already cancelled (by this step on an attempt whose answer was lost, or by a buyer): nothing of it comes.
            if (state === 'cancel') {
              applied.push({ ...base, did: 'order_cancelled', ...(line.reason ? { note: line.reason } : {}) });
              continue;
            }
            wanted = received;
          } else if (line.confirmedQuantity < currentQty) {
            wanted = line.confirmedQuantity;
          } else if (line.confirmedQuantity > currentQty) {
            exceptions.push({ type: 'quantity_variance', line, reason: `${payload.poName} line ${line.lineNumber}: the supplier confirms ${line.confirmedQuantity}, more than the ${currentQty} ordered; not written`, evidence: evidence(line, odoo) });
          }
          if (wanted !== undefined && wanted !== currentQty) {
            if (wanted < received) {
              applied.push({ ...base, did: 'refused', note: `Odoo does not lower a line below its received quantity (${received})` });
              exceptions.push({
                type: line.status === 'rejected' ? 'supplier_rejection' : 'quantity_variance',
                line,
                reason: `${payload.poName} line ${line.lineNumber}: the supplier now confirms ${wanted}, but ${received} were already received; Odoo refuses a quantity below that (create a return first)`,
                evidence: evidence(line, odoo),
              });
              continue;
            }
            values.product_qty = wanted;
            changes.product_qty = { from: currentQty, to: wanted };
          }
          if (line.promisedDate && line.status !== 'rejected') {
            const planned = plannedDatetime(line.promisedDate);
            if (String(odoo.date_planned) !== planned) {
              values.date_planned = planned;
              changes.date_planned = { from: odoo.date_planned, to: planned };
            }
          }
          if (Object.keys(values).length === 0) {
            applied.push({ ...base, did: line.status === 'backordered' ? 'recorded' : 'kept' });
            continue;
          }
          if (!EDITABLE_STATES.has(state)) {
            applied.push({ ...base, did: 'refused', changes, note: `order is ${state}: not changed` });
            exceptions.push({ type: line.status === 'rejected' ? 'supplier_rejection' : 'quantity_variance', line, reason: `${payload.poName} is ${state} in Odoo: the acknowledged change of line ${line.lineNumber} was not written`, evidence: { ...evidence(line, odoo), changes } });
            continue;
          }
          try {
            await client.write('purchase.order.line', [odoo.id], values);
            applied.push({ ...base, did: line.status === 'rejected' ? 'cancelled_rest' : 'written', changes, ...(line.reason ? { note: line.reason } : {}) });
          } catch (error) {
            if (!isOdooRefusal(error)) throw error;
            applied.push({ ...base, did: 'refused', changes, note: (error as Error).message });
            exceptions.push({ type: line.status === 'rejected' ? 'supplier_rejection' : 'quantity_variance', line, reason: `Odoo refused the acknowledged change of ${payload.poName} line ${line.lineNumber}: ${(error as Error).message}`, evidence: { ...evidence(line, odoo), changes } });
          }
        }
      }
      const lineIds = new Map(odooLines.map((l) => [many2oneId(l.product_id) ?? 0, l.id]));
      return {
        stages: [{ stage: `${payload.poName}: acknowledgment applied in Odoo — ${applied.map((a) => `${a.productId} ${a.did}`).join(', ')}`, outcome: exceptions.length ? 'error' : 'ok', detail: { applied } }],
        inTransaction: async (tx) => {
          const { rows } = await tx.query<{ id: string }>('select id from carelane.supplier_acknowledgments where po_key = $1 and message_id = $2 and ordinal = $3', [payload.poKey, payload.messageId, payload.ordinal ?? 0]);
          if (rows[0]) await recordAcknowledgmentApplied(tx, Number(rows[0].id), applied, lineIds);
          for (const e of exceptions) {
            await openBusinessException(tx, {
              type: e.type,
              key: acknowledgedLineKey(payload.poKey, e.line),
              reason: e.reason,
              correlationId: delivery.correlationId,
              messageId: payload.messageId,
              detail: e.evidence,
            });
          }
        },
      };
    },
  };
}

/**
 * One exception per PO line and what the supplier said about it, not per message: a supplier re-issuing the same
 * acknowledgment (a new REST eventId, a new 855 interchange) does not open a second one for a buyer, while a
 * different word about the line (another quantity, date or status) opens its own.
 */
export function acknowledgedLineKey(poKey: string, line: LineAcknowledgment): string {
  return `ack:${poKey}:${line.productId}:${line.status}:${line.confirmedQuantity}:${line.backorderedQuantity}:${line.rejectedQuantity}:${line.promisedDate ?? ''}`;
}

/** Odoo said no (UserError/ValidationError): the data or the state forbids it; resending the same cannot help. */
function isOdooRefusal(error: unknown): boolean {
  return error instanceof CarelaneError && (error.code === 'odoo_user_error' || error.code === 'odoo_validation_error');
}
