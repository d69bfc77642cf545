import { permanentError } from '../../contracts/errors.ts';
import type { CanonicalDocument, HierarchyLevel, LineStatus, ProductIds, PurchaseOrderAck, ShipNotice, Invoice, ShippedItem } from '../x12/canonical.ts';

/**
 * The supplier REST profile's inbound events (docs/supplier-rest.md) and their mapping onto the canonical
 * documents X12 855/856/810 map to (src/connectors/x12/canonical.ts), so a flow handles an acknowledgment the
 * same whichever channel brought it. Validation is strict and names the field, as X12's names the element.
 */

export type SupplierEventType = 'purchase_order.acknowledged' | 'shipment.notified' | 'invoice.issued';

export interface SupplierEvent {
  /** the supplier's unique id of the event: duplicates are recognised on it */
  eventId: string;
  type: SupplierEventType;
  /** ISO 8601 */
  occurredAt: string;
  data: unknown;
}

export interface RestProduct {
  gtin?: string;
  vendorPartNumber?: string;
  buyerPartNumber?: string;
}

export type RestLineStatus = 'accepted' | 'changed' | 'rejected' | 'backordered';

/** Per-line status → ACK01 (data element 668): IA accepted, IC changed, IR rejected, IB backordered. */
const ACK01: Record<RestLineStatus, string> = { accepted: 'IA', changed: 'IC', rejected: 'IR', backordered: 'IB' };

export const CANONICAL_JSON = 'application/vnd.carelane.canonical+json';

/** Message type stored for each event: SUPPLIER_855/856/810, the X12 numbers of the canonical document. */
export const messageTypeOfEvent = (type: SupplierEventType): string => `SUPPLIER_${type === 'purchase_order.acknowledged' ? '855' : type === 'shipment.notified' ? '856' : '810'}`;

/** Parses and validates an event body; throws a permanent CarelaneError naming the field. */
export function parseSupplierEvent(body: Buffer | string): { event: SupplierEvent; document: CanonicalDocument } {
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString());
  } catch (error) {
    throw invalid('body', `not JSON: ${(error as Error).message}`);
  }
  const event = object(raw, 'body');
  const eventId = text(event.eventId, 'eventId');
  const type = text(event.type, 'type') as SupplierEventType;
  const occurredAt = text(event.occurredAt, 'occurredAt');
  if (Number.isNaN(Date.parse(occurredAt))) throw invalid('occurredAt', 'not an ISO 8601 date-time');
  const data = object(event.data, 'data');
  let document: CanonicalDocument;
  if (type === 'purchase_order.acknowledged') document = { type: '855', purchaseOrderAck: toAck(data) };
  else if (type === 'shipment.notified') document = { type: '856', shipNotice: toShipNotice(data) };
  else if (type === 'invoice.issued') document = { type: '810', invoice: toInvoice(data) };
  else throw invalid('type', `unknown event type ${JSON.stringify(type)} (purchase_order.acknowledged, shipment.notified, invoice.issued)`);
  return { event: { eventId, type, occurredAt, data }, document };
}

function toAck(data: Record<string, unknown>): PurchaseOrderAck {
  const lines = list(data.lines, 'data.lines').map((item, index) => {
    const at = `data.lines[${index}]`;
    const line = object(item, at);
    const status = oneOf(line.status, `${at}.status`, Object.keys(ACK01)) as RestLineStatus;
    const quantity = optionalNumber(line.quantity, `${at}.quantity`);
    const date = optionalDate(line.date, `${at}.date`);
    const unitOfMeasure = optionalText(line.unitOfMeasure, `${at}.unitOfMeasure`);
    const orderedQuantity = optionalNumber(line.orderedQuantity, `${at}.orderedQuantity`);
    const unitPrice = optionalMoney(line.unitPrice, `${at}.unitPrice`);
    const lineNumber = optionalText(line.lineNumber, `${at}.lineNumber`);
    const reason = optionalText(line.reason, `${at}.reason`);
    return {
      ...(lineNumber ? { lineNumber } : {}),
      ...(orderedQuantity !== undefined ? { orderedQuantity } : {}),
      ...(unitOfMeasure ? { unitOfMeasure } : {}),
      ...(unitPrice ? { unitPrice } : {}),
      product: product(line.product, `${at}.product`),
      statuses: [{ code: ACK01[status], status: status as LineStatus, ...(quantity !== undefined ? { quantity } : {}), ...(unitOfMeasure ? { unitOfMeasure } : {}), ...(date ? { date } : {}), ...(reason ? { reason } : {}) }],
    };
  });
  const statuses = lines.map((l) => l.statuses[0]!.status);
  // BAK02 (587): RJ all rejected, AD accepted without change, AC accepted with detail and changes.
  const acknowledgmentType = statuses.length > 0 && statuses.every((s) => s === 'rejected') ? 'RJ' : statuses.every((s) => s === 'accepted') ? 'AD' : 'AC';
  return { poNumber: text(data.poNumber, 'data.poNumber'), acknowledgmentType, poDate: date(data.poDate, 'data.poDate'), lines };
}

function toShipNotice(data: Record<string, unknown>): ShipNotice {
  const hierarchy: HierarchyLevel[] = [{ id: '1', code: 'S', level: 'shipment' }];
  const orderLevel = new Map<string, string>();
  const items: ShippedItem[] = list(data.items, 'data.items').map((value, index) => {
    const at = `data.items[${index}]`;
    const item = object(value, at);
    const poNumber = text(item.poNumber, `${at}.poNumber`);
    // The same levels an 856 carries (HL03 S → O → I), built from the flat list.
    if (!orderLevel.has(poNumber)) {
      const id = String(hierarchy.length + 1);
      orderLevel.set(poNumber, id);
      hierarchy.push({ id, parentId: '1', code: 'O', level: 'order' });
    }
    const id = String(hierarchy.length + 1);
    hierarchy.push({ id, parentId: orderLevel.get(poNumber)!, code: 'I', level: 'item' });
    const lots = item.lots === undefined ? [] : list(item.lots, `${at}.lots`).map((lotValue, lotIndex) => {
      const lotAt = `${at}.lots[${lotIndex}]`;
      const lot = object(lotValue, lotAt);
      const expiryDate = optionalDate(lot.expiryDate, `${lotAt}.expiryDate`);
      const quantity = optionalNumber(lot.quantity, `${lotAt}.quantity`);
      return { lot: text(lot.lot, `${lotAt}.lot`), ...(expiryDate ? { expiryDate } : {}), ...(quantity !== undefined ? { quantity } : {}) };
    });
    const lineNumber = optionalText(item.lineNumber, `${at}.lineNumber`);
    const packageMark = optionalText(item.sscc, `${at}.sscc`);
    return {
      hierarchyId: id,
      poNumber,
      ...(packageMark ? { packageMark } : {}),
      ...(lineNumber ? { lineNumber } : {}),
      product: product(item.product, `${at}.product`),
      quantity: number(item.quantity, `${at}.quantity`),
      unitOfMeasure: text(item.unitOfMeasure, `${at}.unitOfMeasure`),
      lots,
    };
  });
  const shippedDate = optionalDate(data.shippedDate, 'data.shippedDate');
  const billOfLading = optionalText(data.billOfLading, 'data.billOfLading');
  // BSN01 '00': an original notice; the REST profile has no replacements.
  return { shipmentId: text(data.shipmentId, 'data.shipmentId'), noticeDate: date(data.noticeDate, 'data.noticeDate'), purpose: '00', ...(shippedDate ? { shippedDate } : {}), ...(billOfLading ? { billOfLading } : {}), hierarchy, items };
}

function toInvoice(data: Record<string, unknown>): Invoice {
  const lines = list(data.lines, 'data.lines').map((value, index) => {
    const at = `data.lines[${index}]`;
    const line = object(value, at);
    const lineNumber = optionalText(line.lineNumber, `${at}.lineNumber`);
    const description = optionalText(line.description, `${at}.description`);
    return {
      ...(lineNumber ? { lineNumber } : {}),
      quantity: number(line.quantity, `${at}.quantity`),
      unitOfMeasure: text(line.unitOfMeasure, `${at}.unitOfMeasure`),
      unitPrice: money(line.unitPrice, `${at}.unitPrice`),
      product: product(line.product, `${at}.product`),
      ...(description ? { description } : {}),
    };
  });
  const poDate = optionalDate(data.poDate, 'data.poDate');
  return { invoiceNumber: text(data.invoiceNumber, 'data.invoiceNumber'), invoiceDate: date(data.invoiceDate, 'data.invoiceDate'), poNumber: text(data.poNumber, 'data.poNumber'), ...(poDate ? { poDate } : {}), parties: [], lines, totalAmount: money(data.totalAmount, 'data.totalAmount') };
}

/** The product ids of a line, with `all` in X12 qualifiers (UK GTIN-14, VN vendor, BP buyer) like the 855/856/810 mappings. */
function product(value: unknown, at: string): ProductIds {
  const p = object(value, at) as RestProduct & Record<string, unknown>;
  const gtin = optionalText(p.gtin, `${at}.gtin`);
  if (gtin !== undefined && !/^\d{14}$/.test(gtin)) throw invalid(`${at}.gtin`, 'a GTIN-14 is 14 digits');
  const vendorPartNumber = optionalText(p.vendorPartNumber, `${at}.vendorPartNumber`);
  const buyerPartNumber = optionalText(p.buyerPartNumber, `${at}.buyerPartNumber`);
  if (!gtin && !vendorPartNumber && !buyerPartNumber) throw invalid(at, 'needs gtin, vendorPartNumber or buyerPartNumber');
  const all = [...(gtin ? [{ qualifier: 'UK', value: gtin }] : []), ...(vendorPartNumber ? [{ qualifier: 'VN', value: vendorPartNumber }] : []), ...(buyerPartNumber ? [{ qualifier: 'BP', value: buyerPartNumber }] : [])];
  return { ...(gtin ? { gtin } : {}), ...(vendorPartNumber ? { vendorPartNumber } : {}), ...(buyerPartNumber ? { buyerPartNumber } : {}), all };
}

const invalid = (field: string, message: string) => permanentError(`supplier event ${field}: ${message}`, { code: 'supplier_event_invalid', where: { field } });
function object(value: unknown, at: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(at, 'must be an object');
  return value as Record<string, unknown>;
}
function list(value: unknown, at: string): unknown[] {
  if (!Array.isArray(value) || value.length === 0) throw invalid(at, 'must be a non-empty array');
  return value;
}
function text(value: unknown, at: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw invalid(at, 'must be a non-empty string');
  return value;
}
const optionalText = (value: unknown, at: string): string | undefined => (value === undefined || value === null ? undefined : text(value, at));
function number(value: unknown, at: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw invalid(at, 'must be a number ≥ 0');
  return value;
}
const optionalNumber = (value: unknown, at: string): number | undefined => (value === undefined || value === null ? undefined : number(value, at));
function date(value: unknown, at: string): string {
  const s = text(value, at);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s) || Number.isNaN(Date.parse(s))) throw invalid(at, 'must be a date YYYY-MM-DD');
  return s;
}
const optionalDate = (value: unknown, at: string): string | undefined => (value === undefined || value === null ? undefined : date(value, at));
/** Money stays a decimal string (canonical.ts: matched to the cent, never a float). */
function money(value: unknown, at: string): string {
  const s = text(value, at);
  if (!/^-?\d+(\.\d{1,4})?$/.test(s)) throw invalid(at, 'must be a decimal string such as "12.50"');
  return s;
}
const optionalMoney = (value: unknown, at: string): string | undefined => (value === undefined || value === null ? undefined : money(value, at));
const oneOf = (value: unknown, at: string, allowed: string[]): string => {
  const s = text(value, at);
  if (!allowed.includes(s)) throw invalid(at, `must be one of ${allowed.join(', ')}`);
  return s;
};
