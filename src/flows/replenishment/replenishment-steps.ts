import type pg from 'pg';
import { permanentError } from '../../contracts/errors.ts';
import type { DeliveryHandler, HandlerResult, NewDelivery } from '../../engine/handlers.ts';
import { appendEvents } from '../../connectors/events/index.ts';
import { PurchaseGateway, VendorGateway, type OdooClientFor } from '../../connectors/odoo/index.ts';
import type { FlowsConfig } from '../../config/schema.ts';
import {
  closeReplenishmentBatch,
  findPurchaseOrder,
  joinReplenishmentBatch,
  recordPurchaseOrder,
  requestsOfBatch,
  type PendingRequest,
} from '../../store/demands.ts';
import { enqueueDeliveries } from '../../store/queue.ts';
import { payloadOf, publishesEvents } from '../step-payload.ts';
import type { ReplenishmentRequestPayload } from '../demand/reservation-steps.ts';

export interface ReplenishmentDependencies {
  clientFor: OdooClientFor;
  flows: FlowsConfig;
  now?: () => Date;
}

/** The payload of `replenishment.place_order`: one grouping window of one site and vendor. */
export interface PlaceOrderPayload {
  batchKey: string;
  site: string;
  odooConnection: string;
  vendorId: number;
}

/** The payload of `replenishment.send_order`: hand a confirmed order to the vendor's supply channel. */
export interface SendOrderPayload {
  poKey: string;
}



/**
 * Grouping windows: a request joins the window of its site and vendor that is open now; the window's order is
 * placed when it ends. `attempt` > 0 asks for the following windows, when the current one was closed meanwhile.
 */
export function windowOf(now: Date, seconds: number, attempt: number): { start: Date; end: Date } {
  const size = Math.max(1, seconds) * 1000;
  const start = Math.floor(now.getTime() / size) * size + attempt * size;
  return { start: new Date(start), end: new Date(start + size) };
}

/**
 * `replenishment.request` (standard lane): one product short at one storeroom. Picks the vendor Odoo would pick
 * (its pricelist rules, VendorGateway.preferredVendor) and puts the request into that vendor's open grouping
 * window for the site; the window's `replenishment.place_order` delivery runs when the window ends. Several
 * shortfalls within the window become one purchase order.
 */
export function requestStep({ clientFor, flows, now = () => new Date() }: ReplenishmentDependencies): DeliveryHandler {
  return {
    action: 'replenishment.request',
    async run(delivery, context): Promise<HandlerResult> {
      const payload = payloadOf<ReplenishmentRequestPayload>(delivery.payload, 'replenishment.request', ['requestKey', 'site', 'odooConnection', 'locationId', 'productId', 'quantity']);
      const client = (await clientFor(delivery.endpoint)).withSignal(context.signal);
      const [product] = await client.read('product.product', [payload.productId], ['product_tmpl_id', 'default_code']);
      const templateId = Array.isArray(product?.product_tmpl_id) ? Number(product.product_tmpl_id[0]) : undefined;
      if (!product || templateId === undefined) throw permanentError(`product ${payload.productId} does not exist in Odoo ${delivery.endpoint}`, { code: 'product_missing', where: { field: 'payload.productId' } });
      const price = await new VendorGateway(client).preferredVendor({ productId: payload.productId, productTemplateId: templateId, quantity: payload.quantity });
      if (!price) {
        throw permanentError(`no vendor sells product ${String(product.default_code ?? payload.productId)} for ${payload.quantity} unit(s) today (Odoo vendor pricelist, product.supplierinfo): add one, then replay`, {
          code: 'no_vendor_price',
          where: { field: 'product.supplierinfo' },
        });
      }
      const windowSeconds = flows.replenishment.groupWindowSeconds;
      const at = now();
      let joined: { batchKey: string; end: Date } | undefined;
      return {
        stages: [{ stage: `short ${payload.quantity} of product ${String(product.default_code ?? payload.productId)}: vendor ${price.vendorId} at ${price.price}`, outcome: 'ok' }],
        inTransaction: async (tx) => {
          const batchKey = await joinReplenishmentBatch(
            tx,
            { requestKey: payload.requestKey, correlationId: delivery.correlationId, reason: payload.reason, site: payload.site, odooConnection: payload.odooConnection, locationId: payload.locationId, productId: payload.productId, quantity: payload.quantity, vendorId: price.vendorId, unitPrice: price.price },
            (attempt) => {
              const window = windowOf(at, windowSeconds, attempt);
              joined = { batchKey: `po:${payload.site}:${price.vendorId}:${window.start.toISOString()}`, end: window.end };
              return joined.batchKey;
            },
          );
          if (!batchKey || !joined) return;
          const place: PlaceOrderPayload = { batchKey, site: payload.site, odooConnection: payload.odooConnection, vendorId: price.vendorId };
          // One delivery per window (idempotent enqueue on the window's key), run when the window ends.
          await enqueueDeliveries(tx, [
            { lane: flows.replenishment.lane, action: 'replenishment.place_order', endpoint: payload.odooConnection, idempotencyKey: `replenishment.place_order:${batchKey}`, correlationId: `po:${batchKey}`, orderingKey: `vendor:${payload.site}:${price.vendorId}`, payload: place, runAfter: joined.end },
          ]);
        },
      };
    },
  };
}

/** Sums the window's requests per product; the unit price is the vendor price the first request found. */
export function orderLines(requests: PendingRequest[]): Array<{ productId: number; quantity: number; unitPrice: number }> {
  const lines = new Map<number, { productId: number; quantity: number; unitPrice: number }>();
  for (const r of requests) {
    const line = lines.get(r.productId);
    if (line) line.quantity += r.quantity;
    else lines.set(r.productId, { productId: r.productId, quantity: r.quantity, unitPrice: r.unitPrice });
  }
  return [...lines.values()].sort((a, b) => a.productId - b.productId);
}

/**
 * `replenishment.place_order`: closes the window, then places one RFQ for its requests and confirms it
 * (PurchaseGateway.place: button_confirm; Odoo answers 'to approve' when the company's double validation asks a
 * manager, 'purchase' otherwise). A confirmed order goes to the supplier; one waiting for approval stays until
 * the approval check sees it confirmed (Odoo's approval is respected, never bypassed).
 */
export function placeOrderStep({ clientFor, flows }: ReplenishmentDependencies): DeliveryHandler {
  return {
    action: 'replenishment.place_order',
    async run(delivery, context): Promise<HandlerResult> {
      const payload = payloadOf<PlaceOrderPayload>(delivery.payload, 'replenishment.place_order', ['batchKey', 'site', 'odooConnection', 'vendorId']);
      await closeReplenishmentBatch(context.pool, payload.batchKey);
      const requests = await requestsOfBatch(context.pool, payload.batchKey);
      const lines = orderLines(requests);
      if (lines.length === 0) return { stages: [{ stage: `window ${payload.batchKey} ended with nothing to order`, outcome: 'skipped' }] };
      const client = (await clientFor(delivery.endpoint)).withSignal(context.signal);
      const outcome = await new PurchaseGateway(client).place({
        key: payload.batchKey,
        vendorId: payload.vendorId,
        lines: lines.map((line) => ({ productId: line.productId, quantity: line.quantity, priceUnit: line.unitPrice })),
      });
      const confirmed = outcome.state === 'purchase' || outcome.state === 'done';
      const next: NewDelivery[] = confirmed ? [sendOrderDelivery(payload.batchKey, payload.odooConnection, delivery.correlationId, flows)] : [];
      return {
        stages: [{ stage: `purchase order ${outcome.name} (${outcome.state}) for vendor ${payload.vendorId}: ${lines.length} line(s) from ${requests.length} request(s)`, outcome: 'ok', detail: { orderId: outcome.orderId, lines } }],
        next,
        inTransaction: async (tx) => {
          await recordPurchaseOrder(tx, { poKey: payload.batchKey, correlationId: delivery.correlationId, site: payload.site, odooConnection: payload.odooConnection, vendorId: payload.vendorId, odooOrderId: outcome.orderId, name: outcome.name, state: outcome.state, lines }, requests);
          if (publishesEvents(flows.replenishment.mode)) {
            await appendEvents(tx, [{ topic: 'carelane.purchase_order.placed', key: payload.batchKey, correlationId: delivery.correlationId, payload: { poKey: payload.batchKey, name: outcome.name, state: outcome.state, site: payload.site, vendorId: payload.vendorId, lines } }]);
          }
        },
      };
    },
  };
}

export function sendOrderDelivery(poKey: string, odooConnection: string, correlationId: string, flows: FlowsConfig): NewDelivery {
  const payload: SendOrderPayload = { poKey };
  return { lane: flows.replenishment.lane, action: 'replenishment.send_order', endpoint: odooConnection, idempotencyKey: `replenishment.send_order:${poKey}`, correlationId, payload };
}

/** Checks that the order exists before sending: a send for an unknown order is a bug, not a retry. */
export async function orderToSend(pool: pg.Pool, poKey: string) {
  const order = await findPurchaseOrder(pool, poKey);
  if (!order || !order.name || order.odooOrderId === null) throw permanentError(`purchase order ${poKey} is not recorded as placed`, { code: 'po_not_placed', where: { field: 'payload.poKey' } });
  return order;
}
