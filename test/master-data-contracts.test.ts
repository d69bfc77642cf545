import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Resource } from '@medplum/fhirtypes';
import { Type } from 'typebox';
import { Value } from 'typebox/value';
import { describe, expect, it } from 'vitest';
import { CANONICAL_CONTRACTS, DemandSignalSchema, classedFields, fieldsOfClass, jsonSchemaOf, PurchaseOrderSchema, unclassifiedFields, business } from '../src/contracts/canonical/index.ts';
import { DEMAND_FIELD_CLASSES, type DemandSignal } from '../src/contracts/demand.ts';
import { CarelaneError } from '../src/contracts/errors.ts';
import { DEMAND_RESOURCE_TYPES, mapFhirDemand } from '../src/connectors/fhir/map-demand.ts';
import { DEFAULT_R4_DIRECTORY } from '../src/connectors/fhir/r4-definitions.ts';
import { Hl7Message } from '../src/connectors/hl7v2/hl7-message.ts';
import { mapHl7Demand } from '../src/connectors/hl7v2/map-demand.ts';
import { decodeMessage } from '../src/connectors/hl7v2/message-header.ts';
import { PatientTokenizer } from '../src/governance/tokenization.ts';

const tokenizer = new PatientTokenizer([{ id: 'k1', secret: 'test-secret-for-contract-tests' }], 'k1');
const tokenize = (identifier: string) => tokenizer.tokenFor(identifier);
const schemaProblems = (signal: DemandSignal): string[] => [...Value.Errors(DemandSignalSchema, signal)].map((e) => `${signal.source.type} ${signal.source.id}: ${e.instancePath} ${e.message}`);

describe('canonical contracts', () => {
  it('ships the eight contracts, each with a semver version and a distinct name', () => {
    expect(CANONICAL_CONTRACTS.map((c) => c.name).sort()).toEqual(['cost-center', 'demand-signal', 'item', 'location', 'purchase-order', 'replenishment-request', 'reservation', 'vendor']);
    for (const contract of CANONICAL_CONTRACTS) expect(contract.version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it.each(CANONICAL_CONTRACTS.map((c) => [c.name, c] as const))('%s: every field at every depth is classed PHI, PII or business', (_name, contract) => {
    expect(classedFields(contract.schema).length).toBeGreaterThan(3);
    expect(unclassifiedFields(contract.schema)).toEqual([]);
  });

  it('finds an unclassed field, nested ones included', () => {
    const schema = Type.Object({ a: Type.String(business()), nested: Type.Object({ b: Type.String() }, business()), list: Type.Array(Type.Object({ c: Type.Integer() }), business()) });
    expect(unclassifiedFields(schema)).toEqual(['nested.b', 'list[].c']);
  });

  it('lists the fields of a class: PHI only the patient token, PII the people named on a purchase order', () => {
    expect(fieldsOfClass(DemandSignalSchema, 'PHI')).toEqual(['patientToken']);
    expect(fieldsOfClass(PurchaseOrderSchema, 'PII')).toEqual(['buyerName', 'buyerEmail']);
    expect(fieldsOfClass(PurchaseOrderSchema, 'business')).toContain('lines[].supplierSku');
    for (const contract of CANONICAL_CONTRACTS.filter((c) => c.name !== 'demand-signal')) expect(fieldsOfClass(contract.schema, 'PHI'), contract.name).toEqual([]);
  });

  it('classes the demand schema’s top-level fields exactly as DEMAND_FIELD_CLASSES does', () => {
    const topLevel = Object.fromEntries(classedFields(DemandSignalSchema).filter((f) => !f.path.includes('.') && !f.path.includes('[')).map((f) => [f.path, f.fieldClass]));
    expect(topLevel).toEqual(DEMAND_FIELD_CLASSES);
  });

  it('exports standalone JSON Schema documents with a stable $id and the classes kept', () => {
    const item = jsonSchemaOf(CANONICAL_CONTRACTS.find((c) => c.name === 'item')!);
    expect(item).toMatchObject({ $schema: 'https://json-schema.org/draft/2020-12/schema', $id: 'urn:carelane:contract:item:1.0.0', type: 'object', 'x-class': 'business' });
    expect((item.properties as Record<string, Record<string, unknown>>).gtin!['x-class']).toBe('business');
    expect(JSON.parse(JSON.stringify(item))).toEqual(item);
  });
});

describe('DemandSignal: the schema accepts what the EHR mappings produce, and refuses what the type forbids', () => {
  const fhirDir = path.join(DEFAULT_R4_DIRECTORY, 'r4-official-examples');
  const fhirSignals: DemandSignal[] = [];
  for (const file of readdirSync(fhirDir).filter((f) => f.endsWith('.json'))) {
    const resource = JSON.parse(readFileSync(path.join(fhirDir, file), 'utf8')) as Resource;
    if (!(DEMAND_RESOURCE_TYPES as readonly string[]).includes(resource.resourceType)) continue;
    try {
      fhirSignals.push(...mapFhirDemand(resource, { sourceSystem: 'ehr-test', tokenize }));
    } catch (error) {
      if (!(error instanceof CarelaneError)) throw error;
    }
  }
  const hl7Root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../shared/realdata/hl7v2');
  const files = (dir: string): string[] => readdirSync(dir).flatMap((name) => (statSync(path.join(dir, name)).isDirectory() ? files(path.join(dir, name)) : /\.(hl7|txt)$/.test(name) ? [path.join(dir, name)] : []));
  const hl7Signals: DemandSignal[] = [];
  for (const file of files(hl7Root)) {
    try {
      hl7Signals.push(...mapHl7Demand(Hl7Message.parse(decodeMessage(readFileSync(file)).text), { tokenize }));
    } catch (error) {
      if (!(error instanceof CarelaneError)) throw error;
    }
  }

  it('validates every signal mapped from the official FHIR R4 examples', () => {
    expect(fhirSignals.length).toBeGreaterThan(10);
    const invalid = fhirSignals.flatMap(schemaProblems);
    expect(invalid).toEqual([]);
  });

  it('validates every signal mapped from the real HL7 v2 samples', () => {
    expect(hl7Signals.length).toBeGreaterThan(5);
    const invalid = hl7Signals.flatMap(schemaProblems);
    expect(invalid).toEqual([]);
  });

  it('refuses a signal with a kind outside the contract or a missing source', () => {
    const good = fhirSignals[0]!;
    expect(Value.Check(DemandSignalSchema, { ...good, kind: 'teleport' })).toBe(false);
    const { source: _source, ...withoutSource } = good;
    expect(Value.Check(DemandSignalSchema, withoutSource)).toBe(false);
    expect(Value.Check(DemandSignalSchema, { ...good, contractVersion: '2.0.0' })).toBe(false);
  });
});
