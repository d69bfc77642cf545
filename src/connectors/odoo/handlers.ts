import { permanentError } from '../../contracts/errors.ts';
import type { ClaimedDelivery, DeliveryHandler, HandlerContext } from '../../engine/handlers.ts';
import type { OdooClient } from './client.ts';
import { findByExternalIds } from './external-ids.ts';
import { BillGateway, type VendorBillRequest } from './gateways/bills.ts';
import { PurchaseGateway, type PurchaseOrderRequest } from './gateways/purchases.ts';
import { ReceiptGateway, type ReceiptRequest } from './gateways/receipts.ts';
import { TransferGateway, type TransferRequest } from './gateways/transfers.ts';

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
      const outcome = await new TransferGateway(client).reserve({ ...payloadOf<Omit<TransferRequest, 'key'>>(delivery, ['pickingTypeId', 'sourceLocationId', 'destinationLocationId', 'lines']), key: delivery.idempotencyKey });
      return { stages: [{ stage: `odoo.reserve_transfer on ${delivery.endpoint}`, detail: outcome }] };
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

export function odooHandlers(clientFor: OdooClientFor): DeliveryHandler[] {
  return [reserveTransferHandler(clientFor), placePurchaseOrderHandler(clientFor), receiveHandler(clientFor), createVendorBillHandler(clientFor)];
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
