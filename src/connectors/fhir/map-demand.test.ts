import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Appointment, Reference, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { CarelaneError } from '../../contracts/errors.ts';
import { DEMAND_FIELD_CLASSES, withoutProtectedFields, type DemandSignal } from '../../contracts/demand.ts';
import { PatientTokenizer } from '../../governance/tokenization.ts';
import { DEMAND_RESOURCE_TYPES, mapFhirDemand, type FhirMappingContext } from './map-demand.ts';
import { DEFAULT_R4_DIRECTORY } from './r4-definitions.ts';

const EXAMPLES = path.join(DEFAULT_R4_DIRECTORY, 'r4-official-examples');
const load = <T extends Resource = Resource>(file: string): T => JSON.parse(readFileSync(path.join(EXAMPLES, file), 'utf8')) as T;
const demandFiles = readdirSync(EXAMPLES)
  .filter((file) => file.endsWith('.json'))
  .filter((file) => (DEMAND_RESOURCE_TYPES as readonly string[]).includes(load(file).resourceType))
  .sort();

const tokenizer = new PatientTokenizer([{ id: 'k1', secret: 'test-secret-for-fhir-mapping' }], 'k1');
const context: FhirMappingContext = { sourceSystem: 'ehr-test', tokenize: (identifier) => tokenizer.tokenFor(identifier) };

/** Every value in the input that names the patient: references, displays, identifiers, contained Patient text. */
function patientValues(resource: Resource): string[] {
  const values: string[] = [];
  const fromReference = (reference: Reference | undefined): void => {
    if (!reference) return;
    const ref = reference.reference ?? '';
    const contained = ref.startsWith('#') ? (resource as { contained?: Resource[] }).contained?.find((r) => `#${r.id}` === ref) : undefined;
    const isPatient = reference.type === 'Patient' || /Patient\//.test(ref) || contained?.resourceType === 'Patient';
    if (!isPatient) return;
    if (reference.reference) values.push(reference.reference);
    if (reference.display) values.push(reference.display);
    if (reference.identifier?.value) values.push(reference.identifier.value);
    if (contained?.resourceType === 'Patient') {
      for (const identifier of contained.identifier ?? []) if (identifier.value) values.push(identifier.value);
      for (const name of contained.name ?? []) for (const part of [...(name.given ?? []), name.family ?? '']) if (part) values.push(part);
    }
  };
  const r = resource as { subject?: Reference; patient?: Reference; deliverTo?: Reference; participant?: Array<{ actor?: Reference }> };
  fromReference(r.subject);
  fromReference(r.patient);
  fromReference(r.deliverTo);
  for (const participant of r.participant ?? []) fromReference(participant.actor);
  return values;
}

describe('FHIR R4 → canonical demand over the official examples', () => {
  it('covers every demand resource type', () => {
    const types = new Set(demandFiles.map((file) => load(file).resourceType));
    expect([...types].sort()).toEqual([...DEMAND_RESOURCE_TYPES].sort());
  });

  it.each(demandFiles)('%s maps, or fails as a business mapping_failure with a path; no patient data in the output', (file) => {
    const resource = load(file);
    let output: unknown;
    try {
      output = mapFhirDemand(resource, context);
    } catch (error) {
      expect(error).toBeInstanceOf(CarelaneError);
      const failure = error as CarelaneError;
      expect(failure.failureClass).toBe('business');
      expect(failure.exceptionType).toBe('mapping_failure');
      expect(failure.where?.field).toMatch(new RegExp(`^${resource.resourceType}\\.`));
      output = { message: failure.message, where: failure.where };
    }
    const serialised = JSON.stringify(output);
    for (const value of patientValues(resource)) expect(serialised).not.toContain(value);
  });

  it('maps the SupplyRequest example: item, quantity, location, business key', () => {
    const [signal] = mapFhirDemand(load('supplyrequest-example-simpleorder.json'), context);
    expect(signal).toMatchObject({
      kind: 'supply',
      action: 'create',
      status: 'active',
      source: { system: 'ehr-test', type: 'SupplyRequest', id: 'SupplyRequest/simpleorder' },
      items: [{ code: { system: '', code: 'BlueTubes', display: 'Blood collect tubes blue cap' }, quantity: 10 }],
      location: { code: 'GoodHealth Clinic Receiving', system: 'display' },
      businessKeys: { 'identifier:': 'Order10284' },
    });
  });

  it('tokenizes the patient reference with the injected tokenizer', () => {
    const [signal] = mapFhirDemand(load('appointment-example.json'), context);
    expect(signal?.patientToken).toBe(tokenizer.tokenFor('Patient/example'));
    expect(signal?.patientToken).toMatch(/^ptk_k1_/);
    expect(signal).toMatchObject({ kind: 'scheduled_procedure', action: 'create', location: { code: 'Location/1' }, scheduledStart: '2013-12-10T09:00:00Z' });
  });

  it('prefers the logical identifier of the patient reference', () => {
    const resource = load('devicerequest-example-insulinpump.json') as Resource & { subject: Reference };
    resource.subject = { identifier: { system: 'urn:oid:1.2.36.146.595.217.0.1', value: 'MRN-12345' } };
    const [signal] = mapFhirDemand(resource, context);
    expect(signal?.patientToken).toBe(tokenizer.tokenFor('urn:oid:1.2.36.146.595.217.0.1|MRN-12345'));
    expect(JSON.stringify(signal)).not.toContain('MRN-12345');
  });

  it('maps an implanted focal device and used codes as utilization', () => {
    const [implant] = mapFhirDemand(load('procedure-example-implant.json'), context);
    expect(implant).toMatchObject({ kind: 'utilization', action: 'complete', items: [{ quantity: 1 }] });
    const [biopsy] = mapFhirDemand(load('procedure-example-biopsy.json'), context);
    expect(biopsy?.items.length).toBeGreaterThan(0);
    expect(mapFhirDemand(load('procedure-example.json'), context)).toEqual([]);
  });

  it('names the path of a used item with no code', () => {
    expect(() => mapFhirDemand(load('procedure-example-colonoscopy.json'), context)).toThrow(
      expect.objectContaining({ failureClass: 'business', exceptionType: 'mapping_failure', where: { field: 'Procedure.usedReference[0]' } }),
    );
  });

  it('fails a SupplyRequest with no item code or no location as mapping_failure with its path', () => {
    const noItem = load('supplyrequest-example-simpleorder.json') as Resource & { itemCodeableConcept?: unknown };
    noItem.itemCodeableConcept = { text: 'tubes' };
    expect(() => mapFhirDemand(noItem, context)).toThrow(expect.objectContaining({ code: 'fhir_no_item_code', where: { field: 'SupplyRequest.item[x]' } }));
    const noLocation = load('supplyrequest-example-simpleorder.json') as Resource & { deliverTo?: unknown };
    delete noLocation.deliverTo;
    expect(() => mapFhirDemand(noLocation, context)).toThrow(expect.objectContaining({ code: 'fhir_no_location', where: { field: 'SupplyRequest.deliverTo' } }));
  });

  it('fails an Appointment with no Location participant', () => {
    expect(() => mapFhirDemand(load('appointment-example2doctors.json'), context)).toThrow(
      expect.objectContaining({ exceptionType: 'mapping_failure', where: { field: 'Appointment.participant.actor' } }),
    );
  });

  describe('Appointment status', () => {
    const booked = (): Appointment => load<Appointment>('appointment-example.json');
    const mapOne = (resource: Appointment, previous?: Appointment): DemandSignal => mapFhirDemand(resource, { ...context, ...(previous ? { previous } : {}) })[0]!;

    it('booked → create; a later version with the same start → update', () => {
      expect(mapOne(booked()).action).toBe('create');
      expect(mapOne(booked(), booked()).action).toBe('update');
    });

    it('a moved start → reschedule with the previous start', () => {
      const moved = { ...booked(), start: '2013-12-11T09:00:00Z', end: '2013-12-11T11:00:00Z' };
      expect(mapOne(moved, booked())).toMatchObject({ action: 'reschedule', previousStart: '2013-12-10T09:00:00Z', scheduledStart: '2013-12-11T09:00:00Z' });
    });

    it('cancelled → cancel, noshow → no_show, fulfilled → complete', () => {
      expect(mapOne({ ...booked(), status: 'cancelled' })).toMatchObject({ action: 'cancel', status: 'cancelled' });
      expect(mapOne({ ...booked(), status: 'noshow' })).toMatchObject({ action: 'no_show', status: 'no_show' });
      expect(mapOne({ ...booked(), status: 'fulfilled' })).toMatchObject({ action: 'complete', status: 'completed' });
    });
  });

  it('classes every output field, and withoutProtectedFields drops the token', () => {
    const [signal] = mapFhirDemand(load('appointment-example.json'), context);
    for (const key of Object.keys(signal!)) expect(DEMAND_FIELD_CLASSES).toHaveProperty(key);
    expect(withoutProtectedFields(signal!)).not.toHaveProperty('patientToken');
  });
});
