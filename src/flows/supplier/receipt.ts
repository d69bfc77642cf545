import type pg from 'pg';
import { businessError, permanentError } from '../../contracts/errors.ts';
import type { DeliveryHandler, HandlerResult, NewDelivery, StageRecord } from '../../engine/handlers.ts';
import { many2oneId, ReceiptGateway, type OdooClientFor, type ReceivedLine } from '../../connectors/odoo/index.ts';
import { toGtin14 } from '../../connectors/gs1/index.ts';
import type { FlowsConfig } from '../../config/schema.ts';
import { loadMessage } from './documents.ts';
import { findSentOrder, matchLine, type SentOrder } from './order-lines.ts';
import { readReceiptDocument, type ReceiptDocument } from './receipt-document.ts';
import { expectedLots, findReceipt, letGoOfPicking, linkToPurchaseOrder, openBusinessException, recordReceiptBatch, recordReceiptRefused, recordReceiptValidated, type ExpectedLot, type LineReceipt } from './store.ts';
import { foreignValidation } from './receipt-recognition.ts';
import { expirationDatetime, expiredLotKey, isExpired } from './ship-notice.ts';
import { supplyDeliveryTargets, supplyDeliveries, type SupplyDeliveryTarget } from './supply-delivery.ts';
import { payloadOf } from './payload.ts';

export interface ReceiptDependencies {
  clientFor: OdooClientFor;
  flows: FlowsConfig;
  now?: () => Date;
}

/** One received product and lot, resolved to the PO line. */
export interface ResolvedReceiptLine {
  productId: number;
  lot?: string;
  expiryDate?: string;
  quantity: number;
}

/** Payload of `supplier.receive`. */
export interface ReceivePayload {
  batchKey: string;
  poKey: string;
  poName: string;
  odooOrderId: number;
  closeRest: boolean;
  lines: ResolvedReceiptLine[];
  /** scanned but not received as usable stock (expired lots) */
  notUsable: ResolvedReceiptLine[];
  supplyDelivery: SupplyDeliveryTarget[];
}

/** The receipt batch's key: idempotent per source and batch id. */
export const receiptBatchKey = (source: string, batchId: string): string => `${source}|${batchId}`;

/**
 * `flow.receipt` (the receipts API stores batches routed here; a warehouse system's RECEIPT message can be routed
 * here too): resolves each scan or line to its PO line (GTIN, Odoo product id, or a lot the ship notice
 * announced), keeps expired lots out of the usable stock (a `quantity_variance` expired_lot exception, one per
 * lot, shared with the ship notice that announced it), records the batch, links it into the PO's transaction
 * and enqueues `supplier.receive`. DB-only.
 */
export function receiptFlow({ flows, now = () => new Date() }: ReceiptDependencies): DeliveryHandler {
  return {
    action: 'flow.receipt',
    async run(delivery, context): Promise<HandlerResult> {
      if (delivery.messageId === null) throw permanentError('flow.receipt needs the message it was routed for', { code: 'flow_without_message' });
      const messageId = delivery.messageId;
      const message = await loadMessage(context.pool, messageId);
      let body: unknown;
      try {
        body = JSON.parse(message.payload.toString('utf8'));
      } catch (error) {
        throw permanentError(`receipt message is not JSON: ${(error as Error).message}`, { code: 'receipt_invalid', where: { field: 'body' } });
      }
      const document = readReceiptDocument(body, now());
      const batchKey = receiptBatchKey(message.source, document.batchId);
      const sent = await findSentOrder(context.pool, document.poNumber, { field: 'poNumber' });
      const existing = await findReceipt(context.pool, batchKey);
      if (existing?.status === 'validated') return { stages: [{ stage: `receipt ${document.batchId} of ${sent.order.name} already validated`, outcome: 'skipped' }] };
      const expected = await expectedLots(context.pool, sent.order.poKey);
      const today = now().toISOString().slice(0, 10);
      const { usable, notUsable } = resolveReceipt(document, sent, expected, today);
      const targets = flows.supplier.supplyDelivery ? await supplyDeliveryTargets(context.pool, sent.order.correlationId, flows) : [];
      const payload: ReceivePayload = { batchKey, poKey: sent.order.poKey, poName: sent.order.name, odooOrderId: sent.order.odooOrderId, closeRest: document.closeRest, lines: usable, notUsable, supplyDelivery: targets };
      const stages: StageRecord[] = [{
        stage: `receipt ${document.batchId} of ${sent.order.name}: ${usable.reduce((s, l) => s + l.quantity, 0)} unit(s) in ${usable.length} line(s) to receive${notUsable.length ? `, ${notUsable.reduce((s, l) => s + l.quantity, 0)} expired not received` : ''}`,
        outcome: notUsable.length ? 'error' : 'ok',
        detail: { lines: usable, notUsable },
      }];
      const next: NewDelivery[] = usable.length === 0 ? [] : [{
        lane: flows.supplier.lane,
        action: 'supplier.receive',
        endpoint: sent.order.odooConnection,
        idempotencyKey: `supplier.receive:${batchKey}`,
        correlationId: sent.order.correlationId,
        messageId,
        orderingKey: `po:${sent.order.name}`,
        payload,
      }];
      return {
        stages,
        next,
        inTransaction: async (tx) => {
          await recordReceiptBatch(tx, { batchKey, poKey: sent.order.poKey, correlationId: delivery.correlationId, messageId, lines: document.lines });
          await linkToPurchaseOrder(tx, delivery.correlationId, sent.order.correlationId, 'receipt');
          for (const lot of notUsable) {
            await openBusinessException(tx, {
              type: 'quantity_variance',
              key: expiredLotKey(sent.order.poKey, lot.productId, lot.lot ?? ''),
              reason: `${sent.order.name}: lot ${lot.lot ?? '(none)'} of product ${lot.productId} expired on ${lot.expiryDate}; ${lot.quantity} unit(s) scanned at receipt ${document.batchId} and not received as usable stock`,
              correlationId: sent.order.correlationId,
              messageId,
              detail: { code: 'expired_lot', po: sent.order.name, batchId: document.batchId, productId: lot.productId, lot: lot.lot, expiryDate: lot.expiryDate, quantity: lot.quantity, scannedOn: today },
            });
          }
          if (usable.length === 0) await recordReceiptRefused(tx, batchKey, { reason: 'nothing usable to receive', notUsable });
        },
      };
    },
  };
}

/**
 * Each scan/line → PO line and lot (pure). GTIN via the order as sent, else a lot the ship notices announced
 * with that GTIN; the expiry from the scan (AI 17), else from the announced lot. Expired (before today), or
 * announced as not usable → not received. Same product and lot scanned several times → one line, summed.
 */
export function resolveReceipt(document: ReceiptDocument, sent: SentOrder, expected: ExpectedLot[], today: string): { usable: ResolvedReceiptLine[]; notUsable: ResolvedReceiptLine[] } {
  const usable = new Map<string, ResolvedReceiptLine>();
  const notUsable = new Map<string, ResolvedReceiptLine>();
  for (const line of document.lines) {
    let productId: number | undefined;
    if (line.productId !== undefined) productId = sent.lines.find((l) => l.productId === line.productId)?.productId;
    else {
      const gtin = line.gtin ? toGtin14(line.gtin) : undefined;
      productId = matchLine(sent.lines, { gtin })?.productId ?? expected.find((e) => e.gtin && toGtin14(e.gtin) === gtin)?.productId;
    }
    if (productId === undefined) {
      throw businessError('quantity_variance', `${sent.order.name}: ${line.from} (${line.gtin ?? `product ${line.productId}`}) is not on this purchase order; the batch is not received`, {
        code: 'receipt_item_not_ordered',
        where: { field: line.from },
        detail: { po: sent.order.name, from: line.from, gtin: line.gtin, productId: line.productId, quantity: line.quantity },
      });
    }
    const lot = line.lot ?? line.serial;
    const announced = lot === undefined ? undefined : expected.find((e) => e.productId === productId && e.lotName === lot);
    const expiryDate = line.expiryDate ?? announced?.expiryDate ?? undefined;
    const resolved: ResolvedReceiptLine = { productId, ...(lot !== undefined ? { lot } : {}), ...(expiryDate ? { expiryDate } : {}), quantity: line.quantity };
    const bad = isExpired(expiryDate, today) || announced?.usable === false;
    const into = bad ? notUsable : usable;
    const key = `${productId}\u0000${lot ?? ''}`;
    const existing = into.get(key);
    if (existing) existing.quantity += line.quantity;
    else into.set(key, resolved);
  }
  return { usable: [...usable.values()], notUsable: [...notUsable.values()] };
}

/** Per product: what the picking still expects and what this batch brings. */
interface ProductOutcome {
  productId: number;
  open: number;
  received: number;
  short: number;
  over: number;
}

/**
 * `supplier.receive` (endpoint: the Odoo connection): validates the PO's incoming picking with the lots and
 * quantities received (ReceiptGateway.receive: lots with expiry adopted or created, move lines replaced,
 * `button_validate` without the wizards).
 * - short: Odoo's backorder semantics — a backorder picking keeps the rest (the backorder wizard's "Create
 *   Backorder"), or with `closeRest` the rest is cancelled ("No Backorder");
 * - over: accepted up to flows.supplier.overReceiptTolerancePercent above the open quantity (Odoo records the
 *   extra on the move and the PO line's qty_received); beyond it the whole batch is refused as a
 *   `quantity_variance` (parked: replay it once the PO is raised, or cancel it) and nothing is validated;
 * - split: several scans and lots of one line are several move lines of one move.
 * The picking is chosen once and stored on the batch before validating, so a retry after an ambiguous failure
 * finds it done (and its backorder) instead of receiving the same goods into the backorder. Found done, it is
 * taken for this batch's own only if no other batch validated it and it holds this batch's goods
 * (foreignValidation); otherwise — the batch failed or was parked while another validated the picking — it is
 * let go and chosen again, so a replay never counts another batch's goods as its own.
 */
export function receiveStep({ clientFor, flows }: ReceiptDependencies): DeliveryHandler {
  return {
    action: 'supplier.receive',
    async run(delivery, context): Promise<HandlerResult> {
      const payload = payloadOf<ReceivePayload>(delivery.payload, 'supplier.receive', ['batchKey', 'poKey', 'odooOrderId', 'lines']);
      const receipt = await findReceipt(context.pool, payload.batchKey);
      if (receipt?.status === 'validated') return { stages: [{ stage: `receipt ${payload.batchKey} already validated (picking ${receipt.pickingId})`, outcome: 'skipped' }] };
      const client = (await clientFor(delivery.endpoint)).withSignal(context.signal);
      const gateway = new ReceiptGateway(client);
      const products = await client.read('product.product', [...new Set(payload.lines.map((l) => l.productId))], ['tracking']);
      const tracked = new Set(products.filter((p) => p.tracking === 'lot' || p.tracking === 'serial').map((p) => p.id));
      const lines: ReceivedLine[] = payload.lines.map((l) => ({
        productId: l.productId,
        quantity: l.quantity,
        ...(l.lot && tracked.has(l.productId) ? { lotName: l.lot, ...(l.expiryDate ? { expirationDate: expirationDatetime(l.expiryDate) } : {}) } : {}),
      }));
      const stages: StageRecord[] = [];
      let pickingId = receipt?.pickingId ?? (await choosePicking(context.pool, payload, gateway));
      let [picking] = await client.read('stock.picking', [pickingId], ['state', 'name']);
      // Chosen by an earlier attempt and done since: this batch's own validation, or another's (see foreignValidation).
      const foreign = receipt?.pickingId != null && picking?.state === 'done' ? await foreignValidation(context.pool, client, payload.batchKey, pickingId, lines) : undefined;
      if (foreign) {
        stages.push({
          stage: `${payload.poName}: receipt ${String(picking?.name ?? pickingId)} chosen earlier was validated ${foreign === 'validated_by_other_batch' ? 'by another batch' : 'with other goods'}; this batch's goods were not received there, the picking is chosen again`,
          outcome: 'ok',
          detail: { pickingId, reason: foreign },
        });
        await letGoOfPicking(context.pool, payload.batchKey, pickingId);
        pickingId = await choosePicking(context.pool, payload, gateway);
        [picking] = await client.read('stock.picking', [pickingId], ['state', 'name']);
      }
      const done = picking?.state === 'done';
      const outcomes = done ? [] : await openByProduct(client, pickingId, payload.lines);
      if (!done) {
        const tolerance = flows.supplier.overReceiptTolerancePercent / 100;
        const beyond = outcomes.filter((o) => o.received > o.open * (1 + tolerance) + 1e-9);
        if (beyond.length > 0) {
          const evidence = { po: payload.poName, pickingId, tolerancePercent: flows.supplier.overReceiptTolerancePercent, products: beyond };
          await recordReceiptRefused(context.pool, payload.batchKey, { reason: 'over_receipt', ...evidence });
          throw businessError('quantity_variance', `${payload.poName}: receipt brings more than the open quantity allows (${beyond.map((o) => `product ${o.productId}: ${o.received} received, ${o.open} open`).join('; ')}; tolerance ${flows.supplier.overReceiptTolerancePercent}%): nothing received`, {
            code: 'over_receipt',
            where: { field: 'lines.quantity' },
            detail: evidence,
          });
        }
      }
      const result = await gateway.receive({ pickingId, lines, backorder: !payload.closeRest });
      const poLines = await client.searchRead('purchase.order.line', [['order_id', '=', payload.odooOrderId]], { fields: ['product_id'], order: 'id' });
      const lineOf = new Map(poLines.map((l) => [many2oneId(l.product_id) ?? 0, l.id]));
      const received: LineReceipt[] = [];
      for (const line of payload.lines) {
        const lineId = lineOf.get(line.productId);
        if (lineId === undefined) continue;
        let row = received.find((r) => r.odooPurchaseLineId === lineId);
        if (!row) received.push((row = { odooPurchaseLineId: lineId, productId: line.productId, quantity: 0, lots: [] }));
        row.quantity += line.quantity;
        row.lots.push({ lot: line.lot, expiryDate: line.expiryDate, quantity: line.quantity });
      }
      const outcome = { pickingId, alreadyDone: result.alreadyDone, backorderId: result.backorderId ?? null, closeRest: payload.closeRest, products: outcomes, notUsable: payload.notUsable };
      const short = outcomes.filter((o) => o.short > 0);
      const next: NewDelivery[] = supplyDeliveries(payload.supplyDelivery, payload.batchKey, received.map((r) => ({ productId: r.productId, quantity: r.quantity })), delivery.correlationId);
      return {
        stages: [...stages, {
          stage: `${payload.poName}: receipt ${String(picking?.name ?? pickingId)} validated${short.length ? `, short on ${short.length} product(s): ${result.backorderId ? `backorder ${result.backorderId} keeps the rest` : 'the rest is closed'}` : ''}${outcomes.some((o) => o.over > 0) ? ', over-receipt within tolerance accepted' : ''}`,
          outcome: 'ok',
          detail: outcome,
        }],
        next,
        inTransaction: (tx) => recordReceiptValidated(tx, { batchKey: payload.batchKey, poKey: payload.poKey, pickingId, backorderId: result.backorderId, outcome, lines: received }),
      };
    },
  };
}

/** The PO's oldest open incoming picking, stored on the batch at once (first writer wins). */
async function choosePicking(pool: pg.Pool, payload: ReceivePayload, gateway: ReceiptGateway): Promise<number> {
  const [open] = await gateway.openReceipts(payload.odooOrderId);
  if (open === undefined) {
    throw businessError('quantity_variance', `${payload.poName} has no open receipt in Odoo: everything ordered was received or cancelled; nothing received`, {
      code: 'receipt_nothing_open',
      where: { field: 'poNumber' },
      detail: { po: payload.poName, lines: payload.lines },
    });
  }
  const { rows } = await pool.query<{ picking_id: number }>(
    'update carelane.receipts set picking_id = coalesce(picking_id, $2) where batch_key = $1 returning picking_id',
    [payload.batchKey, open],
  );
  return rows[0]?.picking_id ?? open;
}

async function openByProduct(client: Awaited<ReturnType<OdooClientFor>>, pickingId: number, lines: ResolvedReceiptLine[]): Promise<ProductOutcome[]> {
  const moves = await client.searchRead('stock.move', [['picking_id', '=', pickingId], ['state', 'not in', ['done', 'cancel']]], { fields: ['product_id', 'product_uom_qty'] });
  const open = new Map<number, number>();
  for (const move of moves) open.set(many2oneId(move.product_id) ?? 0, (open.get(many2oneId(move.product_id) ?? 0) ?? 0) + Number(move.product_uom_qty));
  const received = new Map<number, number>();
  for (const line of lines) received.set(line.productId, (received.get(line.productId) ?? 0) + line.quantity);
  return [...new Set([...open.keys(), ...received.keys()])].map((productId) => {
    const o = open.get(productId) ?? 0;
    const r = received.get(productId) ?? 0;
    return { productId, open: o, received: r, short: Math.max(0, o - r), over: Math.max(0, r - o) };
  });
}
