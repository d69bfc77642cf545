import type pg from 'pg';
import { businessError, CarelaneError, permanentError } from '../../contracts/errors.ts';
import type { DeliveryHandler, HandlerResult, NewDelivery, StageRecord } from '../../engine/handlers.ts';
import { many2oneId, ReceiptGateway, type OdooClientFor, type ReceivedLine } from '../../connectors/odoo/index.ts';
import { toGtin14 } from '../../connectors/gs1/index.ts';
import type { FlowsConfig } from '../../config/schema.ts';
import { loadMessage } from './documents.ts';
import { findSentOrder, matchLine, type SentOrder } from './order-lines.ts';
import { readReceiptDocument, type ReceiptDocument } from './receipt-document.ts';
import {
  expectedLots, findReceipt, letGoOfPicking, linkToPurchaseOrder, openBusinessException, poSerials, recordReceiptBatch, recordReceiptRefused, recordReceiptValidated,
  recordSerialsReceived, serialsReceivedByOtherBatches, type ExpectedLot, type LineReceipt, type PoSerial,
} from './store.ts';
import { foreignValidation } from './receipt-recognition.ts';
import { expirationDatetime, expiredLotKey, isExpired } from './ship-notice.ts';
import { supplyDeliveryTargets, supplyDeliveries, type SupplyDeliveryTarget } from './supply-delivery.ts';
import { payloadOf } from '../step-payload.ts';

export interface ReceiptDependencies {
  clientFor: OdooClientFor;
  flows: FlowsConfig;
  now?: () => Date;
}

/** One received product and lot (or one unit by its serial number), resolved to the PO line. */
export interface ResolvedReceiptLine {
  productId: number;
  lot?: string;
  /** GS1 AI 21 / lines[].serial: this line is that one unit */
  serial?: string;
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
 * lot, shared with the ship notice that announced it), checks scanned serial numbers against the ship notices
 * (see resolveReceipt), records the batch, links it into the PO's transaction and enqueues `supplier.receive`.
 * A batch refused here is recorded as refused, with the reason, before the delivery parks. DB-only.
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
      const serials = await poSerials(context.pool, sent.order.poKey);
      const today = now().toISOString().slice(0, 10);
      let resolved: ReturnType<typeof resolveReceipt>;
      try {
        resolved = resolveReceipt(document, sent, expected, today, { serials, batchKey });
      } catch (error) {
        if (error instanceof CarelaneError && error.failureClass === 'business') {
          // GET /api/v1/receipts/{batchId} answers `refused` with the reason instead of nothing
          await recordReceiptBatch(context.pool, { batchKey, poKey: sent.order.poKey, correlationId: delivery.correlationId, messageId, lines: document.lines });
          await recordReceiptRefused(context.pool, batchKey, { reason: error.code, message: error.message, ...error.detail });
        }
        throw error;
      }
      const { usable, notUsable } = resolved;
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

/** A scanned serial number the batch cannot be received with. */
export interface SerialProblem {
  problem: 'not_on_ship_notice' | 'scanned_twice' | 'received_before';
  serial: string;
  productId: number;
  /** the scan or line naming it: scans[3], lines[0] */
  from: string;
  /** scanned_twice: where it was scanned first */
  firstFrom?: string;
  /** received_before: the batch id that received it */
  receivedBy?: string;
}

const describeSerialProblem = (p: SerialProblem): string =>
  p.problem === 'scanned_twice' ? `serial ${p.serial} of product ${p.productId} is scanned twice (${p.firstFrom} and ${p.from})`
  : p.problem === 'received_before' ? `serial ${p.serial} of product ${p.productId} (${p.from}) was received already (batch ${p.receivedBy})`
  : `serial ${p.serial} of product ${p.productId} (${p.from}) is not on the ship notice`;

/** The batch id of a batch key (`<source>|<batch id>`), for messages. */
const batchIdOf = (batchKey: string): string => batchKey.slice(batchKey.indexOf('|') + 1);

/**
 * Each scan/line → PO line and lot (pure). GTIN via the order as sent, else a lot the ship notices announced
 * with that GTIN; the expiry from the scan (AI 17), else from the announced serial or lot. Expired (before
 * today), or announced as not usable → not received. Same product and lot scanned several times → one line,
 * summed; a serial number (AI 21) is one unit, its own line. The whole batch is refused (`quantity_variance`,
 * every bad serial named) when a serial is scanned twice, was received by another batch
 * (`serial_received_twice`), or is not among the serials the ship notices announced for its product when they
 * announced any (`serial_not_on_ship_notice`; both kinds: `serial_mismatch`).
 */
export function resolveReceipt(
  document: ReceiptDocument,
  sent: SentOrder,
  expected: ExpectedLot[],
  today: string,
  known: { serials: PoSerial[]; batchKey: string } = { serials: [], batchKey: '' },
): { usable: ResolvedReceiptLine[]; notUsable: ResolvedReceiptLine[] } {
  const usable = new Map<string, ResolvedReceiptLine>();
  const notUsable = new Map<string, ResolvedReceiptLine>();
  const serialKey = (productId: number, serial: string) => `${productId}\u0000${serial}`;
  const serialRows = new Map(known.serials.map((s) => [serialKey(s.productId, s.serial), s]));
  const withAnnouncedSerials = new Set(known.serials.filter((s) => s.announced).map((s) => s.productId));
  const scannedAt = new Map<string, string>();
  const serialProblems: SerialProblem[] = [];
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
    const serial = line.serial;
    const unit = serial === undefined ? undefined : serialRows.get(serialKey(productId, serial));
    if (serial !== undefined) {
      const key = serialKey(productId, serial);
      const first = scannedAt.get(key);
      if (first !== undefined) serialProblems.push({ problem: 'scanned_twice', serial, productId, from: line.from, firstFrom: first });
      else if (unit?.receivedBatchKey && unit.receivedBatchKey !== known.batchKey) serialProblems.push({ problem: 'received_before', serial, productId, from: line.from, receivedBy: batchIdOf(unit.receivedBatchKey) });
      else if (withAnnouncedSerials.has(productId) && !unit?.announced) serialProblems.push({ problem: 'not_on_ship_notice', serial, productId, from: line.from });
      if (first === undefined) scannedAt.set(key, line.from);
    }
    // a serial scan without AI 10 takes the lot its unit was announced in
    const lot = line.lot ?? (unit?.lotName || undefined);
    const announced = lot === undefined ? undefined : expected.find((e) => e.productId === productId && e.lotName === lot);
    const expiryDate = line.expiryDate ?? unit?.expiryDate ?? announced?.expiryDate ?? undefined;
    const resolved: ResolvedReceiptLine = { productId, ...(lot !== undefined ? { lot } : {}), ...(serial !== undefined ? { serial } : {}), ...(expiryDate ? { expiryDate } : {}), quantity: line.quantity };
    const bad = isExpired(expiryDate, today) || announced?.usable === false || unit?.usable === false;
    const into = bad ? notUsable : usable;
    const key = serial !== undefined ? `${productId}\u0000${lot ?? ''}\u0000${serial}` : `${productId}\u0000${lot ?? ''}`;
    const existing = into.get(key);
    if (existing) existing.quantity += line.quantity;
    else into.set(key, resolved);
  }
  if (serialProblems.length > 0) {
    const kinds = new Set(serialProblems.map((p) => (p.problem === 'not_on_ship_notice' ? 'serial_not_on_ship_notice' : 'serial_received_twice')));
    throw businessError('quantity_variance', `${sent.order.name}: ${serialProblems.map(describeSerialProblem).join('; ')}; receipt ${document.batchId} is not received`, {
      code: kinds.size === 1 ? [...kinds][0]! : 'serial_mismatch',
      where: { field: serialProblems[0]!.from },
      detail: { po: sent.order.name, batchId: document.batchId, serials: serialProblems },
    });
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
 * - split: several scans and lots of one line are several move lines of one move;
 * - serial: a product tracked by serial gets one move line per serial (odooLines); a unit without a serial, or a
 *   serial another batch received, refuses the batch before Odoo is touched (refuseUnreceivableSerials).
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
      const tracking = new Map(products.map((p) => [p.id, String(p.tracking)]));
      await refuseUnreceivableSerials(context.pool, payload, tracking);
      const lines = odooLines(payload.lines, tracking);
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
        row.lots.push({ lot: line.lot, ...(line.serial !== undefined ? { serial: line.serial } : {}), expiryDate: line.expiryDate, quantity: line.quantity });
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
        inTransaction: async (tx) => {
          await recordReceiptValidated(tx, { batchKey: payload.batchKey, poKey: payload.poKey, pickingId, backorderId: result.backorderId, outcome, lines: received });
          await recordSerialsReceived(tx, payload.poKey, payload.batchKey, payload.lines.flatMap((l) => (l.serial === undefined ? [] : [{ productId: l.productId, serial: l.serial, lot: l.lot, expiryDate: l.expiryDate }])));
        },
      };
    },
  };
}

/**
 * What Odoo is given per tracking (reference/odoo.md §2.5): a product tracked by serial gets one move line of
 * quantity 1 per serial, `lot_name` = the serial (stock.move.line._action_done creates one stock.lot per such
 * line; stock.quant.check_quantity refuses more than one unit of a serial in a location); one tracked by lot one
 * move line per lot (a lot-less serial scan's serial as its lot, as before serials were carried); an untracked
 * one a line per product, its lots and serials kept in Carelane only.
 */
export function odooLines(lines: ResolvedReceiptLine[], tracking: ReadonlyMap<number, string>): ReceivedLine[] {
  const out: ReceivedLine[] = [];
  const grouped = new Map<string, ReceivedLine>();
  for (const line of lines) {
    const expiration = line.expiryDate ? { expirationDate: expirationDatetime(line.expiryDate) } : {};
    const kind = tracking.get(line.productId);
    if (kind === 'serial' && line.serial !== undefined) {
      out.push({ productId: line.productId, quantity: line.quantity, lotName: line.serial, ...expiration });
      continue;
    }
    const lotName = kind === 'lot' || kind === 'serial' ? line.lot ?? line.serial : undefined;
    const key = `${line.productId}\u0000${lotName ?? ''}`;
    const same = grouped.get(key);
    if (same) {
      same.quantity += line.quantity;
      continue;
    }
    const row: ReceivedLine = { productId: line.productId, quantity: line.quantity, ...(lotName ? { lotName, ...expiration } : {}) };
    grouped.set(key, row);
    out.push(row);
  }
  return out;
}

/**
 * Refuses the batch before anything is written in Odoo when a product tracked by serial comes without a serial
 * per unit (Odoo would refuse the validation: "You need to supply a Lot/Serial number"), or a serial was
 * received meanwhile by another batch of the PO (flow.receipt checked it, but batches are checked before the
 * earlier one is validated).
 */
async function refuseUnreceivableSerials(pool: pg.Pool, payload: ReceivePayload, tracking: ReadonlyMap<number, string>): Promise<void> {
  const withoutSerial = new Map<number, number>();
  for (const line of payload.lines) {
    if (tracking.get(line.productId) === 'serial' && line.serial === undefined) withoutSerial.set(line.productId, (withoutSerial.get(line.productId) ?? 0) + line.quantity);
  }
  if (withoutSerial.size > 0) {
    const products = [...withoutSerial].map(([productId, quantity]) => ({ productId, quantity }));
    await recordReceiptRefused(pool, payload.batchKey, { reason: 'serial_required', products });
    throw businessError('quantity_variance', `${payload.poName}: ${products.map((p) => `product ${p.productId} is tracked by serial number in Odoo and ${p.quantity} unit(s) came without one`).join('; ')} (scan AI (21) per unit, or lines[].serial): nothing received`, {
      code: 'serial_required',
      where: { field: 'lines.serial' },
      detail: { po: payload.poName, products },
    });
  }
  const serials = payload.lines.flatMap((l) => (l.serial === undefined ? [] : [{ productId: l.productId, serial: l.serial }]));
  const received = await serialsReceivedByOtherBatches(pool, payload.poKey, payload.batchKey, serials);
  if (received.length > 0) {
    const evidence = received.map((r) => ({ productId: r.productId, serial: r.serial, receivedBy: batchIdOf(r.batchKey) }));
    await recordReceiptRefused(pool, payload.batchKey, { reason: 'serial_received_twice', serials: evidence });
    throw businessError('quantity_variance', `${payload.poName}: ${evidence.map((e) => `serial ${e.serial} of product ${e.productId} was received already (batch ${e.receivedBy})`).join('; ')}: nothing received`, {
      code: 'serial_received_twice',
      where: { field: 'lines.serial' },
      detail: { po: payload.poName, serials: evidence },
    });
  }
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
