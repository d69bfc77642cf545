import { permanentError } from '../../contracts/errors.ts';
import type { ClaimedDelivery, DeliveryHandler } from '../../engine/handlers.ts';
import type { OdooClient } from './client.ts';
import { findByExternalIds } from './external-ids.ts';
import { PurchaseGateway, type PurchaseOrderRequest } from './gateways/purchases.ts';
import { TransferGateway, type TransferRequest } from './gateways/transfers.ts';

/** The Odoo connection a delivery's endpoint names (carelane.yaml); the caller caches clients per endpoint. */
export type OdooClientFor = (endpoint: string) => Promise<OdooClient>;

// Delivery handlers for Odoo effects. The engine's idempotency key is the Odoo external id (carelane.<key>,
// DESIGN.md principle 2), so `run` can always be repeated (the gateways are resumable sagas) and `lookup` answers
// "already applied" only when the whole saga is finished: a half-done one must run again to finish, never be
// marked done (reference/odoo.md §1.4: each call is its own transaction).

/** `odoo.reserve_transfer`: payload = TransferRequest without `key`. Applied = picking assigned (or done). */
export function reserveTransferHandler(clientFor: OdooClientFor): DeliveryHandler {
  return {
    action: 'odoo.reserve_transfer',
    async run(delivery) {
      const client = await clientFor(delivery.endpoint);
      const outcome = await new TransferGateway(client).reserve({ ...payloadOf<Omit<TransferRequest, 'key'>>(delivery, ['pickingTypeId', 'sourceLocationId', 'destinationLocationId', 'lines']), key: delivery.idempotencyKey });
      return { stages: [{ stage: `odoo.reserve_transfer on ${delivery.endpoint}`, detail: outcome }] };
    },
    async lookup(delivery) {
      const client = await clientFor(delivery.endpoint);
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
    async run(delivery) {
      const client = await clientFor(delivery.endpoint);
      const outcome = await new PurchaseGateway(client).place({ ...payloadOf<Omit<PurchaseOrderRequest, 'key'>>(delivery, ['vendorId', 'lines']), key: delivery.idempotencyKey });
      return { stages: [{ stage: `odoo.place_purchase_order on ${delivery.endpoint}`, detail: { orderId: outcome.orderId, name: outcome.name, state: outcome.state } }] };
    },
    async lookup(delivery) {
      const purchases = new PurchaseGateway(await clientFor(delivery.endpoint));
      const orderId = await purchases.findByKey(delivery.idempotencyKey);
      if (orderId === undefined) return 'not_applied';
      return PurchaseGateway.isConfirmed((await purchases.status(orderId)).state) ? 'applied' : 'not_applied';
    },
  };
}

export function odooHandlers(clientFor: OdooClientFor): DeliveryHandler[] {
  return [reserveTransferHandler(clientFor), placePurchaseOrderHandler(clientFor)];
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
