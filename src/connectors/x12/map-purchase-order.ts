import type { LineStatus, PurchaseOrder, PurchaseOrderAck, PurchaseOrderAckLine, PurchaseOrderLine } from './canonical.ts';
import type { TransactionSet } from './envelope.ts';
import { body, el, isoDate, numberOf, optional, party, productIds, required, requiredSegment } from './segment-access.ts';

/**
 * 850 Purchase Order and 855 Purchase Order Acknowledgment (004010/005010 tables) to canonical. Pure.
 * PO1: 01 line number, 02 quantity, 03 unit, 04 unit price, 06… qualifier/id pairs; PID05 description.
 */

export function mapPurchaseOrder(transaction: TransactionSet): PurchaseOrder {
  const beg = requiredSegment(transaction, 'BEG');
  const order: PurchaseOrder = {
    poNumber: required(beg.segment, 3, 'purchase order number', beg.position),
    orderDate: isoDate(required(beg.segment, 5, 'purchase order date', beg.position)),
    purpose: el(beg.segment, 1),
    orderType: el(beg.segment, 2),
    parties: [],
    lines: [],
  };
  let line: PurchaseOrderLine | undefined;
  for (const { segment } of body(transaction)) {
    if (segment.id === 'N1') {
      const p = party(segment);
      order.parties.push(p);
      if (p.role === 'ST' && p.id && !order.shipToId) order.shipToId = p.id;
      if ((p.role === 'VN' || p.role === 'SU') && p.id && !order.vendorId) order.vendorId = p.id;
    } else if (segment.id === 'PO1') {
      line = {
        ...(optional(segment, 1) ? { lineNumber: el(segment, 1) } : {}),
        quantity: numberOf(segment, 2) ?? 0,
        unitOfMeasure: el(segment, 3),
        ...(optional(segment, 4) ? { unitPrice: el(segment, 4) } : {}),
        product: productIds(segment, 6, 25),
      };
      order.lines.push(line);
    } else if (segment.id === 'PID' && line && !line.description && el(segment, 5)) {
      line.description = el(segment, 5);
    } else if (segment.id === 'CTT') {
      line = undefined;
    }
  }
  return order;
}

/** ACK01 line item status (data element 668) to what a flow does with the line. */
const STATUS_BY_CODE: Record<string, LineStatus> = {
  IA: 'accepted', AC: 'accepted', AR: 'accepted', IE: 'accepted', SP: 'accepted',
  IC: 'changed', IP: 'changed', IQ: 'changed', IS: 'changed', DR: 'changed',
  IR: 'rejected', ID: 'rejected', R1: 'rejected', R2: 'rejected', R3: 'rejected', R4: 'rejected',
  IB: 'backordered', BP: 'backordered',
  IH: 'on_hold', IF: 'on_hold', IW: 'on_hold',
};

export function lineStatusOf(code: string): LineStatus {
  return STATUS_BY_CODE[code] ?? 'other';
}

export function mapPurchaseOrderAck(transaction: TransactionSet): PurchaseOrderAck {
  const bak = requiredSegment(transaction, 'BAK');
  const ack: PurchaseOrderAck = {
    poNumber: required(bak.segment, 3, 'purchase order number', bak.position),
    acknowledgmentType: required(bak.segment, 2, 'acknowledgment type', bak.position),
    poDate: isoDate(required(bak.segment, 4, 'purchase order date', bak.position)),
    lines: [],
  };
  let line: PurchaseOrderAckLine | undefined;
  for (const { segment } of body(transaction)) {
    if (segment.id === 'PO1') {
      line = {
        ...(optional(segment, 1) ? { lineNumber: el(segment, 1) } : {}),
        ...(numberOf(segment, 2) !== undefined ? { orderedQuantity: numberOf(segment, 2)! } : {}),
        ...(optional(segment, 3) ? { unitOfMeasure: el(segment, 3) } : {}),
        ...(optional(segment, 4) ? { unitPrice: el(segment, 4) } : {}),
        product: productIds(segment, 6, 25),
        statuses: [],
      };
      ack.lines.push(line);
    } else if (segment.id === 'ACK' && line) {
      // ACK04/05: date/time qualifier and date (e.g. 068 current schedule ship).
      const date = el(segment, 5);
      line.statuses.push({
        code: el(segment, 1),
        status: lineStatusOf(el(segment, 1)),
        ...(numberOf(segment, 2) !== undefined ? { quantity: numberOf(segment, 2)! } : {}),
        ...(optional(segment, 3) ? { unitOfMeasure: el(segment, 3) } : {}),
        ...(date ? { date: isoDate(date) } : {}),
      });
    } else if (segment.id === 'CTT') {
      line = undefined;
    }
  }
  return ack;
}
