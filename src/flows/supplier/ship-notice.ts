import type pg from 'pg';
import { permanentError } from '../../contracts/errors.ts';
import type { DeliveryHandler, HandlerResult, NewDelivery, StageRecord } from '../../engine/handlers.ts';
import { StockGateway, type OdooClientFor } from '../../connectors/odoo/index.ts';
import type { ShippedItem } from '../../connectors/x12/index.ts';
import type { FlowsConfig } from '../../config/schema.ts';
import { loadMessage, shipNoticesOf } from './documents.ts';
import { findSentOrder, matchLine, type SentOrder } from './order-lines.ts';
import { linkToPurchaseOrder, openBusinessException, recordExpectedLotIds, recordShipNotice, type ShipNoticeLotRow } from './store.ts';
import { payloadOf } from './payload.ts';

export interface ShipNoticeDependencies {
  clientFor: OdooClientFor;
  flows: FlowsConfig;
  now?: () => Date;
}

/** Payload of `supplier.expect_lots`: the usable lots a ship notice announced, to create in Odoo before receiving. */
export interface ExpectLotsPayload {
  poKey: string;
  poName: string;
  shipmentId: string;
  lots: Array<{ productId: number; lotName: string; expiryDate?: string }>;
}

/** The key under which a lot is created in Odoo: the same as ReceiptGateway's, so receiving adopts it. */
export const lotExternalKey = (productId: number, lotName: string): string => `lot:${productId}:${lotName}`;

/** Odoo datetimes are naive UTC; an expiry day (GS1 AI 17, DTM*036) is taken as the start of that day. */
export const expirationDatetime = (day: string): string => `${day} 00:00:00`;

/** A lot is expired when its expiry day is before today (GS1 AI 17: usable up to and including that day). */
export const isExpired = (expiryDate: string | undefined | null, today: string): boolean => !!expiryDate && expiryDate < today;

/** The key of the one quantity_variance exception per expired lot, shared by the ship notice and a receipt scanning it. */
export const expiredLotKey = (poKey: string, productId: number, lotName: string): string => `expired:${poKey}:${productId}:${lotName}`;

/**
 * `flow.ship_notice` (routed: X12_856 from `x12:<partner>`, SUPPLIER_856 from `supplier_rest:<id>`): for each
 * PO a notice names, the shipped items are matched to the PO lines and their lots recorded for receiving
 * (carelane.expected_lots, per PO line, with expiry and quantity). A lot already expired when announced is
 * flagged — a `quantity_variance` exception with `detail.code = expired_lot` (the usable quantity is less than
 * the shipped one; the playbook is the variance one: accept, or return to the vendor) — and is not created as
 * a usable lot; receiving it later keeps it out of stock. The usable lots go to `supplier.expect_lots`.
 */
export function shipNoticeFlow({ flows, now = () => new Date() }: ShipNoticeDependencies): DeliveryHandler {
  return {
    action: 'flow.ship_notice',
    async run(delivery, context): Promise<HandlerResult> {
      if (delivery.messageId === null) throw permanentError('flow.ship_notice needs the message it was routed for', { code: 'flow_without_message' });
      const messageId = delivery.messageId;
      const message = await loadMessage(context.pool, messageId);
      const today = now().toISOString().slice(0, 10);
      const stages: StageRecord[] = [];
      const next: NewDelivery[] = [];
      const commits: Array<(tx: pg.PoolClient) => Promise<void>> = [];
      for (const notice of shipNoticesOf(message)) {
        const byPo = new Map<string, ShippedItem[]>();
        for (const item of notice.items) {
          if (!item.poNumber) throw permanentError(`ship notice ${notice.shipmentId}: item level ${item.hierarchyId} names no purchase order`, { code: 'asn_without_po', where: { segment: 'PRF', field: 'PRF01' } });
          byPo.set(item.poNumber, [...(byPo.get(item.poNumber) ?? []), item]);
        }
        for (const [poNumber, items] of byPo) {
          const sent = await findSentOrder(context.pool, poNumber, { segment: 'PRF', field: 'PRF01' });
          const { lots, unmatched } = expectedLotsOf(items, sent, today);
          const expired = lots.filter((l) => !l.usable);
          stages.push({
            stage: `${sent.order.name}: ship notice ${notice.shipmentId} — ${lots.length} lot(s) for ${new Set(lots.map((l) => l.productId)).size} line(s)${expired.length ? `, ${expired.length} already expired` : ''}`,
            outcome: expired.length || unmatched.length ? 'error' : 'ok',
            detail: { lots: lots.map((l) => ({ productId: l.productId, lineNumber: l.lineNumber, lot: l.lotName, expiryDate: l.expiryDate, quantity: l.quantity, usable: l.usable })), ...(unmatched.length ? { unmatched } : {}) },
          });
          commits.push(async (tx) => {
            await recordShipNotice(tx, { poKey: sent.order.poKey, shipmentId: notice.shipmentId, messageId, correlationId: delivery.correlationId, shippedDate: notice.shippedDate, lots });
            await linkToPurchaseOrder(tx, delivery.correlationId, sent.order.correlationId, 'ship_notice');
            for (const lot of expired) {
              await openBusinessException(tx, {
                type: 'quantity_variance',
                key: expiredLotKey(sent.order.poKey, lot.productId, lot.lotName),
                reason: `${sent.order.name} line ${lot.lineNumber ?? '?'}: ship notice ${notice.shipmentId} announces lot ${lot.lotName} expired on ${lot.expiryDate} (${lot.quantity} unit(s)); it is not received as usable stock`,
                correlationId: sent.order.correlationId,
                messageId,
                detail: { code: 'expired_lot', po: sent.order.name, shipmentId: notice.shipmentId, productId: lot.productId, lineNumber: lot.lineNumber, gtin: lot.gtin, lot: lot.lotName, expiryDate: lot.expiryDate, quantity: lot.quantity, noticedOn: today },
              });
            }
          });
          const usable = lots.filter((l) => l.usable && l.lotName);
          if (usable.length === 0) continue;
          const payload: ExpectLotsPayload = {
            poKey: sent.order.poKey,
            poName: sent.order.name,
            shipmentId: notice.shipmentId,
            lots: usable.map((l) => ({ productId: l.productId, lotName: l.lotName, ...(l.expiryDate ? { expiryDate: l.expiryDate } : {}) })),
          };
          next.push({
            lane: flows.supplier.lane,
            action: 'supplier.expect_lots',
            endpoint: sent.order.odooConnection,
            idempotencyKey: `supplier.expect_lots:${sent.order.poKey}:${notice.shipmentId}`,
            correlationId: sent.order.correlationId,
            messageId,
            orderingKey: `po:${sent.order.name}`,
            payload,
          });
        }
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

/** The lots of a notice's items for one PO, per PO line (pure). An item without lots is recorded with lot ''. */
export function expectedLotsOf(items: ShippedItem[], sent: SentOrder, today: string): { lots: ShipNoticeLotRow[]; unmatched: Array<{ hierarchyId: string; lineNumber?: string }> } {
  const lots = new Map<string, ShipNoticeLotRow>();
  const unmatched: Array<{ hierarchyId: string; lineNumber?: string }> = [];
  for (const item of items) {
    const line = matchLine(sent.lines, { lineNumber: item.lineNumber, product: item.product });
    if (!line) {
      unmatched.push({ hierarchyId: item.hierarchyId, ...(item.lineNumber ? { lineNumber: item.lineNumber } : {}) });
      continue;
    }
    const itemLots = item.lots.length > 0 ? item.lots : [{ lot: '', quantity: item.quantity }];
    for (const lot of itemLots) {
      const key = `${line.productId}\u0000${lot.lot}`;
      const quantity = lot.quantity ?? (itemLots.length === 1 ? item.quantity : 0);
      const existing = lots.get(key);
      if (existing) {
        existing.quantity += quantity;
        continue;
      }
      lots.set(key, {
        productId: line.productId,
        lineNumber: line.lineNumber,
        gtin: item.product.gtin ?? line.gtin ?? null,
        lotName: lot.lot,
        expiryDate: lot.expiryDate ?? null,
        quantity,
        usable: !isExpired(lot.expiryDate, today),
      });
    }
  }
  return { lots: [...lots.values()], unmatched };
}

/**
 * `supplier.expect_lots` (endpoint: the Odoo connection): creates the announced usable lots with their expiry on
 * `stock.lot` (StockGateway.ensureLots: idempotent by external id, adopting an existing lot of the same name and
 * product), so the receipt finds them. Only for products tracked by lot or serial: Odoo records lots of tracked
 * products only, and `expiration_date` exists with the product_expiry module (reference/odoo.md §2.5). An
 * untracked product's lots stay in Carelane (expected_lots) and are named on the receipt only.
 */
export function expectLotsStep({ clientFor }: ShipNoticeDependencies): DeliveryHandler {
  return {
    action: 'supplier.expect_lots',
    async run(delivery, context): Promise<HandlerResult> {
      const payload = payloadOf<ExpectLotsPayload>(delivery.payload, 'supplier.expect_lots', ['poKey', 'shipmentId', 'lots']);
      const client = (await clientFor(delivery.endpoint)).withSignal(context.signal);
      const productIds = [...new Set(payload.lots.map((l) => l.productId))];
      const products = await client.read('product.product', productIds, ['tracking']);
      const tracked = new Set(products.filter((p) => p.tracking === 'lot' || p.tracking === 'serial').map((p) => p.id));
      const lots = payload.lots.filter((l) => tracked.has(l.productId));
      const created = lots.length === 0 ? new Map() : await new StockGateway(client).ensureLots(
        lots.map((l) => ({ key: lotExternalKey(l.productId, l.lotName), name: l.lotName, productId: l.productId, ...(l.expiryDate ? { expirationDate: expirationDatetime(l.expiryDate) } : {}) })),
      );
      const ids = lots.map((l) => ({ productId: l.productId, lotName: l.lotName, odooLotId: created.get(lotExternalKey(l.productId, l.lotName))?.id as number }));
      const untracked = payload.lots.filter((l) => !tracked.has(l.productId));
      return {
        stages: [{
          stage: `${payload.poName}: ${lots.length} lot(s) of ship notice ${payload.shipmentId} ready in Odoo${untracked.length ? `; ${untracked.length} of untracked products kept in Carelane only` : ''}`,
          outcome: 'ok',
          detail: { lots: ids, untracked: untracked.map((l) => ({ productId: l.productId, lot: l.lotName })) },
        }],
        inTransaction: async (tx) => {
          const { rows } = await tx.query<{ id: string }>('select id from carelane.ship_notices where po_key = $1 and shipment_id = $2', [payload.poKey, payload.shipmentId]);
          if (rows[0]) await recordExpectedLotIds(tx, Number(rows[0].id), ids.filter((l) => typeof l.odooLotId === 'number'));
        },
      };
    },
  };
}

