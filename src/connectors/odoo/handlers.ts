import { permanentError } from '../../contracts/errors.ts';
import type { ClaimedDelivery, DeliveryHandler, HandlerContext } from '../../engine/handlers.ts';
import type { OdooClient } from './client.ts';
import { findByExternalIds } from './external-ids.ts';
import { BillGateway, type VendorBillRequest, type VendorCreditNoteRequest } from './gateways/bills.ts';
import { PurchaseGateway, type PurchaseOrderRequest } from './gateways/purchases.ts';
import { ReceiptGateway, type ReceiptRequest } from './gateways/receipts.ts';
import { odooDatetime, TransferGateway, type TransferRequest } from './gateways/transfers.ts';

/** The Odoo connection a delivery's endpoint names (carelane.yaml); the caller caches clients per endpoint. */
export type OdooClientFor = (endpoint: string) => Promise<OdooClient>;

// Delivery handlers for Odoo effects. The engine's idempotency key is the Odoo external id (carelane.<key>,
// DESIGN.md principle 2), so `run` can always be repeated (the gateways are resumable sagas) and `lookup` answers
// "already applied" only when the whole saga is finished: a half-done one must run again to finish, never be
// marked done (reference/odoo.md §1.4: each call is its own transaction). Every call goes through a client bound
// to HandlerContext.signal, so an attempt the engine gives up on stops talking to Odoo at once.

/** The endpoint's client, its calls ended by the engine's abort signal (attempt deadline, shutdown). */
async function clientOf(clientFor: OdooClientFor, delivery: ClaimedDelivery, context: HandlerContext): Promise<OdooClient> {
  return (await clientFor(delivery.endpoint)).withSignal(context.signal);
}

/** `odoo.reserve_transfer`: payload = TransferRequest without `key`. Applied = picking assigned (or done). */
export function reserveTransferHandler(clientFor: OdooClientFor): DeliveryHandler {
  return {
    action: 'odoo.reserve_transfer',
    async run(delivery, context) {
      const client = await clientOf(clientFor, delivery, context);
      const request = { ...payloadOf<Omit<TransferRequest, 'key'>>(delivery, ['pickingTypeId', 'sourceLocationId', 'destinationLocationId', 'lines']), key: delivery.idempotencyKey };
      const transfers = new TransferGateway(client);
      const outcome = await transfers.reserve(request);
      // Partial availability: Odoo reserves what there is and leaves the picking 'confirmed'; the flow decides.
      const reservation = await transfers.reservation(outcome.pickingId, request.lines);
      return { stages: [{ stage: `odoo.reserve_transfer on ${delivery.endpoint}`, detail: { ...outcome, ...reservation } }] };
    },
    async lookup(delivery, context) {
      const client = await clientOf(clientFor, delivery, context);
      const pickingId = (await findByExternalIds(client, 'stock.picking', [delivery.idempotencyKey])).get(delivery.idempotencyKey);
      if (pickingId === undefined) return 'not_applied';
      const state = await new TransferGateway(client).state(pickingId);
      return state === 'assigned' || state === 'done' ? 'applied' : 'not_applied';
    },
  };
}

/** Payload of `odoo.reschedule_transfer`: the reservation's idempotency key and the new date. */
export interface RescheduleTransferPayload {
  transferKey: string;
  /** ISO 8601 or Odoo's 'YYYY-MM-DD HH:MM:SS' (UTC) */
  scheduledDate: string;
}

/** Payload of `odoo.cancel_transfer`: the idempotency key the reservation was made with. */
export interface CancelTransferPayload {
  transferKey: string;
}

/**
 * `odoo.reschedule_transfer`: writes scheduled_date on the picking of `transferKey` (not done, not cancelled).
 * Applied = the picking's scheduled_date already equals the payload's date.
 */
export function rescheduleTransferHandler(clientFor: OdooClientFor): DeliveryHandler {
  return {
    action: 'odoo.reschedule_transfer',
    async run(delivery, context) {
      const { transferKey, scheduledDate } = payloadOf<RescheduleTransferPayload>(delivery, ['transferKey', 'scheduledDate']);
      const outcome = await new TransferGateway(await clientOf(clientFor, delivery, context)).reschedule(transferKey, scheduledDate);
      return { stages: [{ stage: `odoo.reschedule_transfer on ${delivery.endpoint}`, detail: outcome }] };
    },
    async lookup(delivery, context) {
      const { transferKey, scheduledDate } = payloadOf<RescheduleTransferPayload>(delivery, ['transferKey', 'scheduledDate']);
      const transfers = new TransferGateway(await clientOf(clientFor, delivery, context));
      const pickingId = await transfers.findByKey(transferKey);
      if (pickingId === undefined) return 'not_applied';
      return (await transfers.schedule(pickingId)).scheduledDate === odooDatetime(scheduledDate) ? 'applied' : 'not_applied';
    },
  };
}

/**
 * `odoo.cancel_transfer`: releases the reservation (do_unreserve) and cancels (action_cancel) the picking of
 * `transferKey`. Idempotent; a key Odoo never saw is nothing to cancel. Applied = cancelled or missing.
 */
export function cancelTransferHandler(clientFor: OdooClientFor): DeliveryHandler {
  return {
    action: 'odoo.cancel_transfer',
    async run(delivery, context) {
      const { transferKey } = payloadOf<CancelTransferPayload>(delivery, ['transferKey']);
      const transfers = new TransferGateway(await clientOf(clientFor, delivery, context));
      const found = await transfers.cancel(transferKey);
      return { stages: [{ stage: `odoo.cancel_transfer on ${delivery.endpoint}`, detail: { transferKey, cancelled: found, missing: !found } }] };
    },
    async lookup(delivery, context) {
      const { transferKey } = payloadOf<CancelTransferPayload>(delivery, ['transferKey']);
      const transfers = new TransferGateway(await clientOf(clientFor, delivery, context));
      const pickingId = await transfers.findByKey(transferKey);
      return pickingId === undefined || (await transfers.state(pickingId)) === 'cancel' ? 'applied' : 'not_applied';
    },
  };
}

/** `odoo.place_purchase_order`: payload = PurchaseOrderRequest without `key`. Applied = confirmed (or awaiting approval). */
export function placePurchaseOrderHandler(clientFor: OdooClientFor): DeliveryHandler {
  return {
    action: 'odoo.place_purchase_order',
    async run(delivery, context) {
      const client = await clientOf(clientFor, delivery, context);
      const outcome = await new PurchaseGateway(client).place({ ...payloadOf<Omit<PurchaseOrderRequest, 'key'>>(delivery, ['vendorId', 'lines']), key: delivery.idempotencyKey });
      return { stages: [{ stage: `odoo.place_purchase_order on ${delivery.endpoint}`, detail: { orderId: outcome.orderId, name: outcome.name, state: outcome.state } }] };
    },
    async lookup(delivery, context) {
      const purchases = new PurchaseGateway(await clientOf(clientFor, delivery, context));
      const orderId = await purchases.findByKey(delivery.idempotencyKey);
      if (orderId === undefined) return 'not_applied';
      return PurchaseGateway.isConfirmed((await purchases.status(orderId)).state) ? 'applied' : 'not_applied';
    },
  };
}

/**
 * `odoo.receive`: payload = ReceiptRequest (the picking is the PO's receipt, so the key is not written to Odoo).
 * Applied = the picking is done, or its backorder exists (created in the same transaction as the validation).
 */
export function receiveHandler(clientFor: OdooClientFor): DeliveryHandler {
  return {
    action: 'odoo.receive',
    async run(delivery, context) {
      const client = await clientOf(clientFor, delivery, context);
      const outcome = await new ReceiptGateway(client).receive(payloadOf<ReceiptRequest>(delivery, ['pickingId', 'lines']));
      return { stages: [{ stage: `odoo.receive on ${delivery.endpoint}`, detail: outcome }] };
    },
    async lookup(delivery, context) {
      const { pickingId } = payloadOf<ReceiptRequest>(delivery, ['pickingId', 'lines']);
      const receipts = new ReceiptGateway(await clientOf(clientFor, delivery, context));
      return (await receipts.isDone(pickingId)) || (await receipts.backorderOf(pickingId)) !== undefined ? 'applied' : 'not_applied';
    },
  };
}

/** `odoo.create_vendor_bill`: payload = VendorBillRequest without `key`. Applied = bound by external id and posted. */
export function createVendorBillHandler(clientFor: OdooClientFor): DeliveryHandler {
  const required = ['vendorId', 'vendorInvoiceNumber', 'invoiceDate', 'lines'] as const;
  return {
    action: 'odoo.create_vendor_bill',
    async run(delivery, context) {
      const client = await clientOf(clientFor, delivery, context);
      const bill = await new BillGateway(client).record({ ...payloadOf<Omit<VendorBillRequest, 'key'>>(delivery, required), key: delivery.idempotencyKey });
      return { stages: [{ stage: `odoo.create_vendor_bill on ${delivery.endpoint}`, detail: { billId: bill.billId, name: bill.name, state: bill.state, created: bill.created, amountTotal: bill.amountTotal } }] };
    },
    async lookup(delivery, context) {
      const bills = new BillGateway(await clientOf(clientFor, delivery, context));
      const billId = await bills.findByKey(delivery.idempotencyKey);
      if (billId === undefined) return 'not_applied';
      return BillGateway.isPosted(await bills.state(billId)) ? 'applied' : 'not_applied';
    },
  };
}

/** `odoo.create_vendor_credit_note`: payload = VendorCreditNoteRequest without `key`. Applied = bound and posted. */
export function createVendorCreditNoteHandler(clientFor: OdooClientFor): DeliveryHandler {
  const required = ['vendorId', 'vendorCreditNoteNumber', 'invoiceDate', 'lines'] as const;
  return {
    action: 'odoo.create_vendor_credit_note',
    async run(delivery, context) {
      const client = await clientOf(clientFor, delivery, context);
      const note = await new BillGateway(client).recordCreditNote({ ...payloadOf<Omit<VendorCreditNoteRequest, 'key'>>(delivery, required), key: delivery.idempotencyKey });
      return { stages: [{ stage: `odoo.create_vendor_credit_note on ${delivery.endpoint}`, detail: { billId: note.billId, name: note.name, state: note.state, created: note.created, amountTotal: note.amountTotal, reversedBillId: note.reversedBillId } }] };
    },
    async lookup(delivery, context) {
      const bills = new BillGateway(await clientOf(clientFor, delivery, context));
      const billId = await bills.findByKey(delivery.idempotencyKey);
      if (billId === undefined) return 'not_applied';
      return BillGateway.isPosted(await bills.state(billId)) ? 'applied' : 'not_applied';
    },
  };
}

export function odooHandlers(clientFor: OdooClientFor): DeliveryHandler[] {
  return [
    reserveTransferHandler(clientFor),
    placePurchaseOrderHandler(clientFor),
    receiveHandler(clientFor),
    createVendorBillHandler(clientFor),
    rescheduleTransferHandler(clientFor),
    cancelTransferHandler(clientFor),
    createVendorCreditNoteHandler(clientFor),
  ];
}

/** Payloads come from flows; a missing member is a bug in the flow, not something a retry can fix. */
function payloadOf<T>(delivery: ClaimedDelivery, required: readonly string[]): T {
  const payload = delivery.payload;
  if (typeof payload !== 'object' || payload === null) throw permanentError(`${delivery.action}: payload must be an object`, { code: 'odoo_bad_payload', where: { field: 'payload' } });
  for (const name of required) {
    if (!(name in payload)) throw permanentError(`${delivery.action}: payload.${name} is missing`, { code: 'odoo_bad_payload', where: { field: `payload.${name}` } });
  }
  return payload as T;
}
