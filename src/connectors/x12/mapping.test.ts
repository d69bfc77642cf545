import { describe, expect, it } from 'vitest';
import { readX12 } from './envelope.ts';
import { toCanonical } from './to-canonical.ts';

function transactionOf(type: string, functionalId: string, body: string[]) {
  const text = [
    'ISA*00*          *00*          *ZZ*SUPPLIER       *ZZ*CARELANE       *260301*1200*U*00401*000000010*0*P*>~',
    `GS*${functionalId}*SUPPLIER*CARELANE*20260301*1200*10*X*004010~`,
    `ST*${type}*0001~`, ...body.map((s) => `${s}~`), `SE*${body.length + 2}*0001~`, 'GE*1*10~', 'IEA*1*000000010~',
  ].join('\n');
  return readX12(text).interchanges[0]!.groups[0]!.transactions[0]!;
}

describe('X12 to canonical', () => {
  it('maps an 855 line by line with accept, change, reject and backorder statuses', () => {
    const t = transactionOf('855', 'PR', [
      'BAK*00*AC*PO-1001*20260301', 'PO1*1*10*EA*12.50**VN*ABC-1*UK*00614141123452', 'ACK*IA*10*EA*068*20260305',
      'PO1*2*5*BX*3.00**VN*DEF-2', 'ACK*IQ*4*BX', 'PO1*3*1*EA*9.99**VN*GHI-3', 'ACK*IR*0*EA', 'PO1*4*8*EA*1.00**VN*JKL-4', 'ACK*IB*8*EA*068*20260401', 'CTT*4',
    ]);
    const doc = toCanonical(t);
    if (doc.type !== '855') throw new Error(doc.type);
    expect(doc.purchaseOrderAck.poNumber).toBe('PO-1001');
    expect(doc.purchaseOrderAck.lines.map((l) => [l.lineNumber, l.statuses[0]!.status, l.statuses[0]!.quantity])).toEqual([['1', 'accepted', 10], ['2', 'changed', 4], ['3', 'rejected', 0], ['4', 'backordered', 8]]);
    expect(doc.purchaseOrderAck.lines[0]!.product.gtin).toBe('00614141123452');
    expect(doc.purchaseOrderAck.lines[3]!.statuses[0]!.date).toBe('2026-04-01');
  });

  it('maps an 856 shipment/order/pack/item tree with GTIN, vendor part, lots and expiry', () => {
    const t = transactionOf('856', 'SH', [
      'BSN*00*SHIP-9*20260301*1200', 'HL*1**S', 'REF*BM*BOL-1', 'DTM*011*20260301', 'HL*2*1*O', 'PRF*PO-1001', 'HL*3*2*P', 'MAN*GM*00106141411234567898',
      'HL*4*3*I', 'LIN*1*UK*00614141123452*VN*ABC-1*LT*LOT-A', 'SN1**6*EA', 'DTM*036*20270131', 'HL*5*3*I', 'LIN*2*VN*DEF-2', 'SN1**4*BX', 'REF*LT*LOT-B', 'DTM*208*20261231', 'CTT*5',
    ]);
    const doc = toCanonical(t);
    if (doc.type !== '856') throw new Error(doc.type);
    expect(doc.shipNotice).toMatchObject({ shipmentId: 'SHIP-9', billOfLading: 'BOL-1', shippedDate: '2026-03-01' });
    expect(doc.shipNotice.hierarchy.map((h) => h.level)).toEqual(['shipment', 'order', 'pack', 'item', 'item']);
    expect(doc.shipNotice.items).toEqual([
      expect.objectContaining({ poNumber: 'PO-1001', packageMark: '00106141411234567898', quantity: 6, unitOfMeasure: 'EA', lots: [{ lot: 'LOT-A', quantity: 6, expiryDate: '2027-01-31' }], product: expect.objectContaining({ gtin: '00614141123452', vendorPartNumber: 'ABC-1' }) }),
      expect.objectContaining({ poNumber: 'PO-1001', quantity: 4, lots: [{ lot: 'LOT-B', expiryDate: '2026-12-31' }] }),
    ]);
  });

  it('maps 856 serials (LIN SN, REF*SE) and an HIBCC UDI (LIN HI) with its DI, lot, expiry and serial', () => {
    const t = transactionOf('856', 'SH', [
      'BSN*00*SHIP-10*20260301*1200', 'HL*1**S', 'HL*2*1*O', 'PRF*PO-1002',
      'HL*3*2*I', 'LIN*1*UK*00614141123452*SN*SER-001*SN*SER-002', 'SN1**3*EA', 'REF*SE*SER-003',
      'HL*4*2*I', 'LIN*2*HI*+A99912345/$$52001510X3/16D20111212/S77DE1G45-', 'SN1**1*EA', 'CTT*4',
    ]);
    const doc = toCanonical(t);
    if (doc.type !== '856') throw new Error(doc.type);
    const [gs1Item, hibcItem] = doc.shipNotice.items;
    expect(gs1Item).toMatchObject({ product: { gtin: '00614141123452' }, serials: ['SER-001', 'SER-002', 'SER-003'] });
    expect(gs1Item!.udi).toBeUndefined();
    expect(hibcItem).toMatchObject({
      udi: { issuer: 'HIBCC', value: '+A99912345/$$52001510X3/16D20111212/S77DE1G45-', di: 'A99912345' },
      lots: [{ lot: '10X3', expiryDate: '2020-01-15', quantity: 1 }],
      serials: ['77DE1G45'],
    });
  });

  it('refuses an 856 item whose HIBC UDI has a wrong check character, naming the LIN element', () => {
    const t = transactionOf('856', 'SH', ['BSN*00*SHIP-11*20260301*1200', 'HL*1**S', 'HL*2*1*I', 'LIN*1*VN*ABC*HI*+E20831339/$$8020223283831X', 'SN1**1*EA']);
    expect(() => toCanonical(t)).toThrow(expect.objectContaining({ code: 'x12_element_invalid', message: expect.stringMatching(/^LIN05 is not a valid HIBC UDI: HIBC: check character is "X", expected "T"$/), where: expect.objectContaining({ segment: 'LIN', field: 'LIN05', position: 5 }) }));
  });

  it('refuses an 856 whose HL names a parent that does not precede it', () => {
    const t = transactionOf('856', 'SH', ['BSN*00*SHIP-9*20260301*1200', 'HL*1**S', 'HL*2*7*O']);
    expect(() => toCanonical(t)).toThrow(expect.objectContaining({ code: 'x12_element_invalid', where: expect.objectContaining({ segment: 'HL', field: 'HL02', position: 4 }) }));
  });

  it('maps an 810 with IT1 lines and the TDS total as a decimal string', () => {
    const t = transactionOf('810', 'IN', ['BIG*20260310*INV-77*20260301*PO-1001', 'N1*RE*SUPPLIER*92*S1', 'IT1*1*10*EA*12.50**VN*ABC-1', 'IT1*2*4*BX*3.00**UP*614141123452', 'TDS*13700', 'CTT*2']);
    const doc = toCanonical(t);
    if (doc.type !== '810') throw new Error(doc.type);
    expect(doc.invoice).toMatchObject({ invoiceNumber: 'INV-77', invoiceDate: '2026-03-10', poNumber: 'PO-1001', totalAmount: '137.00' });
    expect(doc.invoice.lines.map((l) => [l.quantity, l.unitPrice, l.product.gtin ?? l.product.vendorPartNumber])).toEqual([[10, '12.50', 'ABC-1'], [4, '3.00', '00614141123452']]);
  });

  it('maps an 846 inventory advice with quantities and lots (no public sample: built from the 846 table)', () => {
    const t = transactionOf('846', 'IB', ['BIA*00*DD*INV-2026-03-01*20260301', 'LIN**UK*00614141123452*VN*ABC-1', 'PID*F****SUTURE KIT', 'QTY*33*120*EA', 'QTY*17*150*EA', 'REF*LT*LOT-A', 'DTM*036*20270131', 'LIN**VN*DEF-2', 'QTY*33*0*BX', 'CTT*2']);
    const doc = toCanonical(t);
    if (doc.type !== '846') throw new Error(doc.type);
    expect(doc.inventoryAdvice.items[0]).toEqual({ product: expect.objectContaining({ gtin: '00614141123452' }), description: 'SUTURE KIT', quantities: [{ qualifier: '33', quantity: 120, unitOfMeasure: 'EA' }, { qualifier: '17', quantity: 150, unitOfMeasure: 'EA' }], lots: [{ lot: 'LOT-A', expiryDate: '2027-01-31' }] });
    expect(doc.inventoryAdvice.items[1]!.quantities[0]!.quantity).toBe(0);
  });

  it('refuses a set that does not start with its beginning segment, and an unmapped set', () => {
    expect(() => toCanonical(transactionOf('850', 'PO', ['PO1*1*2*EA*1**VN*X']))).toThrow(expect.objectContaining({ code: 'x12_segment_missing', where: expect.objectContaining({ segment: 'BEG', position: 2 }) }));
    expect(() => toCanonical(transactionOf('940', 'OW', ['W05*N*1']))).toThrow(expect.objectContaining({ code: 'x12_transaction_unsupported' }));
  });
});
