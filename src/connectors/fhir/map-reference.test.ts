import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Bundle, Device, Location, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { CarelaneError } from '../../contracts/errors.ts';
import { mapFhirReference, REFERENCE_RESOURCE_TYPES, type ReferenceMappingContext } from './map-reference.ts';
import { DEFAULT_R4_DIRECTORY } from './r4-definitions.ts';

const EXAMPLES = path.join(DEFAULT_R4_DIRECTORY, 'r4-official-examples');
const load = <T extends Resource = Resource>(file: string): T => JSON.parse(readFileSync(path.join(EXAMPLES, file), 'utf8')) as T;
const isReference = (r: Resource | undefined): r is Resource => !!r && (REFERENCE_RESOURCE_TYPES as readonly string[]).includes(r.resourceType);

// Every Location, Organization and Device of the official examples: whole files, and entries of example Bundles.
const cases: Array<[string, Resource]> = [];
for (const file of readdirSync(EXAMPLES).filter((f) => f.endsWith('.json')).sort()) {
  const resource = load(file);
  if (isReference(resource)) cases.push([file, resource]);
  if (resource.resourceType === 'Bundle') {
    (resource as Bundle).entry?.forEach((entry, index) => {
      if (isReference(entry.resource)) cases.push([`${file}#entry[${index}]`, entry.resource]);
    });
  }
}

const context: ReferenceMappingContext = { sourceSystem: 'ehr-test', now: new Date('2026-01-01T00:00:00Z') };

/** Text that is about people, not places or things: addresses, telecom, contacts, a device's patient. */
function personalValues(resource: Resource): string[] {
  const r = resource as { address?: unknown; telecom?: unknown; contact?: unknown; patient?: unknown };
  const values: string[] = [];
  const collect = (value: unknown): void => {
    if (typeof value === 'string' && value.length >= 5) values.push(value);
    else if (Array.isArray(value)) value.forEach(collect);
    else if (typeof value === 'object' && value !== null) Object.values(value).forEach(collect);
  };
  [r.address, r.telecom, r.contact, r.patient].forEach(collect);
  // A value also written outside those elements (a street that names the hospital) is not only personal.
  const { address: _a, telecom: _t, contact: _c, patient: _p, text: _narrative, ...rest } = resource as Resource & { address?: unknown; telecom?: unknown; contact?: unknown; patient?: unknown; text?: unknown };
  const elsewhere = JSON.stringify(rest);
  return values.filter((value) => !elsewhere.includes(value));
}

describe('FHIR reference data over the official examples', () => {
  it('covers Location, Organization and Device', () => {
    expect(new Set(cases.map(([, r]) => r.resourceType))).toEqual(new Set(REFERENCE_RESOURCE_TYPES));
    expect(cases.length).toBeGreaterThan(20);
  });

  it.each(cases)('%s maps, or fails as a mapping_failure naming the element; no address, telecom or patient out', (_name, resource) => {
    let output: unknown;
    try {
      output = mapFhirReference(resource, context);
    } catch (error) {
      expect(error).toBeInstanceOf(CarelaneError);
      expect((error as CarelaneError).exceptionType).toBe('mapping_failure');
      expect((error as CarelaneError).where?.field).toMatch(new RegExp(`^${resource.resourceType}\\.`));
      output = { message: (error as CarelaneError).message };
    }
    const text = JSON.stringify(output);
    for (const value of personalValues(resource)) expect(text).not.toContain(value);
  });

  it('maps a room: code from the identifier, kind from physicalType, partOf, status suspended, v3 type', () => {
    expect(mapFhirReference(load('location-example-room.json'), context)).toMatchObject({
      record: 'location',
      code: 'B1-S.F2.1.00',
      kind: 'room',
      physicalType: 'ro',
      partOf: 'Location/1',
      status: 'suspended',
      types: [{ code: 'RNEU' }],
      source: { type: 'Location', reference: 'Location/2' },
    });
    expect(mapFhirReference(load('location-example.json'), context)).toMatchObject({ code: 'B1-S.F2', kind: 'department', physicalType: 'wi' });
    expect(mapFhirReference(load('location-example-hl7hq.json'), context)).toMatchObject({ kind: 'site', physicalType: 'bu' });
  });

  it('keeps nothing of a patient home but its kind', () => {
    const home = mapFhirReference(load('location-example-patients-home.json'), context);
    expect(home).toMatchObject({ kind: 'other', physicalType: 'ho' });
    expect(JSON.stringify(home)).not.toMatch(/address|telecom/);
  });

  it('maps an Organization with its type and partOf', () => {
    expect(mapFhirReference(load('organization-example-f002-burgers-card.json'), context)).toMatchObject({
      record: 'organization',
      types: [{ code: 'dept' }],
      partOf: 'Organization/f001',
      active: true,
    });
  });

  // device.html UDI example: the GS1 human readable form of a carrier.
  const udiDevice = (carrier: Device['udiCarrier']): Device => ({ resourceType: 'Device', id: 'udi-1', status: 'active', udiCarrier: carrier, patient: { reference: 'Patient/example', display: 'Peter Chalmers' } });

  it('reads a GS1 UDI carrier: GTIN, lot, serial and expiry through the GS1 parser', () => {
    const record = mapFhirReference(
      udiDevice([{ deviceIdentifier: '09504000059118', issuer: 'http://hl7.org/fhir/NamingSystem/gs1-di', carrierHRF: '(01)09504000059118(17)141120(10)7654321D(21)10987654d321' }]),
      context,
    );
    expect(record).toEqual({
      record: 'device',
      source: { system: 'ehr-test', type: 'Device', reference: 'Device/udi-1' },
      gtin: '09504000059118',
      deviceIdentifier: '09504000059118',
      issuer: 'http://hl7.org/fhir/NamingSystem/gs1-di',
      lot: '7654321D',
      serial: '10987654d321',
      expiry: '2014-11-20',
      status: 'active',
    });
    expect(JSON.stringify(record)).not.toContain('Chalmers');
  });

  it('reads the barcode data (carrierAIDC, base64 with GS separators) when there is no HRF', () => {
    const aidc = Buffer.from(']C1010950400005911817141120107654321D\u001d2110987654d321').toString('base64');
    expect(mapFhirReference(udiDevice([{ issuer: 'http://hl7.org/fhir/NamingSystem/gs1-di', carrierAIDC: aidc }]), context)).toMatchObject({ gtin: '09504000059118', lot: '7654321D', serial: '10987654d321', expiry: '2014-11-20' });
  });

  it('refuses a UDI whose GTIN check digit is wrong, or whose DI disagrees with the carrier, naming the element', () => {
    expect(() => mapFhirReference(udiDevice([{ issuer: 'http://hl7.org/fhir/NamingSystem/gs1-di', carrierHRF: '(01)09504000059119(10)A' }]), context)).toThrow(
      expect.objectContaining({ code: 'fhir_bad_udi', where: { field: 'Device.udiCarrier[0].carrierHRF' } }),
    );
    expect(() => mapFhirReference(udiDevice([{ deviceIdentifier: '04006381333931', carrierHRF: '(01)09504000059118(10)A' }]), context)).toThrow(
      expect.objectContaining({ code: 'fhir_bad_udi', where: { field: 'Device.udiCarrier[0].deviceIdentifier' } }),
    );
  });

  it('refuses a Location with neither identifier nor id', () => {
    const { id: _id, identifier: _identifier, ...anonymous } = load<Location>('location-example.json');
    expect(() => mapFhirReference(anonymous as Location, context)).toThrow(expect.objectContaining({ code: 'fhir_no_location_code', where: { field: 'Location.identifier' } }));
  });
});
