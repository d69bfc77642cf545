import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CANONICAL_CONTENT_TYPE, MASK, maskPayload } from '../src/governance/phi-mask.ts';
import { CANONICAL_JSON } from '../src/connectors/supplier-rest/index.ts';

const REALDATA = path.resolve(import.meta.dirname, '../../shared/realdata/hl7v2/rethinkhealth-hl7v2-qa-fixtures');
/** a real sample with its segments separated by CR, as on the wire */
const sample = (file: string): string => readFileSync(path.join(REALDATA, file), 'utf8').trimEnd().split(/\r\n|\r|\n/).join('\r');

// Payloads shown to roles without messages:read_payload: structure and business keys stay, patient data does not.
describe('maskPayload', () => {
  const adt = [
    'MSH|^~\\&|EHR|HOSP|CARELANE|HOSP|202611241000||ADT^A01|MSG1|P|2.5.1',
    'PID|1||MRN-12345^^^HOSP^MR||DOE^JANE||19800101|F',
    'PV1|1|I|ICU^101^A|||||1234^SMITH^JOHN',
    'ZPI|MRN-12345|DOE^JANE|555-0100',
    'ORC|NW|ORD-77',
  ].join('\r');

  it('masks patient segments and site-defined Z segments, keeps MSH, PV1 location and order keys', () => {
    const { text, method } = maskPayload(adt, 'x-application/hl7-v2+er7');
    expect(method).toBe('hl7v2');
    const segments = text.split('\r');
    expect(segments[0]).toBe(adt.split('\r')[0]);
    expect(segments[1]).toBe(`PID|1||${MASK}||${MASK}||${MASK}|${MASK}`);
    expect(segments[2]).toBe(`PV1|1|I|ICU^101^A|||||${MASK}`);
    expect(segments[3]).toBe(`ZPI|${MASK}|${MASK}|${MASK}`);
    expect(segments[4]).toBe('ORC|NW|ORD-77');
    expect(text).not.toMatch(/MRN-12345|DOE|JANE|19800101|555-0100|SMITH/);
  });

  it('reduces a FHIR Patient to its type, masks patient references, withholds what it cannot read', () => {
    const patient = maskPayload(JSON.stringify({ resourceType: 'Patient', id: 'p1', name: [{ family: 'Doe' }] }), 'application/fhir+json');
    expect(JSON.parse(patient.text)).toEqual({ resourceType: 'Patient', id: MASK, masked: true });
    const request = maskPayload(JSON.stringify({ resourceType: 'SupplyRequest', id: 's1', deliverTo: { reference: 'Patient/p1' }, note: [{ text: 'for Jane' }] }), 'application/fhir+json');
    expect(JSON.parse(request.text)).toEqual({ resourceType: 'SupplyRequest', id: 's1', deliverTo: { reference: MASK }, note: MASK });
    expect(maskPayload('not a format it knows', 'text/plain')).toEqual({ text: '', method: 'withheld' });
    expect(maskPayload('{broken json', 'application/json')).toEqual({ text: '', method: 'withheld' });
  });
});

// Segments built field by field (index = HL7 field number) so each test names the field it is about.
const segment = (name: string, fields: Record<number, string>): string => {
  const last = Math.max(...Object.keys(fields).map(Number));
  return [name, ...Array.from({ length: last }, (_, index) => fields[index + 1] ?? '')].join('|');
};
const fieldsOf = (text: string, name: string): string[] => text.split('\r').find((line) => line.startsWith(`${name}|`))!.split('|');
const MSH = 'MSH|^~\\&|EHR|HOSP|CARELANE|HOSP|202611241000||ORM^O01|MSG2|P|2.5.1';

describe('maskPayload: clinical free text in order, result, scheduling and charge messages (HL7 v2.5)', () => {
  it('masks OBR reasons and free text, ORC/TQ1/RXO/RXE/SPM text, keeps order numbers, service and quantities', () => {
    const orm = [
      MSH,
      'PID|1||MRN-1^^^HOSP^MR||DOE^JANE',
      segment('ORC', { 1: 'NW', 2: 'ORD-77', 16: 'REASON^pt Jane Doe moved to hospice' }),
      segment('TQ1', { 1: '1', 2: '2', 10: 'PRN chest pain', 11: 'give after Jane wakes' }),
      segment('OBR', { 1: '1', 2: 'ORD-77', 4: 'CBC^Complete Blood Count^LN', 12: 'HIV^HIV positive patient', 13: 'suspected sepsis, recent chemo', 18: 'ACC-99 Jane', 19: 'room 12 Doe', 20: 'filler note', 21: 'filler note 2', 31: 'R65.20^Severe sepsis^I10', 39: 'collected at home of J Doe', 43: 'needs oxygen', 46: 'LEFT^left arm fistula', 47: 'WC^with contrast, allergy' }),
      segment('RXO', { 1: 'IV-PUMP^Infusion pump', 2: '1', 6: 'pharmacy: patient is diabetic', 7: 'administer slowly, fragile veins', 20: 'E11.9^Type 2 diabetes^I10' }),
      segment('RXE', { 2: 'NDC-1^Insulin', 3: '10', 7: 'before meals', 21: 'dispense to Jane at bed 4', 27: 'E11.9^Type 2 diabetes^I10' }),
      segment('SPM', { 1: '1', 2: 'SPEC-1', 4: 'BLD^Blood', 14: 'drawn from left PICC line of Jane Doe' }),
    ].join('\r');
    const { text } = maskPayload(orm, 'x-application/hl7-v2+er7');
    const obr = fieldsOf(text, 'OBR');
    expect(obr.slice(1, 5)).toEqual(['1', 'ORD-77', '', 'CBC^Complete Blood Count^LN']);
    for (const field of [12, 13, 18, 19, 20, 21, 31, 39, 43, 46, 47]) expect(obr[field], `OBR-${field}`).toBe(MASK);
    expect(fieldsOf(text, 'ORC').slice(0, 3)).toEqual(['ORC', 'NW', 'ORD-77']);
    expect(fieldsOf(text, 'ORC')[16]).toBe(MASK);
    expect(fieldsOf(text, 'TQ1').slice(1, 3)).toEqual(['1', '2']);
    expect([fieldsOf(text, 'TQ1')[10], fieldsOf(text, 'TQ1')[11]]).toEqual([MASK, MASK]);
    const rxo = fieldsOf(text, 'RXO');
    expect(rxo[1]).toBe('IV-PUMP^Infusion pump');
    expect([rxo[6], rxo[7], rxo[20]]).toEqual([MASK, MASK, MASK]);
    const rxe = fieldsOf(text, 'RXE');
    expect([rxe[2], rxe[3]]).toEqual(['NDC-1^Insulin', '10']);
    expect([rxe[7], rxe[21], rxe[27]]).toEqual([MASK, MASK, MASK]);
    expect(fieldsOf(text, 'SPM')[4]).toBe('BLD^Blood');
    expect(fieldsOf(text, 'SPM')[14]).toBe(MASK);
    expect(text).not.toMatch(/Jane|Doe|sepsis|chemo|HIV|diabet|hospice|chest pain|fragile|fistula|allergy|PICC|oxygen|R65|E11/i);
  });

  it('masks SCH reasons and AIS supplemental text in a SIU, keeps the service, location and resource (real SIU^S12 sample)', () => {
    const real = sample('siu-s12-schedule.hl7');
    const siu = [
      real,
      segment('AIS', { 1: '1', 3: 'ECHO^Echocardiogram', 11: 'SEDATION^anxious, prior panic attack', 12: 'NOTE^bring Jane Doe records' }),
      segment('AIL', { 1: '1', 3: 'CARDIO^410^A', 4: 'ROOM' }),
    ].join('\r');
    const { text } = maskPayload(siu, 'x-application/hl7-v2+er7');
    const sch = fieldsOf(text, 'SCH');
    expect(sch.slice(1, 3)).toEqual(['APT001', 'APT001']);
    expect(sch[6]).toBe(MASK); // the sample's reason, ROUTINE^Routine^HL70276, sits in SCH-6 (event reason)
    const ais = fieldsOf(text, 'AIS');
    expect(ais[3]).toBe('ECHO^Echocardiogram');
    expect([ais[11], ais[12]]).toEqual([MASK, MASK]);
    // AIG and AIL carry resources and locations, no text about the patient: shown as sent
    expect(fieldsOf(text, 'AIG').join('|')).toBe(real.split('\r').find((line) => line.startsWith('AIG|')));
    expect(fieldsOf(text, 'AIL')[3]).toBe('CARDIO^410^A');
    expect(text).not.toMatch(/JOHNSON|ROBERT|33445|panic|Jane|Doe/);
    const reasons = maskPayload([MSH, segment('SCH', { 1: 'A1', 6: 'CANC^patient deceased', 7: 'FU^chest pain follow-up', 8: 'NORMAL' })].join('\r'), 'x-application/hl7-v2+er7').text;
    expect(fieldsOf(reasons, 'SCH').slice(1)).toEqual(['A1', '', '', '', '', MASK, MASK, 'NORMAL']);
  });

  it('masks FT1 descriptions and diagnosis, and PR1 procedures, keeps the charge code, quantity and location (real DFT^P03 sample)', () => {
    const dft = [
      sample('dft-p03-charge.hl7'),
      segment('FT1', { 1: '2', 4: '20260401', 6: 'CG', 7: 'SUP-100^Gauze pads', 8: 'used on Jane Doe wound', 9: 'pressure ulcer dressing', 10: '4', 16: 'SURG^601^A', 19: 'L89.1^Pressure ulcer^I10' }),
      segment('PR1', { 1: '1', 3: '0HBJXZZ^Excision of skin^I10P', 4: 'debridement of sacral ulcer', 11: '1234^SURGEON^SAM' }),
    ].join('\r');
    const { text } = maskPayload(dft, 'x-application/hl7-v2+er7');
    const [realFt1, addedFt1] = text.split('\r').filter((line) => line.startsWith('FT1|')).map((line) => line.split('|'));
    expect(realFt1!.slice(4, 8)).toEqual(['20260401', '20260401', 'CG', '99213^Office Visit Level 3^CPT']);
    expect([addedFt1![7], addedFt1![10], addedFt1![16]]).toEqual(['SUP-100^Gauze pads', '4', 'SURG^601^A']);
    expect([addedFt1![8], addedFt1![9], addedFt1![19]]).toEqual([MASK, MASK, MASK]);
    expect(fieldsOf(text, 'PR1')).toEqual(['PR1', '1', '', MASK, MASK, '', '', '', '', '', '', MASK]);
    expect(text).not.toMatch(/BROWN|MICHAEL|77889|Jane|ulcer|debridement|L89/i);
  });
});

describe('maskPayload: JSON that is not FHIR (default deny)', () => {
  // A supplier REST body refused as invalid is stored as received under application/json (supplier-rest/listener.ts)
  const supplierAck = {
    eventId: 'evt-881',
    type: 'purchase_order.acknowledged',
    occurredAt: '2026-11-24T10:00:00Z',
    data: {
      poNumber: 'P00042',
      status: 'accepted',
      lines: [{ lineNumber: 1, gtin: '00012345678905', orderedQuantity: 10, qty: 8, status: 'changed', note: 'short 2, reserved for Jane Doe (MRN-12345)' }],
      contact: { name: 'Jane Doe', phone: '555-0100' },
    },
  };

  it('keeps the structure and non-identifying structural keys, masks every other value', () => {
    const { text, method } = maskPayload(JSON.stringify(supplierAck), 'application/json');
    expect(method).toBe('unknown-json');
    expect(JSON.parse(text)).toEqual({
      eventId: 'evt-881',
      type: 'purchase_order.acknowledged',
      occurredAt: MASK,
      data: {
        poNumber: 'P00042',
        status: 'accepted',
        lines: [{ lineNumber: 1, gtin: '00012345678905', orderedQuantity: 10, qty: 8, status: 'changed', note: MASK }],
        contact: { name: MASK, phone: MASK },
      },
    });
  });

  it('masks an allow-listed key whose value is not a code, numbers and booleans under other keys, and keys that look like data', () => {
    const webhook = { status: 'Jane Doe deceased', type: 'Patient/123', age: 87, mrn: 12345678, hivPositive: true, 'MRN-12345': { quantity: 'ten boxes' }, 'Doe, Jane': 1, 'jane.doe@example.org': 'x', ok: true, empty: '', none: null };
    const { text } = maskPayload(JSON.stringify(webhook), 'application/json');
    expect(JSON.parse(text)).toEqual({ status: MASK, type: MASK, age: MASK, mrn: MASK, hivPositive: MASK, [`${MASK}1`]: { quantity: MASK }, [`${MASK}2`]: MASK, [`${MASK}3`]: MASK, ok: true, empty: '', none: null });
    expect(text).not.toMatch(/Jane|Doe|deceased|12345|87|ten boxes/);
  });

  it('treats a body without a FHIR resourceType as unknown JSON even under the FHIR content type', () => {
    // the FHIR listener stores a refused body under application/fhir+json as received
    const { text, method } = maskPayload(JSON.stringify({ subject: 'Jane Doe', resourceType: 'chart of Jane', entry: [{ display: 'Doe' }] }), 'application/fhir+json');
    expect(method).toBe('unknown-json');
    expect(JSON.parse(text)).toEqual({ subject: MASK, resourceType: MASK, entry: [{ display: MASK }] });
    const nested = maskPayload(JSON.stringify([{ resourceType: 'Patient', name: [{ family: 'Doe' }] }]), 'application/json');
    expect(nested.method).toBe('unknown-json');
    expect(nested.text).not.toContain('Doe');
  });

  it('keeps the canonical masking for canonical documents Carelane built from a validated supplier event', () => {
    expect(CANONICAL_CONTENT_TYPE).toBe(CANONICAL_JSON);
    const canonical = { type: '855', purchaseOrderAck: { poNumber: 'P00042', ackDate: '2026-11-24', lines: [{ line: 1, statusCode: 'IA', quantity: 10, vendorPartNumber: 'VP-1' }] } };
    const { text, method } = maskPayload(JSON.stringify(canonical), CANONICAL_JSON);
    expect(method).toBe('canonical-json');
    expect(JSON.parse(text)).toEqual(canonical);
  });
});

describe('maskPayload: keys named like object internals', () => {
  it('keeps a "__proto__" key as a key (masked by the same rules), never as the prototype of the output', () => {
    const fhir = maskPayload('{"resourceType":"SupplyRequest","__proto__":{"note":"for Jane"}}', 'application/fhir+json');
    expect(fhir.text).toContain('"__proto__"');
    expect(fhir.text).not.toContain('Jane');
    const unknown = maskPayload('{"__proto__":{"status":"ok","name":"Jane"}}', 'application/json');
    expect(JSON.parse(unknown.text)).toEqual(JSON.parse('{"__proto__":{"status":"ok","name":"***"}}'));
  });
});
