import { describe, expect, it } from 'vitest';
import { buildFunctionalAck, buildTa1, writeFunctionalAcks, writeTa1Interchange } from './acknowledgments.ts';
import { allIssues, readX12 } from './envelope.ts';
import { generate850, type OutboundPurchaseOrder } from './generate-850.ts';
import { parseX12 } from './to-canonical.ts';

const at = new Date('2026-03-01T10:20:00Z');
const order: OutboundPurchaseOrder = {
  poNumber: 'PO-1001',
  orderDate: '2026-03-01',
  vendor: { id: 'V42', name: 'MEDSUPPLY' },
  shipTo: { id: '0614141000005', idQualifier: 'UL', name: 'MAIN OR' },
  lines: [
    { quantity: 10, unitOfMeasure: 'EA', unitPrice: '12.50', vendorPartNumber: 'ABC-1', gtin: '614141123452', description: 'SUTURE KIT' },
    { quantity: 3, unitOfMeasure: 'BX', unitPrice: '40.00', vendorPartNumber: 'DEF-2' },
  ],
};
const envelope = { sender: { qualifier: 'ZZ', id: 'CARELANE' }, receiver: { qualifier: 'ZZ', id: 'MEDSUPPLY' }, interchangeControlNumber: 41, groupControlNumber: 42, transactionControlNumber: 43, usage: 'T' as const, at };

describe('850 generation', () => {
  it.each(['004010', '005010'] as const)('writes an 850 (%s) that reads back with correct envelopes and counts', (version) => {
    const { text, transactionControlNumber } = generate850(order, { ...envelope, version });
    expect(transactionControlNumber).toBe('0043');
    const { document, transactions } = parseX12(text);
    expect(allIssues(document)).toEqual([]);
    expect(document.interchanges[0]!.header).toMatchObject({ controlNumber: '000000041', version: version === '005010' ? '00501' : '00401', senderId: 'CARELANE' });
    const po = transactions[0]!.document;
    if (po.type !== '850') throw new Error(po.type);
    expect(po.purchaseOrder).toMatchObject({ poNumber: 'PO-1001', orderDate: '2026-03-01', vendorId: 'V42', shipToId: '0614141000005' });
    expect(po.purchaseOrder.lines.map((l) => [l.quantity, l.unitOfMeasure, l.unitPrice, l.product.vendorPartNumber, l.product.gtin])).toEqual([[10, 'EA', '12.50', 'ABC-1', '00614141123452'], [3, 'BX', '40.00', 'DEF-2', undefined]]);
    expect(text).toContain('CTT*2*13~');
  });

  it('refuses a GTIN with a wrong check digit and a value carrying a delimiter', () => {
    expect(() => generate850({ ...order, lines: [{ ...order.lines[0]!, gtin: '614141123453' }] }, { ...envelope, version: '004010' })).toThrow(expect.objectContaining({ code: 'gs1_gtin_invalid' }));
    expect(() => generate850({ ...order, poNumber: 'PO*1' }, { ...envelope, version: '004010' })).toThrow(expect.objectContaining({ code: 'x12_value_has_delimiter' }));
  });
});

function received(body: string[], version: '004010' | '005010') {
  const isaVersion = version === '005010' ? '00501' : '00401';
  return readX12([
    `ISA*00*          *00*          *ZZ*MEDSUPPLY      *ZZ*CARELANE       *260301*1200*${version === '005010' ? '^' : 'U'}*${isaVersion}*000000077*0*P*:~`,
    `GS*PR*MEDSUPPLY*CARELANE*20260301*1200*77*X*${version === '005010' ? '005010X000' : '004010'}~`,
    ...body,
    'IEA*1*000000077~',
  ].join('\n')).interchanges[0]!;
}
const good = ['ST*855*0001~', 'BAK*00*AD*PO-1*20260301~', 'SE*3*0001~'];
const bad = ['ST*855*0002~', 'BAK*00*AD**20260301~', 'PO1*1*2*EA*1**VN~', 'SE*9*0002~'];

describe('functional acknowledgments', () => {
  it('writes a 997 with AK3/AK4 for element errors, AK5 per set and AK9 partially accepted', () => {
    const interchange = received([...good, ...bad, 'GE*2*77~'], '004010');
    const ack = buildFunctionalAck(interchange.groups[0]!, '0001');
    expect(ack.kind).toBe('997');
    expect(ack.groupStatus).toBe('P');
    expect(ack.segments.map((s) => s.join('*'))).toEqual([
      'ST*997*0001', 'AK1*PR*77', 'AK2*855*0001', 'AK5*A',
      'AK2*855*0002', 'AK3*BAK*2**8', 'AK4*3**1*', 'AK3*PO1*3*PO1*8', 'AK4*7**2*', 'AK5*R*4*5',
      'AK9*P*2*2*1', 'SE*12*0001',
    ]);
  });

  it('writes a 999 with IK3/IK4/IK5 and the implementation reference, which reads back without issues', () => {
    const interchange = received([...bad, 'GE*1*77~'], '005010');
    const text = writeFunctionalAcks(interchange, { interchangeControlNumber: 5, groupControlNumber: 6, firstTransactionControlNumber: 1, usage: 'P', at });
    expect(text).toContain('ST*999*0001*005010X231~');
    expect(text).toContain('AK1*PR*77*005010X000~');
    expect(text).toContain('IK3*BAK*2**8~\nIK4*3**1~');
    expect(text).toContain('IK5*R*4*5~\nAK9*R*1*1*0~');
    const back = readX12(text);
    expect(allIssues(back)).toEqual([]);
    expect(back.interchanges[0]!.header).toMatchObject({ senderId: 'CARELANE', receiverId: 'MEDSUPPLY', version: '00501' });
  });

  it('reports group errors in AK9 (GE01 count wrong → code 5)', () => {
    const ack = buildFunctionalAck(received([...good, 'GE*3*77~'], '004010').groups[0]!, '0001');
    expect(ack.segments.at(-2)!.join('*')).toBe('AK9*R*3*1*1*5');
  });

  it('writes a TA1: accepted for a sound envelope, rejected with note 001 for an IEA02 mismatch', () => {
    expect(buildTa1(received([...good, 'GE*1*77~'], '004010'))).toMatchObject({ status: 'A', noteCode: '000' });
    const broken = readX12(writeTa1Interchange(received([...good, 'GE*1*77~'], '004010'), { interchangeControlNumber: 9, at, usage: 'P' }).replace('IEA*0*000000009', 'IEA*0*000000008'));
    expect(buildTa1(broken.interchanges[0]!)).toMatchObject({ status: 'R', noteCode: '001', segment: ['TA1', '000000009', '260301', '1020', 'R', '001'] });
  });
});
