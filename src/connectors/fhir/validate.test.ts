import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CarelaneError } from '../../contracts/errors.ts';
import { DEFAULT_R4_DIRECTORY, defaultR4Definitions } from './r4-definitions.ts';
import { assertValidResource, validateResource } from './validate.ts';

const EXAMPLES = path.join(DEFAULT_R4_DIRECTORY, 'r4-official-examples');
const exampleFiles = readdirSync(EXAMPLES).filter((file) => file.endsWith('.json')).sort();
type JsonObject = Record<string, unknown>;
const load = (file: string): JsonObject => JSON.parse(readFileSync(path.join(EXAMPLES, file), 'utf8')) as JsonObject;

describe('FHIR R4 validation over the official examples', () => {
  it('finds the examples', () => {
    expect(exampleFiles.length).toBeGreaterThanOrEqual(90);
  });

  it.each(exampleFiles)('%s validates', (file) => {
    const result = validateResource(load(file));
    expect(result.issues).toEqual([]);
  });

  it.each(exampleFiles)('%s fails with the path of each top-level required element removed', (file) => {
    const resource = load(file);
    const type = resource.resourceType as string;
    const required = [...(defaultR4Definitions().requiredByDefinition.get(type) ?? [])];
    for (const name of required) {
      const mutated = structuredClone(resource);
      if (name.endsWith('[x]')) {
        const prefix = name.slice(0, -3);
        for (const key of Object.keys(mutated)) if (key.startsWith(prefix) && /[A-Z]/.test(key.charAt(prefix.length))) delete mutated[key];
      } else {
        delete mutated[name];
        delete mutated[`_${name}`];
      }
      const result = validateResource(mutated);
      expect(result.valid).toBe(false);
      expect(result.issues).toContainEqual(expect.objectContaining({ path: `${type}.${name}`, code: 'required' }));
    }
  });

  it.each(exampleFiles)('%s fails at the element given a wrong JSON type', (file) => {
    const resource = load(file);
    const type = resource.resourceType as string;
    const mutated = { ...resource, id: 42 };
    expect(validateResource(mutated).issues).toContainEqual(expect.objectContaining({ path: `${type}.id`, code: 'type' }));
    const asArray = { ...resource, meta: [{}] };
    expect(validateResource(asArray).issues).toContainEqual(expect.objectContaining({ path: `${type}.meta`, code: 'type' }));
  });
});

describe('FHIR R4 validation rules', () => {
  const supplyRequest = (): JsonObject => load('supplyrequest-example-simpleorder.json');

  it('requires SupplyRequest.quantity and the item[x] choice', () => {
    const { quantity: _q, itemCodeableConcept: _i, ...rest } = supplyRequest();
    const paths = validateResource(rest).issues.map((issue) => issue.path);
    expect(paths).toEqual(expect.arrayContaining(['SupplyRequest.quantity', 'SupplyRequest.item[x]']));
  });

  it('requires backbone children from the StructureDefinition (Appointment.participant.status)', () => {
    const appointment = load('appointment-example.json');
    const participants = appointment.participant as JsonObject[];
    delete participants[1]!.status;
    expect(validateResource(appointment).issues).toEqual([
      expect.objectContaining({ path: 'Appointment.participant[1].status', code: 'required' }),
    ]);
  });

  it('accepts a required primitive given only as its _element with an extension', () => {
    const appointment = load('appointment-example.json');
    delete appointment.status;
    appointment._status = { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'unknown' }] };
    expect(validateResource(appointment).valid).toBe(true);
  });

  it('keeps unknown extensions: valid, and the resource is not changed', () => {
    const resource = supplyRequest();
    resource.extension = [{ url: 'https://example.org/fhir/StructureDefinition/carelane-unknown', valueString: 'kept' }];
    const before = structuredClone(resource);
    expect(validateResource(resource).valid).toBe(true);
    expect(resource).toEqual(before);
  });

  it('refuses an element the resource does not define, with its path', () => {
    const resource = { ...supplyRequest(), colour: 'blue' };
    expect(validateResource(resource).issues).toEqual([expect.objectContaining({ path: 'SupplyRequest.colour', code: 'unknown_element' })]);
  });

  it('checks codes against the schema enumeration and primitive formats', () => {
    const resource = { ...supplyRequest(), status: 'shipped', authoredOn: '2016-13-45' };
    const issues = validateResource(resource).issues;
    expect(issues).toContainEqual(expect.objectContaining({ path: 'SupplyRequest.status', code: 'value' }));
    expect(issues).toContainEqual(expect.objectContaining({ path: 'SupplyRequest.authoredOn', code: 'value' }));
  });

  it('checks Quantity.value as a decimal number', () => {
    const resource = supplyRequest();
    (resource.quantity as JsonObject).value = '10';
    expect(validateResource(resource).issues).toEqual([expect.objectContaining({ path: 'SupplyRequest.quantity.value', code: 'type' })]);
  });

  it('validates resources inside a Bundle with their full path', () => {
    const bundle = load('bundle-example.json');
    const entry = (bundle.entry as JsonObject[])[0]!;
    delete (entry.resource as JsonObject).status;
    expect(validateResource(bundle).issues).toContainEqual(expect.objectContaining({ path: 'Bundle.entry[0].resource.status', code: 'required' }));
  });

  it('refuses an unknown resourceType and a non-object', () => {
    expect(validateResource({ resourceType: 'Nope' }).issues[0]).toMatchObject({ code: 'unknown_resource_type' });
    expect(validateResource('text').valid).toBe(false);
  });

  it('throws a permanent CarelaneError whose where.field is the first path', () => {
    const { quantity: _q, ...rest } = supplyRequest();
    try {
      assertValidResource(rest);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(CarelaneError);
      expect((error as CarelaneError).failureClass).toBe('permanent');
      expect((error as CarelaneError).where?.field).toBe('SupplyRequest.quantity');
    }
  });
});
