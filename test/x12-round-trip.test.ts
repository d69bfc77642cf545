import { describe, expect, it } from 'vitest';
import { allIssues, generate850, readX12, toCanonical, type OutboundPurchaseOrder, type PurchaseOrder, type X12Delimiters } from '../src/connectors/x12/index.ts';
import { toGtin14 } from '../src/connectors/gs1/index.ts';

/**
 * Round trip: a purchase order written as an 850 (generate850) and read back (readX12 → toCanonical) is the
 * same purchase order. `expectedCanonical` states, independently of the mapping code, what the canonical form
 * of an outbound order is: the 850 table's N1 loop (ST first, then VN), PO1 qualifier/value pairs in the
 * order VN, UK (GTIN-14, data element 235), BP, and PID05 as the description.
 */
function expectedCanonical(order: OutboundPurchaseOrder): PurchaseOrder {
  const party = (role: string, p: { id: string; idQualifier?: string; name?: string }, defaultQualifier: string) => ({
    role,
    ...(p.name ? { name: p.name } : {}),
    idQualifier: p.idQualifier ?? defaultQualifier,
    id: p.id,
  });
  return {
    poNumber: order.poNumber,
    orderDate: order.orderDate,
    purpose: order.purpose ?? '00',
    orderType: order.orderType ?? 'NE',
    shipToId: order.shipTo.id,
    ...(order.vendor ? { vendorId: order.vendor.id } : {}),
    parties: [party('ST', order.shipTo, '92'), ...(order.vendor ? [party('VN', order.vendor, '92')] : [])],
    lines: order.lines.map((line, index) => {
      const gtin = line.gtin ? toGtin14(line.gtin) : undefined;
      const all = [
        ...(line.vendorPartNumber ? [{ qualifier: 'VN', value: line.vendorPartNumber }] : []),
        ...(gtin ? [{ qualifier: 'UK', value: gtin }] : []),
        ...(line.buyerPartNumber ? [{ qualifier: 'BP', value: line.buyerPartNumber }] : []),
      ];
      return {
        lineNumber: line.lineNumber ?? String(index + 1),
        quantity: line.quantity,
        unitOfMeasure: line.unitOfMeasure,
        unitPrice: line.unitPrice,
        product: {
          all,
          ...(gtin ? { gtin } : {}),
          ...(line.vendorPartNumber ? { vendorPartNumber: line.vendorPartNumber } : {}),
          ...(line.buyerPartNumber ? { buyerPartNumber: line.buyerPartNumber } : {}),
        },
        ...(line.description ? { description: line.description } : {}),
      };
    }),
  };
}

const order: OutboundPurchaseOrder = {
  poNumber: 'PO-2026-0042',
  orderDate: '2026-03-01',
  purpose: '00',
  orderType: 'SA',
  vendor: { id: '0614141000005', idQualifier: 'UL', name: 'MEDSUPPLY DISTRIBUTION' },
  shipTo: { id: 'SITE-NORTH', name: 'NORTH CAMPUS OR' },
  lines: [
    // GTIN-12 on the way in, GTIN-14 on the wire and back (UK qualifier carries GTIN-14).
    { quantity: 10, unitOfMeasure: 'EA', unitPrice: '12.50', vendorPartNumber: 'SUT-4-0', gtin: '614141123452', description: 'SUTURE KIT 4-0' },
    { lineNumber: '20', quantity: 3, unitOfMeasure: 'BX', unitPrice: '40', vendorPartNumber: 'GLV-100', buyerPartNumber: 'CL-7781' },
    { quantity: 1.5, unitOfMeasure: 'CA', unitPrice: '199.99', gtin: '09506000134352', buyerPartNumber: 'CL-9000', description: 'IV SET, 72 IN' },
  ],
};
const envelope = { sender: { qualifier: 'ZZ', id: 'CARELANE' }, receiver: { qualifier: '01', id: '123456789' }, interchangeControlNumber: 900, groupControlNumber: 901, transactionControlNumber: 902, usage: 'P' as const, at: new Date('2026-03-01T08:00:00Z') };

/** Delimiters a partner may choose in its ISA (X12.6 3.3: any character not used in the data). */
const CASES: Array<{ name: string; version: '004010' | '005010'; delimiters?: X12Delimiters; lineBreak?: boolean; order?: OutboundPurchaseOrder }> = [
  { name: '004010, default delimiters', version: '004010' },
  { name: '005010, default delimiters', version: '005010' },
  { name: '004010, | element, } component, newline-free', version: '004010', delimiters: { element: '|', component: '}', repetition: null, segment: '\\' }, lineBreak: false },
  // '*' in data is legal once it is not the element separator: the reader must take delimiters from the ISA.
  { name: '005010, | element, ^ component, { repetition, ~ terminator, "*" in data', version: '005010', delimiters: { element: '|', component: '^', repetition: '{', segment: '~' }, order: { ...order, lines: [{ ...order.lines[0]!, description: 'GAUZE 4*4 STERILE' }, ...order.lines.slice(1)] } },
  { name: '004010, control characters as delimiters', version: '004010', delimiters: { element: '\u001d', component: '\u001f', repetition: null, segment: '\u001e' } },
];

describe('850 round trip: generate850 → readX12 → toCanonical gives the source purchase order back', () => {
  it.each(CASES)('$name', ({ version, delimiters, lineBreak, order: source = order }) => {
    const { text } = generate850(source, { ...envelope, version, ...(delimiters ? { delimiters } : {}), ...(lineBreak === undefined ? {} : { lineBreak }) });
    const document = readX12(text);
    expect(allIssues(document)).toEqual([]);
    const interchange = document.interchanges[0]!;
    if (delimiters) expect(interchange.delimiters).toEqual(delimiters);
    expect(interchange.header).toMatchObject({ senderId: 'CARELANE', receiverQualifier: '01', receiverId: '123456789', controlNumber: '000000900', version: version === '005010' ? '00501' : '00401' });
    expect(interchange.groups[0]!.header).toMatchObject({ functionalId: 'PO', controlNumber: '901' });
    const transactions = interchange.groups[0]!.transactions;
    expect(transactions).toHaveLength(1);
    expect(transactions[0]!.controlNumber).toBe('0902');
    const canonical = toCanonical(transactions[0]!);
    expect(canonical).toEqual({ type: '850', purchaseOrder: expectedCanonical(source) });
  });

  it('keeps a purchase order without vendor and with only buyer part numbers', () => {
    const minimal: OutboundPurchaseOrder = { poNumber: 'P1', orderDate: '2026-01-31', shipTo: { id: 'S', idQualifier: 'UL' }, lines: [{ quantity: 1, unitOfMeasure: 'EA', unitPrice: '0.01', buyerPartNumber: 'B' }] };
    const { text } = generate850(minimal, { ...envelope, version: '005010' });
    expect(toCanonical(readX12(text).interchanges[0]!.groups[0]!.transactions[0]!)).toEqual({ type: '850', purchaseOrder: expectedCanonical(minimal) });
  });
});
