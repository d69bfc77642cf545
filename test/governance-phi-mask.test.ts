import { describe, expect, it } from 'vitest';
import { MASK, maskPayload } from '../src/governance/phi-mask.ts';

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
