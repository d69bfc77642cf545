import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The R4 (4.0.1) definitions the validator walks: the official FHIR JSON Schema for structure and types, and
 * the resources' StructureDefinitions for cardinality. The schema alone is not enough: its `required` lists
 * leave out required primitives (they may be present only as `_status` with an extension, FHIR R4 json.html
 * "Representing primitive elements"), choice elements (`item[x]`) and every backbone element's required
 * children (e.g. Appointment.participant.status is 1..1 in the StructureDefinition, absent from the schema).
 * Loading parses 3 MB of JSON, so it happens once, on first use.
 */

export interface SchemaProperty {
  $ref?: string;
  type?: string;
  items?: { $ref?: string; type?: string; enum?: string[] };
  enum?: string[];
  const?: string;
  pattern?: string;
}

export interface SchemaDefinition {
  properties?: Record<string, SchemaProperty>;
  required?: string[];
  additionalProperties?: boolean;
  type?: string;
  pattern?: string;
  oneOf?: Array<{ $ref: string }>;
}

export interface R4Definitions {
  definitions: ReadonlyMap<string, SchemaDefinition>;
  resourceTypes: ReadonlySet<string>;
  /** definition name → names that must be present; a choice element is written `item[x]` */
  requiredByDefinition: ReadonlyMap<string, ReadonlySet<string>>;
}

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The shared real-data folder of this workspace; deployments pass their own copy of the R4 definitions. */
export const DEFAULT_R4_DIRECTORY = path.resolve(HERE, '../../../../shared/realdata/fhir');

/**
 * Required elements of data types that the schema does not list (FHIR R4 datatypes.html / extensibility.html):
 * Extension.url 1..1 and Narrative.status 1..1.
 */
const DATATYPE_REQUIRED: Record<string, string[]> = { Extension: ['url'], Narrative: ['status', 'div'] };

interface ElementDefinition {
  path: string;
  min?: number;
}

interface StructureDefinitionFile {
  resourceType: string;
  type?: string;
  kind?: string;
  snapshot?: { element: ElementDefinition[] };
}

const refName = (ref: string | undefined): string | undefined => (ref?.startsWith('#/definitions/') ? ref.slice('#/definitions/'.length) : undefined);

/** The schema definition an element path's children live in: Bundle.entry.request → Bundle_Request. */
function definitionOfPath(definitions: ReadonlyMap<string, SchemaDefinition>, elementPath: string[]): string | undefined {
  let current: string | undefined = elementPath[0];
  for (const segment of elementPath.slice(1)) {
    const property: SchemaProperty | undefined = current === undefined ? undefined : definitions.get(current)?.properties?.[segment];
    current = refName(property?.$ref ?? property?.items?.$ref);
    if (current === undefined) return undefined;
  }
  return current;
}

export function loadR4Definitions(directory: string = DEFAULT_R4_DIRECTORY): R4Definitions {
  const schema = JSON.parse(readFileSync(path.join(directory, 'r4-schema', 'fhir.schema.json'), 'utf8')) as {
    definitions: Record<string, SchemaDefinition>;
    discriminator: { mapping: Record<string, string> };
  };
  const definitions = new Map(Object.entries(schema.definitions));
  const resourceTypes = new Set(Object.keys(schema.discriminator.mapping));
  const required = new Map<string, Set<string>>();
  const add = (definition: string, name: string): void => {
    let names = required.get(definition);
    if (!names) required.set(definition, (names = new Set()));
    names.add(name);
  };
  for (const [name, definition] of definitions) {
    for (const element of definition.required ?? []) if (element !== 'resourceType') add(name, element);
  }
  for (const [name, elements] of Object.entries(DATATYPE_REQUIRED)) for (const element of elements) add(name, element);

  const sdDirectory = path.join(directory, 'r4-structuredefinitions');
  for (const file of readdirSync(sdDirectory).filter((f) => f.endsWith('.json')).sort()) {
    const sd = JSON.parse(readFileSync(path.join(sdDirectory, file), 'utf8')) as StructureDefinitionFile;
    if (sd.resourceType !== 'StructureDefinition' || sd.kind !== 'resource') continue;
    // Min cardinality ≥ 1 = required (FHIR R4 elementdefinition.html, ElementDefinition.min).
    for (const element of sd.snapshot?.element ?? []) {
      if ((element.min ?? 0) < 1) continue;
      const segments = element.path.split('.');
      if (segments.length < 2) continue;
      const parent = definitionOfPath(definitions, segments.slice(0, -1));
      if (parent) add(parent, segments[segments.length - 1]!);
    }
  }
  return { definitions, resourceTypes, requiredByDefinition: required };
}

let cached: R4Definitions | undefined;

/** The definitions from the default folder, loaded on first call and kept. */
export function defaultR4Definitions(): R4Definitions {
  cached ??= loadR4Definitions();
  return cached;
}
