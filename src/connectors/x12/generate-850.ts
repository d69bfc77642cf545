import { permanentError } from '../../contracts/errors.ts';
import { toGtin14 } from '../gs1/check-digit.ts';
import { checkValue, defaultDelimiters, transactionSet, writeInterchange, type EnvelopeOptions, type SegmentValues } from './writer.ts';

/**
 * Writes an 850 Purchase Order from Carelane's outbound purchase order (004010/005010 850 table:
 * BEG, N1 loop, PO1 loop with PID, CTT). Product ids: VN vendor item number, UK GTIN-14 (data element 235),
 * BP buyer part number. CTT01 = number of PO1 segments, CTT02 = hash total of PO102 quantities.
 */

export interface OutboundPurchaseOrderLine {
  lineNumber?: string;
  quantity: number;
  unitOfMeasure: string;
  /** decimal string, e.g. '12.50' */
  unitPrice: string;
  vendorPartNumber?: string;
  gtin?: string;
  buyerPartNumber?: string;
  description?: string;
}

export interface OutboundPurchaseOrder {
  poNumber: string;
  /** ISO date */
  orderDate: string;
  /** BEG01; default '00' original */
  purpose?: string;
  /** BEG02; default 'NE' new order */
  orderType?: string;
  vendor?: { id: string; idQualifier?: string; name?: string };
  shipTo: { id: string; idQualifier?: string; name?: string };
  lines: OutboundPurchaseOrderLine[];
}

export interface Generated850 {
  text: string;
  transactionControlNumber: string;
}

export function generate850(order: OutboundPurchaseOrder, envelope: EnvelopeOptions & { transactionControlNumber: number }): Generated850 {
  const d = envelope.delimiters ?? defaultDelimiters(envelope.version);
  const v = (value: string, field: string) => checkValue(value, d, field);
  if (order.lines.length === 0) throw permanentError(`purchase order ${order.poNumber} has no lines`, { code: 'x12_order_empty', where: { field: 'lines' } });
  if (!/^\d{4}-\d{2}-\d{2}$/.test(order.orderDate)) throw permanentError(`orderDate ${JSON.stringify(order.orderDate)} is not an ISO date`, { code: 'x12_value_invalid', where: { field: 'orderDate' } });
  const body: SegmentValues[] = [['BEG', order.purpose ?? '00', order.orderType ?? 'NE', v(order.poNumber, 'poNumber'), '', order.orderDate.replaceAll('-', '')]];
  body.push(['N1', 'ST', v(order.shipTo.name ?? '', 'shipTo.name'), order.shipTo.idQualifier ?? '92', v(order.shipTo.id, 'shipTo.id')]);
  if (order.vendor) body.push(['N1', 'VN', v(order.vendor.name ?? '', 'vendor.name'), order.vendor.idQualifier ?? '92', v(order.vendor.id, 'vendor.id')]);
  let hashTotal = 0;
  order.lines.forEach((line, index) => {
    const field = `lines[${index}]`;
    if (!(line.quantity > 0)) throw permanentError(`${field}.quantity must be positive`, { code: 'x12_value_invalid', where: { field: `${field}.quantity` } });
    if (!/^\d+(\.\d+)?$/.test(line.unitPrice)) throw permanentError(`${field}.unitPrice ${JSON.stringify(line.unitPrice)} is not a decimal`, { code: 'x12_value_invalid', where: { field: `${field}.unitPrice` } });
    const ids: string[] = [];
    if (line.vendorPartNumber) ids.push('VN', v(line.vendorPartNumber, `${field}.vendorPartNumber`));
    if (line.gtin) {
      const gtin = toGtin14(line.gtin);
      if (!gtin) throw permanentError(`${field}.gtin ${line.gtin} has a wrong check digit or length`, { code: 'gs1_gtin_invalid', where: { field: `${field}.gtin` } });
      ids.push('UK', gtin);
    }
    if (line.buyerPartNumber) ids.push('BP', v(line.buyerPartNumber, `${field}.buyerPartNumber`));
    if (ids.length === 0) throw permanentError(`${field} names no product (vendorPartNumber, gtin or buyerPartNumber)`, { code: 'x12_value_invalid', where: { field } });
    body.push(['PO1', line.lineNumber ?? String(index + 1), String(line.quantity), v(line.unitOfMeasure, `${field}.unitOfMeasure`), line.unitPrice, '', ...ids]);
    if (line.description) body.push(['PID', 'F', '', '', '', v(line.description, `${field}.description`)]);
    hashTotal += line.quantity;
  });
  body.push(['CTT', String(order.lines.length), String(hashTotal)]);
  const control = String(envelope.transactionControlNumber).padStart(4, '0');
  const text = writeInterchange('PO', [transactionSet('850', control, body)], envelope);
  return { text, transactionControlNumber: control };
}
