import type pg from 'pg';
import { permanentError } from '../../contracts/errors.ts';
import type { DeliveryHandler, HandlerResult, NewDelivery, StageRecord } from '../../engine/handlers.ts';
import { StockGateway, type OdooClientFor } from '../../connectors/odoo/index.ts';
import type { ShippedItem } from '../../connectors/x12/index.ts';
import type { FlowsConfig } from '../../config/schema.ts';
import { loadMessage, shipNoticesOf } from './documents.ts';
import { findSentOrder, matchLine, type SentOrder } from './order-lines.ts';
import {
  linkToPurchaseOrder, openBusinessException, recordExpectedLotIds, recordSerialOdooLotIds, recordShipNotice, recordShipNoticeSerials, serialsAnnouncedElsewhere,
  type ShipNoticeLotRow, type ShipNoticeSerialRow,
} from './store.ts';
import { payloadOf } from '../step-payload.ts';

export interface ShipNoticeDependencies {
  clientFor: OdooClientFor;
  flows: FlowsConfig;
  now?: () => Date;
}

/** Payload of `supplier.expect_lots`: the usable lots and serials a ship notice announced, to create in Odoo before receiving. */
export interface ExpectLotsPayload {
  poKey: string;
  poName: string;
  shipmentId: string;
  lots: Array<{ productId: number; lotName: string; expiryDate?: string }>;
  /** absent in payloads queued before serials were carried */
  serials?: Array<{ productId: number; serial: string; expiryDate?: string }>;
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
 * a usable lot; receiving it later keeps it out of stock. The items' serial numbers (LIN SN, REF*SE, HIBCC) are
 * recorded per PO line (carelane.po_serials) with their item's lot and expiry: a receipt checks its scanned
 * serials (AI 21) against them. The usable lots and serials go to `supplier.expect_lots`.
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
          const sent = await findSentOrder(context.pool, poNumber, { segment: 'PRF', field: 'PRF01' }, message.source);
          const { lots, unmatched } = expectedLotsOf(items, sent, today);
          const { serials: announced, repeated, countMismatch } = expectedSerialsOf(items, sent, today);
          // a serial is one unit: one announced by an earlier notice of this PO stays that notice's
          const elsewhere = await serialsAnnouncedElsewhere(context.pool, sent.order.poKey, notice.shipmentId, announced);
          const taken = new Set(elsewhere.map((e) => `${e.productId}\u0000${e.serial}`));
          const serials = announced.filter((s) => !taken.has(`${s.productId}\u0000${s.serial}`));
          const expired = lots.filter((l) => !l.usable);
          const serialProblems = repeated.length + elsewhere.length + countMismatch.length;
          stages.push({
            stage: `${sent.order.name}: ship notice ${notice.shipmentId} — ${lots.length} lot(s) for ${new Set(lots.map((l) => l.productId)).size} line(s)${serials.length ? `, ${serials.length} serial number(s)` : ''}${expired.length ? `, ${expired.length} already expired` : ''}${serialProblems ? `, ${serialProblems} serial number problem(s)` : ''}`,
            outcome: expired.length || unmatched.length || serialProblems ? 'error' : 'ok',
            detail: {
              lots: lots.map((l) => ({ productId: l.productId, lineNumber: l.lineNumber, lot: l.lotName, expiryDate: l.expiryDate, quantity: l.quantity, usable: l.usable })),
              ...(serials.length ? { serials: serials.length } : {}),
              ...(repeated.length ? { serialsRepeated: repeated } : {}),
              ...(elsewhere.length ? { serialsAnnouncedBefore: elsewhere } : {}),
              ...(countMismatch.length ? { serialCountMismatch: countMismatch } : {}),
              ...(unmatched.length ? { unmatched } : {}),
            },
          });
          commits.push(async (tx) => {
            const shipNoticeId = await recordShipNotice(tx, { poKey: sent.order.poKey, shipmentId: notice.shipmentId, messageId, correlationId: delivery.correlationId, shippedDate: notice.shippedDate, lots });
            await recordShipNoticeSerials(tx, sent.order.poKey, shipNoticeId, serials);
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
          const usableSerials = serials.filter((s) => s.usable);
          if (usable.length === 0 && usableSerials.length === 0) continue;
          const payload: ExpectLotsPayload = {
            poKey: sent.order.poKey,
            poName: sent.order.name,
            shipmentId: notice.shipmentId,
            lots: usable.map((l) => ({ productId: l.productId, lotName: l.lotName, ...(l.expiryDate ? { expiryDate: l.expiryDate } : {}) })),
            serials: usableSerials.map((s) => ({ productId: s.productId, serial: s.serial, ...(s.expiryDate ? { expiryDate: s.expiryDate } : {}) })),
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
 * The serial numbers of a notice's items for one PO, per PO line (pure). A serial takes its item's lot and expiry
 * when the item has exactly one lot (an 856 item level with several lots does not say which unit is in which).
 * `repeated`: a serial listed twice for one product (kept once); `countMismatch`: items whose serials are not
 * one per shipped unit — reported, the receipt still checks each scanned serial.
 */
export function expectedSerialsOf(items: ShippedItem[], sent: SentOrder, today: string): {
  serials: ShipNoticeSerialRow[];
  repeated: Array<{ productId: number; serial: string; hierarchyId: string }>;
  countMismatch: Array<{ hierarchyId: string; quantity: number; serials: number }>;
} {
  const serials = new Map<string, ShipNoticeSerialRow>();
  const repeated: Array<{ productId: number; serial: string; hierarchyId: string }> = [];
  const countMismatch: Array<{ hierarchyId: string; quantity: number; serials: number }> = [];
  for (const item of items) {
    if (!item.serials?.length) continue;
    const line = matchLine(sent.lines, { lineNumber: item.lineNumber, product: item.product });
    if (!line) continue; // reported as unmatched with the lots
    if (item.serials.length !== item.quantity) countMismatch.push({ hierarchyId: item.hierarchyId, quantity: item.quantity, serials: item.serials.length });
    const lot = item.lots.length === 1 ? item.lots[0] : undefined;
    for (const serial of item.serials) {
      const key = `${line.productId}\u0000${serial}`;
      if (serials.has(key)) {
        repeated.push({ productId: line.productId, serial, hierarchyId: item.hierarchyId });
        continue;
      }
      serials.set(key, {
        productId: line.productId,
        lineNumber: line.lineNumber,
        gtin: item.product.gtin ?? line.gtin ?? null,
        serial,
        lotName: lot?.lot ?? '',
        expiryDate: lot?.expiryDate ?? null,
        usable: !isExpired(lot?.expiryDate, today),
      });
    }
  }
  return { serials: [...serials.values()], repeated, countMismatch };
}

/**
 * `supplier.expect_lots` (endpoint: the Odoo connection): creates the announced usable lots with their expiry on
 * `stock.lot` (StockGateway.ensureLots: idempotent by external id, adopting an existing lot of the same name and
 * product), so the receipt finds them. `stock.lot` holds the lots of a product tracked by lot and the serial
 * numbers of one tracked by serial — one record per unit (reference/odoo.md §2.5) — so a serial-tracked
 * product gets its announced serials (with their lot's expiry), not its lot names; `expiration_date` exists with
 * the product_expiry module. An untracked product's lots and serials, and a lot-tracked product's serials, stay
 * in Carelane (expected_lots, po_serials) and are named on the receipt only.
 */
export function expectLotsStep({ clientFor }: ShipNoticeDependencies): DeliveryHandler {
  return {
    action: 'supplier.expect_lots',
    async run(delivery, context): Promise<HandlerResult> {
      const payload = payloadOf<ExpectLotsPayload>(delivery.payload, 'supplier.expect_lots', ['poKey', 'shipmentId', 'lots']);
      const client = (await clientFor(delivery.endpoint)).withSignal(context.signal);
      const announcedSerials = payload.serials ?? [];
      const productIds = [...new Set([...payload.lots, ...announcedSerials].map((l) => l.productId))];
      const products = await client.read('product.product', productIds, ['tracking']);
      const tracking = new Map(products.map((p) => [p.id, String(p.tracking)]));
      const lots = payload.lots.filter((l) => tracking.get(l.productId) === 'lot');
      const serials = announcedSerials.filter((s) => tracking.get(s.productId) === 'serial');
      const wanted = [
        ...lots.map((l) => ({ productId: l.productId, name: l.lotName, expiryDate: l.expiryDate })),
        ...serials.map((s) => ({ productId: s.productId, name: s.serial, expiryDate: s.expiryDate })),
      ];
      const created = wanted.length === 0 ? new Map<string, { id: number }>() : await new StockGateway(client).ensureLots(
        wanted.map((l) => ({ key: lotExternalKey(l.productId, l.name), name: l.name, productId: l.productId, ...(l.expiryDate ? { expirationDate: expirationDatetime(l.expiryDate) } : {}) })),
      );
      const ids = lots.map((l) => ({ productId: l.productId, lotName: l.lotName, odooLotId: created.get(lotExternalKey(l.productId, l.lotName))?.id as number }));
      const serialIds = serials.map((s) => ({ productId: s.productId, serial: s.serial, odooLotId: created.get(lotExternalKey(s.productId, s.serial))?.id as number }));
      const keptInCarelane = payload.lots.length - lots.length + announcedSerials.length - serials.length;
      return {
        stages: [{
          stage: `${payload.poName}: ${lots.length} lot(s)${serials.length ? ` and ${serials.length} serial number(s)` : ''} of ship notice ${payload.shipmentId} ready in Odoo${keptInCarelane ? `; ${keptInCarelane} lot(s)/serial(s) Odoo does not track for their product kept in Carelane only` : ''}`,
          outcome: 'ok',
          detail: {
            lots: ids,
            ...(serialIds.length ? { serials: serialIds.length } : {}),
            untracked: payload.lots.filter((l) => tracking.get(l.productId) !== 'lot').map((l) => ({ productId: l.productId, lot: l.lotName, tracking: tracking.get(l.productId) })),
          },
        }],
        inTransaction: async (tx) => {
          const { rows } = await tx.query<{ id: string }>('select id from carelane.ship_notices where po_key = $1 and shipment_id = $2', [payload.poKey, payload.shipmentId]);
          if (rows[0]) await recordExpectedLotIds(tx, Number(rows[0].id), ids.filter((l) => typeof l.odooLotId === 'number'));
          await recordSerialOdooLotIds(tx, payload.poKey, serialIds.filter((s) => typeof s.odooLotId === 'number'));
        },
      };
    },
  };
}

