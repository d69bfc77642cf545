import { createHash } from 'node:crypto';
import { toGtin14, withCheckDigit } from '../../src/connectors/gs1/index.ts';
import type { PurchaseOrder, PurchaseOrderLine } from '../../src/connectors/x12/index.ts';
import { transactionSet, type SegmentValues } from '../../src/connectors/x12/writer.ts';

/**
 * What a distributor sends back for a purchase order, as X12 transaction set bodies (pure). Follows the
 * 004010/005010 tables and the HIDA healthcare EDI guideline usage Carelane's mappers read:
 * - 855: BAK02 (587) AD accepted no change, AC accepted with changes, RJ rejected; per line PO1 + ACK01 (668)
 *   IA accepted, IQ quantity changed, IB backordered (ACK04 '068' current schedule ship + ACK05 date), IR rejected.
 * - 856: BSN, HL shipment (S) → order (O, PRF01 = PO number) → item (I, LIN with UK = GTIN-14 and LT = lot,
 *   SN1 shipped quantity, DTM*036 expiration date of that lot); one lot per item level.
 * - 810: BIG (invoice date, number, PO date, PO number), IT1 per line, TDS01 total in cents (N2).
 */

export type SupplierScenario = 'accept' | 'partial' | 'backorder' | 'reject';

export interface InvoiceVariance {
  /** added to every unit price, decimal string, e.g. '0.35' or '-0.10' */
  unitPriceDelta?: string;
  /** added to every invoiced quantity, e.g. 1 invoices one more unit than shipped */
  quantityDelta?: number;
}

export interface ShippedLine {
  line: PurchaseOrderLine;
  lineNumber: string;
  gtin: string;
  quantity: number;
  lot: string;
  expiryDate: string;
}

/** The quantity a scenario confirms and ships: partial ships half (rounded up), backorder and reject nothing yet. */
export function confirmedQuantity(scenario: SupplierScenario, ordered: number): number {
  if (scenario === 'accept') return ordered;
  if (scenario === 'partial') return Math.max(1, Math.ceil(ordered / 2));
  return 0;
}

/**
 * A GTIN-14 for a line: the one ordered when it carries a valid GTIN, else a stable one derived from the
 * vendor/buyer part number under the GS1 example company prefix 0614141 (GS1 General Specifications), with its
 * computed check digit.
 */
export function gtinForLine(line: PurchaseOrderLine): string {
  const ordered = line.product.gtin && toGtin14(line.product.gtin);
  if (ordered) return ordered;
  const key = line.product.vendorPartNumber ?? line.product.buyerPartNumber ?? line.lineNumber ?? 'item';
  const itemReference = String(parseInt(createHash('sha256').update(key).digest('hex').slice(0, 8), 16) % 100_000).padStart(5, '0');
  return withCheckDigit(`1${'0614141'}${itemReference}`);
}

const ymd = (iso: string) => iso.replaceAll('-', '');
const isoDay = (at: Date) => at.toISOString().slice(0, 10);
const addDays = (at: Date, days: number) => new Date(at.getTime() + days * 86_400_000);

export function purchaseOrderAck(order: PurchaseOrder, scenario: SupplierScenario, controlNumber: string, at: Date): SegmentValues[] {
  const type = scenario === 'accept' ? 'AD' : scenario === 'reject' ? 'RJ' : 'AC';
  const body: SegmentValues[] = [['BAK', '00', type, order.poNumber, ymd(order.orderDate), '', '', '', '', ymd(isoDay(at))]];
  order.lines.forEach((line, index) => {
    const lineNumber = line.lineNumber ?? String(index + 1);
    body.push(['PO1', lineNumber, String(line.quantity), line.unitOfMeasure, line.unitPrice ?? '', '', 'UK', gtinForLine(line), ...(line.product.vendorPartNumber ? ['VN', line.product.vendorPartNumber] : [])]);
    if (scenario === 'accept') body.push(['ACK', 'IA', String(line.quantity), line.unitOfMeasure]);
    else if (scenario === 'partial') body.push(['ACK', 'IQ', String(confirmedQuantity('partial', line.quantity)), line.unitOfMeasure]);
    else if (scenario === 'backorder') body.push(['ACK', 'IB', String(line.quantity), line.unitOfMeasure, '068', ymd(isoDay(addDays(at, 21)))]);
    else body.push(['ACK', 'IR', '0', line.unitOfMeasure]);
  });
  body.push(['CTT', String(order.lines.length)]);
  return transactionSet('855', controlNumber, body);
}

/**
 * How a distributor splits a line over lots: `perLine` lots per line (quantities split as evenly as possible,
 * the first lots taking the remainder), the first `expired` lots of the shipment already past their expiry
 * (a picking mistake a receiving dock must catch). Default: one good lot per line.
 */
export interface LotSplit {
  perLine?: number;
  expired?: number;
}

export function shippedLines(order: PurchaseOrder, scenario: SupplierScenario, at: Date, split: LotSplit = {}): ShippedLine[] {
  const perLine = Math.max(1, split.perLine ?? 1);
  let expiredLeft = split.expired ?? 0;
  const shipped: ShippedLine[] = [];
  order.lines.forEach((line, index) => {
    const lineNumber = line.lineNumber ?? String(index + 1);
    const quantity = confirmedQuantity(scenario, line.quantity);
    const lots = Math.min(perLine, quantity);
    for (let n = 0; n < lots; n++) {
      const share = Math.floor(quantity / lots) + (n < quantity % lots ? 1 : 0);
      const expired = expiredLeft-- > 0;
      const lot = `L${order.poNumber.replace(/[^A-Za-z0-9]/g, '').slice(-10)}${lineNumber}${lots > 1 ? String.fromCharCode(65 + n) : ''}`;
      shipped.push({ line, lineNumber, gtin: gtinForLine(line), quantity: share, lot, expiryDate: isoDay(addDays(at, expired ? -30 : 730)) });
    }
  });
  return shipped.filter((s) => s.quantity > 0);
}

/** One invoice line per PO line, whatever the number of lots it shipped in. */
function invoicedLines(shipped: ShippedLine[]): ShippedLine[] {
  const byLine = new Map<string, ShippedLine>();
  for (const s of shipped) {
    const seen = byLine.get(s.lineNumber);
    if (seen) seen.quantity += s.quantity;
    else byLine.set(s.lineNumber, { ...s });
  }
  return [...byLine.values()];
}

export function shipNotice(order: PurchaseOrder, shipped: ShippedLine[], shipmentId: string, controlNumber: string, at: Date): SegmentValues[] {
  const body: SegmentValues[] = [['BSN', '00', shipmentId, ymd(isoDay(at)), at.toISOString().slice(11, 16).replace(':', '')]];
  body.push(['HL', '1', '', 'S'], ['REF', 'BM', `BOL${shipmentId}`], ['DTM', '011', ymd(isoDay(at))]);
  body.push(['HL', '2', '1', 'O'], ['PRF', order.poNumber, '', '', ymd(order.orderDate)]);
  shipped.forEach((s, index) => {
    body.push(['HL', String(3 + index), '2', 'I'], ['LIN', s.lineNumber, 'UK', s.gtin, 'LT', s.lot], ['SN1', '', String(s.quantity), s.line.unitOfMeasure], ['DTM', '036', ymd(s.expiryDate)]);
  });
  body.push(['CTT', String(shipped.length)]);
  return transactionSet('856', controlNumber, body);
}

export function invoice(order: PurchaseOrder, shipped: ShippedLine[], invoiceNumber: string, variance: InvoiceVariance, controlNumber: string, at: Date): SegmentValues[] {
  const body: SegmentValues[] = [['BIG', ymd(isoDay(at)), invoiceNumber, ymd(order.orderDate), order.poNumber]];
  let totalCents = 0n;
  const lines = invoicedLines(shipped);
  for (const s of lines) {
    const quantity = s.quantity + (variance.quantityDelta ?? 0);
    const unitCents = toCents(s.line.unitPrice ?? '0') + toCents(variance.unitPriceDelta ?? '0');
    totalCents += unitCents * BigInt(quantity);
    body.push(['IT1', s.lineNumber, String(quantity), s.line.unitOfMeasure, fromCents(unitCents), '', 'UK', s.gtin]);
  }
  // TDS01 is N2: the amount in cents without a decimal point.
  body.push(['TDS', totalCents.toString()], ['CTT', String(lines.length)]);
  return transactionSet('810', controlNumber, body);
}

/** Money as integer cents (never floats: invoices are matched to the cent). */
export function toCents(decimal: string): bigint {
  const match = /^(-?)(\d*)(?:\.(\d{0,2})\d*)?$/.exec(decimal.trim());
  if (!match) throw new Error(`not a decimal amount: ${decimal}`);
  const cents = BigInt(match[2] || '0') * 100n + BigInt((match[3] ?? '').padEnd(2, '0') || '0');
  return match[1] ? -cents : cents;
}

export function fromCents(cents: bigint): string {
  const negative = cents < 0n;
  const abs = negative ? -cents : cents;
  return `${negative ? '-' : ''}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
}

/**
 * The same documents as supplier REST events (docs/supplier-rest.md): what a supplier without EDI posts to
 * Carelane's webhook. The statuses mirror the 855 above: partial → 'changed' with the confirmed quantity.
 */
export function restEvents(order: PurchaseOrder, scenario: SupplierScenario, shipped: ShippedLine[], variance: InvoiceVariance, at: Date): Array<{ eventId: string; type: string; occurredAt: string; data: unknown }> {
  const ref = order.poNumber.replace(/[^A-Za-z0-9]/g, '');
  const productOf = (line: PurchaseOrderLine) => ({ gtin: gtinForLine(line), ...(line.product.vendorPartNumber ? { vendorPartNumber: line.product.vendorPartNumber } : {}) });
  const status = scenario === 'accept' ? 'accepted' : scenario === 'partial' ? 'changed' : scenario === 'backorder' ? 'backordered' : 'rejected';
  const events: Array<{ eventId: string; type: string; occurredAt: string; data: unknown }> = [
    {
      eventId: `ack-${ref}`,
      type: 'purchase_order.acknowledged',
      occurredAt: at.toISOString(),
      data: {
        poNumber: order.poNumber,
        poDate: order.orderDate,
        lines: order.lines.map((line, index) => ({
          lineNumber: line.lineNumber ?? String(index + 1),
          orderedQuantity: line.quantity,
          unitOfMeasure: line.unitOfMeasure,
          ...(line.unitPrice ? { unitPrice: line.unitPrice } : {}),
          product: productOf(line),
          status,
          quantity: scenario === 'reject' ? 0 : scenario === 'backorder' ? line.quantity : confirmedQuantity(scenario, line.quantity),
          ...(scenario === 'backorder' ? { date: isoDay(addDays(at, 21)) } : {}),
        })),
      },
    },
  ];
  if (shipped.length === 0) return events;
  events.push({
    eventId: `asn-${ref}`,
    type: 'shipment.notified',
    occurredAt: at.toISOString(),
    data: {
      shipmentId: `SH${ref}`,
      noticeDate: isoDay(at),
      shippedDate: isoDay(at),
      billOfLading: `BOLSH${ref}`,
      items: shipped.map((s) => ({ poNumber: order.poNumber, lineNumber: s.lineNumber, product: { gtin: s.gtin }, quantity: s.quantity, unitOfMeasure: s.line.unitOfMeasure, lots: [{ lot: s.lot, expiryDate: s.expiryDate, quantity: s.quantity }] })),
    },
  });
  let total = 0n;
  const lines = invoicedLines(shipped).map((s) => {
    const quantity = s.quantity + (variance.quantityDelta ?? 0);
    const unitCents = toCents(s.line.unitPrice ?? '0') + toCents(variance.unitPriceDelta ?? '0');
    total += unitCents * BigInt(quantity);
    return { lineNumber: s.lineNumber, quantity, unitOfMeasure: s.line.unitOfMeasure, unitPrice: fromCents(unitCents), product: { gtin: s.gtin } };
  });
  events.push({ eventId: `inv-${ref}`, type: 'invoice.issued', occurredAt: at.toISOString(), data: { invoiceNumber: `INV${ref}`, invoiceDate: isoDay(at), poNumber: order.poNumber, poDate: order.orderDate, lines, totalAmount: fromCents(total) } });
  return events;
}
