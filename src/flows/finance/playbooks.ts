import { poNameIn } from '../../engine/exceptions.ts';
import { permanentError } from '../../contracts/errors.ts';
import { BillGateway, many2oneId, type OdooClientFor } from '../../connectors/odoo/index.ts';
import type { DeliveryHandler, HandlerResult } from '../../engine/handlers.ts';
import { ownershipViolation, type OwnershipRules } from '../../governance/ownership.ts';
import { acceptInvoiceMatch } from './store.ts';

/** What resolveException (src/engine/exceptions.ts) puts in a `playbook.<action>` delivery. */
export interface PlaybookPayload {
  exceptionId: number;
  type: string;
  detail: Record<string, unknown>;
  actor: string;
  note: string;
}

const payloadOf = (payload: unknown, action: string): PlaybookPayload => {
  const p = payload as PlaybookPayload | null;
  if (!p || typeof p.exceptionId !== 'number' || typeof p.detail !== 'object') throw permanentError(`${action}: payload.exceptionId and payload.detail are required`, { code: 'flow_bad_payload', where: { field: 'payload' } });
  return p;
};

/**
 * accept_variance: the person accepts the invoice as billed. The draft bill is posted (action_post; a bill
 * already posted is left alone) and the match records who accepted it and why. The exception itself already
 * holds who, when, what and why (audited in resolveException).
 */
export function acceptVarianceStep(clientFor: OdooClientFor): DeliveryHandler {
  return {
    action: 'playbook.accept_variance',
    async run(delivery, context): Promise<HandlerResult> {
      const payload = payloadOf(delivery.payload, 'playbook.accept_variance');
      const billId = payload.detail.billId;
      if (typeof billId !== 'number') throw permanentError(`exception ${payload.exceptionId} has no draft bill to post`, { code: 'playbook_no_bill', where: { field: 'detail.billId' } });
      const bills = new BillGateway((await clientFor(delivery.endpoint)).withSignal(context.signal));
      await bills.post(billId);
      const state = await bills.state(billId);
      const matchKey = typeof payload.detail.matchKey === 'string' ? payload.detail.matchKey : undefined;
      return {
        stages: [{ stage: `variance accepted by ${payload.actor} (exception #${payload.exceptionId}): bill ${billId} ${state}`, outcome: 'ok', detail: { note: payload.note } }],
        ...(matchKey ? { inTransaction: (tx) => acceptInvoiceMatch(tx, matchKey, payload.actor, payload.note, state) } : {}),
      };
    },
  };
}

/**
 * cancel_po_line: the quantity not received yet will not come (supplier short, backorder refused). The PO line's
 * ordered quantity is brought down to what was received (purchase.order.line product_qty; Odoo refuses going
 * below the received quantity, and purchase_stock then reduces the open receipt move [K]). Lines are those of
 * the exception's evidence, or every line of the PO it names.
 */
export function cancelPoLineStep(clientFor: OdooClientFor): DeliveryHandler {
  return {
    action: 'playbook.cancel_po_line',
    async run(delivery, context): Promise<HandlerResult> {
      const payload = payloadOf(delivery.payload, 'playbook.cancel_po_line');
      const client = (await clientFor(delivery.endpoint)).withSignal(context.signal);
      const evidence = Array.isArray(payload.detail.lines) ? (payload.detail.lines as Array<{ purchaseLineId?: number | null }>) : [];
      let lineIds = evidence.map((l) => l.purchaseLineId).filter((id): id is number => typeof id === 'number');
      const poName = poNameIn(payload.detail);
      if (lineIds.length === 0 && poName) {
        const orders = await client.search('purchase.order', [['name', '=', poName]], { limit: 1 });
        lineIds = orders.length ? await client.search('purchase.order.line', [['order_id', '=', orders[0]!]]) : [];
      }
      if (lineIds.length === 0) throw permanentError(`exception ${payload.exceptionId} names no purchase order line`, { code: 'playbook_no_po_line', where: { field: 'detail.lines' } });
      const rows = await client.read('purchase.order.line', lineIds, ['product_id', 'product_qty', 'qty_received']);
      const cancelled: Array<{ purchaseLineId: number; productId: number | undefined; from: number; to: number }> = [];
      for (const row of rows) {
        const ordered = Number(row.product_qty ?? 0);
        const received = Number(row.qty_received ?? 0);
        if (ordered <= received) continue;
        await client.write('purchase.order.line', [row.id], { product_qty: received });
        cancelled.push({ purchaseLineId: row.id, productId: many2oneId(row.product_id), from: ordered, to: received });
      }
      return { stages: [{ stage: `remaining quantity cancelled on ${cancelled.length} PO line(s) by ${payload.actor} (exception #${payload.exceptionId})`, outcome: 'ok', detail: { cancelled, note: payload.note } }] };
    },
  };
}

/**
 * adjust_stock: Odoo's quants are set to the warehouse's counts for the differences of one reconciliation run
 * and location, through Odoo's inventory mode (reference/odoo.md §2.4: inventory_quantity under context
 * inventory_mode, then action_apply_inventory; quants cannot be written directly). Only where the warehouse
 * owns stock quantities (masterData.fieldOwners "items.stock": supplier); checked again here, since the
 * declaration may have changed between the resolution and this delivery.
 */
export function adjustStockStep(clientFor: OdooClientFor, ownership: OwnershipRules): DeliveryHandler {
  return {
    action: 'playbook.adjust_stock',
    async run(delivery, context): Promise<HandlerResult> {
      const payload = payloadOf(delivery.payload, 'playbook.adjust_stock');
      const refused = ownership.violations('items', 'supplier', ['stock']);
      if (refused.length > 0) throw ownershipViolation('items', 'supplier', refused, `stock quantities (exception #${payload.exceptionId})`);
      const { runId, locationId } = payload.detail as { runId?: number; locationId?: number };
      if (typeof runId !== 'number' || typeof locationId !== 'number') throw permanentError('adjust_stock needs detail.runId and detail.locationId', { code: 'flow_bad_payload', where: { field: 'detail' } });
      const { rows } = await context.pool.query<{ product_id: number; lot_name: string; warehouse_quantity: string }>(
        'select product_id, lot_name, warehouse_quantity from carelane.stock_mismatches where run_id = $1 and location_id = $2 and adjusted_at is null order by product_id, lot_name',
        [runId, locationId],
      );
      const client = (await clientFor(delivery.endpoint)).withSignal(context.signal);
      const inventoryMode = { context: { inventory_mode: true } };
      const quantIds: number[] = [];
      for (const row of rows) {
        const lotIds = row.lot_name ? await client.search('stock.lot', [['name', '=', row.lot_name], ['product_id', '=', row.product_id]], { limit: 1 }) : [];
        const lotId = lotIds[0] ?? false;
        const domain = [['product_id', '=', row.product_id], ['location_id', '=', locationId], ['lot_id', '=', lotId]] as Array<[string, string, unknown]>;
        const [quantId] = await client.search('stock.quant', domain, { limit: 1 });
        const values = { inventory_quantity: Number(row.warehouse_quantity) };
        if (quantId !== undefined) {
          await client.call({ model: 'stock.quant', method: 'write', ids: [quantId], kwargs: { vals: values }, context: inventoryMode.context });
          quantIds.push(quantId);
        } else {
          quantIds.push(...(await client.create('stock.quant', [{ ...values, product_id: row.product_id, location_id: locationId, lot_id: lotId }], inventoryMode)));
        }
      }
      if (quantIds.length > 0) await client.action('stock.quant', 'action_apply_inventory', quantIds);
      return {
        stages: [{ stage: `${quantIds.length} quant(s) at location ${locationId} set to the warehouse count by ${payload.actor} (exception #${payload.exceptionId})`, outcome: 'ok', detail: { note: payload.note } }],
        inTransaction: async (tx) => void (await tx.query('update carelane.stock_mismatches set adjusted_at = now() where run_id = $1 and location_id = $2 and adjusted_at is null', [runId, locationId])),
      };
    },
  };
}
