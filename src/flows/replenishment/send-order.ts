import type pg from 'pg';
import type { DeliveryHandler, HandlerResult, NewDelivery } from '../../engine/handlers.ts';
import { PurchaseGateway, type OdooClient, type OdooClientFor } from '../../connectors/odoo/index.ts';
import type { OutboundPurchaseOrder } from '../../connectors/x12/generate-850.ts';
import type { Send850Payload } from '../../connectors/x12/send-850.ts';
import type { FlowsConfig, SupplierChannelConfig } from '../../config/schema.ts';
import { markPurchaseOrderSent, purchaseOrdersAwaitingApproval, setPurchaseOrderState, type PurchaseOrderRow } from '../../store/demands.ts';
import { enqueueDeliveries } from '../../store/queue.ts';
import type { Logger } from '../../observability/logger.ts';
import type { MasterDataLookup } from '../master-data/lookup.ts';
import { orderToSend, sendOrderDelivery, type SendOrderPayload } from './replenishment-steps.ts';

export interface SendOrderDependencies {
  clientFor: OdooClientFor;
  lookup: MasterDataLookup;
  suppliers: readonly SupplierChannelConfig[];
  flows: FlowsConfig;
}

/** X12 850 quantities and prices: a decimal string, never a float's noise. */
const money = (value: number): string => value.toFixed(2);

/**
 * The purchase order as the supplier sees it: Odoo's PO number, the supplier's own item numbers (supplier-item
 * crosswalk), GTINs and our item codes, and the ship-to of the site. Nothing about patients: a PO is built from
 * products and quantities only.
 */
export async function outboundOrder(client: OdooClient, order: PurchaseOrderRow, vendor: { ref: string; name: string }, channel: SupplierChannelConfig, lookup: MasterDataLookup): Promise<OutboundPurchaseOrder> {
  const productIds = order.lines.map((line) => line.productId);
  const products = new Map((await client.read('product.product', productIds, ['default_code', 'barcode', 'name'])).map((p) => [p.id, p]));
  const supplierItems = await lookup.supplierItems(vendor.ref, productIds);
  return {
    poNumber: order.name!,
    orderDate: new Date().toISOString().slice(0, 10),
    vendor: { id: vendor.ref, name: vendor.name },
    shipTo: channel.shipTo ?? { id: order.site, idQualifier: '92' },
    lines: order.lines.map((line, index) => {
      const product = products.get(line.productId);
      const supplierItem = supplierItems.get(line.productId);
      const barcode = typeof product?.barcode === 'string' && /^\d{8,14}$/.test(product.barcode) ? product.barcode.padStart(14, '0') : undefined;
      const gtin = supplierItem?.gtin ?? barcode;
      return {
        lineNumber: String(index + 1),
        quantity: line.quantity,
        unitOfMeasure: 'EA',
        unitPrice: money(line.unitPrice),
        ...(supplierItem ? { vendorPartNumber: supplierItem.sku } : {}),
        ...(gtin ? { gtin } : {}),
        ...(typeof product?.default_code === 'string' && product.default_code ? { buyerPartNumber: product.default_code } : {}),
        ...(typeof product?.name === 'string' ? { description: product.name } : {}),
      };
    }),
  };
}

/**
 * The message source the supplier's documents about an order sent on `channel` arrive under (the X12 listeners'
 * `x12:<partner>`, the supplier REST webhook's `supplier_rest:<id>`): recorded on the order, so a document is
 * matched only to orders its sender was sent (store/demands.ts findPurchaseOrderByName).
 */
export const supplierSourceOf = (channel: SupplierChannelConfig): string => (channel.channel === 'x12' ? `x12:${channel.partner}` : `supplier_rest:${channel.endpoint}`);

/**
 * `replenishment.send_order`: hands a confirmed purchase order to the vendor's channel (carelane.yaml
 * `suppliers`, by the vendor's Odoo reference): an `x12.send_850` delivery to its trading partner. A vendor with
 * no channel is not an error: the order stays in Odoo for a buyer to send, and the timeline says so.
 */
export function sendOrderStep({ clientFor, lookup, suppliers, flows }: SendOrderDependencies): DeliveryHandler {
  return {
    action: 'replenishment.send_order',
    async run(delivery, context): Promise<HandlerResult> {
      const { poKey } = delivery.payload as SendOrderPayload;
      const order = await orderToSend(context.pool, poKey);
      const client = (await clientFor(order.odooConnection)).withSignal(context.signal);
      const [partner] = await client.read('res.partner', [order.vendorId], ['ref', 'name']);
      const vendor = { ref: typeof partner?.ref === 'string' ? partner.ref : '', name: typeof partner?.name === 'string' ? partner.name : '' };
      const channel = suppliers.find((s) => s.vendorRef === vendor.ref);
      if (!channel) {
        return { stages: [{ stage: `${order.name}: vendor ${vendor.ref || order.vendorId} has no supplier channel configured (suppliers in carelane.yaml); the order stays in Odoo for a buyer to send`, outcome: 'skipped' }] };
      }
      const purchaseOrder = await outboundOrder(client, order, vendor, channel, lookup);
      const next: NewDelivery[] = [];
      if (channel.channel === 'x12') {
        const payload: Send850Payload = { partner: channel.partner!, purchaseOrder };
        next.push({ lane: flows.replenishment.lane, action: 'x12.send_850', endpoint: `x12.${channel.partner}`, idempotencyKey: `x12.send_850:${poKey}`, correlationId: delivery.correlationId, orderingKey: `po:${order.name}`, payload });
      } else {
        next.push({ lane: flows.replenishment.lane, action: 'supplier_rest.send_po', endpoint: channel.endpoint!, idempotencyKey: `supplier_rest.send_po:${poKey}`, correlationId: delivery.correlationId, orderingKey: `po:${order.name}`, payload: { purchaseOrder } });
      }
      return {
        stages: [{ stage: `${order.name} to ${vendor.ref} by ${channel.channel === 'x12' ? `X12 850 (partner ${channel.partner})` : `REST (${channel.endpoint})`}`, outcome: 'ok', detail: { lines: purchaseOrder.lines.length } }],
        next,
        inTransaction: (tx) => markPurchaseOrderSent(tx, poKey, supplierSourceOf(channel)),
      };
    },
  };
}

/**
 * Orders Odoo holds for a manager's approval ('to approve') are looked at again; once a manager confirmed one in
 * Odoo (state 'purchase'), it goes to the supplier. Returns how many were released.
 */
export async function releaseApprovedOrders(pool: pg.Pool, clientFor: OdooClientFor, flows: FlowsConfig, log: Logger): Promise<number> {
  let released = 0;
  for (const order of await purchaseOrdersAwaitingApproval(pool)) {
    try {
      const status = await new PurchaseGateway(await clientFor(order.odooConnection)).status(order.odooOrderId!);
      if (status.state === order.state) continue;
      await setPurchaseOrderState(pool, order.poKey, status.state);
      if (status.state === 'purchase' || status.state === 'done') {
        await enqueueDeliveries(pool, [sendOrderDelivery(order.poKey, order.odooConnection, order.correlationId, flows)]);
        released++;
      }
    } catch (error) {
      log.warn({ po: order.name, err: (error as Error).message }, 'approval check: Odoo not reachable; next run tries again');
    }
  }
  return released;
}
