import type { Invoice, InvoiceLine } from './canonical.ts';
import type { TransactionSet } from './envelope.ts';
import { body, el, impliedDecimal2, isoDate, numberOf, optional, party, productIds, required, requiredSegment } from './segment-access.ts';

/**
 * 810 Invoice to canonical: BIG (01 invoice date, 02 invoice number, 03 PO date, 04 PO number), N1 parties,
 * IT1 lines (01 line number, 02 quantity invoiced, 03 unit, 04 unit price, 06… qualifier/id pairs), TDS01
 * total invoice amount (type N2: two implied decimals).
 */
export function mapInvoice(transaction: TransactionSet): Invoice {
  const big = requiredSegment(transaction, 'BIG');
  const tds = requiredSegment(transaction, 'TDS');
  const invoice: Invoice = {
    invoiceNumber: required(big.segment, 2, 'invoice number', big.position),
    invoiceDate: isoDate(required(big.segment, 1, 'invoice date', big.position)),
    ...(optional(big.segment, 4) ? { poNumber: el(big.segment, 4) } : {}),
    ...(optional(big.segment, 3) ? { poDate: isoDate(el(big.segment, 3)) } : {}),
    parties: [],
    lines: [],
    totalAmount: impliedDecimal2(required(tds.segment, 1, 'total invoice amount', tds.position)),
  };
  let line: InvoiceLine | undefined;
  for (const { segment, position } of body(transaction)) {
    if (segment.id === 'N1') invoice.parties.push(party(segment));
    else if (segment.id === 'IT1') {
      line = {
        ...(optional(segment, 1) ? { lineNumber: el(segment, 1) } : {}),
        quantity: numberOf(segment, 2) ?? 0,
        unitOfMeasure: el(segment, 3),
        unitPrice: required(segment, 4, 'unit price', position),
        product: productIds(segment, 6, 25),
      };
      invoice.lines.push(line);
    } else if (segment.id === 'PID' && line && !line.description && el(segment, 5)) {
      line.description = el(segment, 5);
    } else if (segment.id === 'TDS') {
      line = undefined;
    }
  }
  return invoice;
}
