import { permanentError, type CarelaneError } from '../../contracts/errors.ts';
import { defaultR4Definitions, type R4Definitions, type SchemaDefinition, type SchemaProperty } from './r4-definitions.ts';

/**
 * Structural validation of FHIR R4 JSON (FHIR R4 json.html and the resources' StructureDefinitions): known
 * elements only, JSON types and primitive formats, code enumerations, arrays where the cardinality is `*`,
 * and required elements (min ≥ 1). Invariants (FHIRPath constraints) and terminology bindings beyond the
 * schema's enumerations are out of scope. Validation only reads: the resource, its extensions included, is
 * never changed, so unknown extensions travel on untouched.
 */

export type ValidationIssueCode = 'required' | 'unknown_element' | 'type' | 'value' | 'unknown_resource_type' | 'empty' | 'too_deep';

export interface ValidationIssue {
  /** FHIRPath-like location, e.g. `SupplyRequest.quantity`, `Appointment.participant[0].status` */
  path: string;
  code: ValidationIssueCode;
  message: string;
}

export interface ValidationResult {
  valid: boolean;
  issues: ValidationIssue[];
}

/** Resource nesting (contained, Bundle.entry.resource) deeper than this is refused rather than walked. */
const MAX_DEPTH = 64;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const isObject = (value: unknown): value is Record<string, Json> => typeof value === 'object' && value !== null && !Array.isArray(value);

const refName = (ref: string | undefined): string | undefined => (ref?.startsWith('#/definitions/') ? ref.slice('#/definitions/'.length) : undefined);

class Walker {
  readonly issues: ValidationIssue[] = [];
  private readonly r4: R4Definitions;

  constructor(r4: R4Definitions) {
    this.r4 = r4;
  }

  private report(path: string, code: ValidationIssueCode, message: string): void {
    this.issues.push({ path, code, message });
  }

  resource(value: unknown, path: string, depth: number): void {
    if (depth > MAX_DEPTH) return this.report(path, 'too_deep', `resources are nested more than ${MAX_DEPTH} deep`);
    if (!isObject(value)) return this.report(path, 'type', 'a resource must be a JSON object');
    const type = value.resourceType;
    if (typeof type !== 'string' || !this.r4.resourceTypes.has(type)) {
      return this.report(path ? `${path}.resourceType` : 'resourceType', 'unknown_resource_type', `resourceType ${JSON.stringify(type ?? null)} is not an R4 resource type`);
    }
    this.object(value, type, path || type, depth);
  }

  private object(value: Record<string, Json>, definitionName: string, path: string, depth: number): void {
    const definition = this.r4.definitions.get(definitionName);
    if (!definition?.properties) return;
    if (Object.keys(value).length === 0) this.report(path, 'empty', 'an element must have a value or children (json.html: no empty objects)');
    for (const [name, child] of Object.entries(value)) {
      const property = definition.properties[name];
      const childPath = `${path}.${name}`;
      if (!property) {
        this.report(childPath, 'unknown_element', `'${name}' is not an element of ${definitionName.replace(/_/g, '.')}`);
        continue;
      }
      if (name === 'resourceType') continue;
      this.property(child, property, childPath, name, depth);
    }
    for (const name of this.r4.requiredByDefinition.get(definitionName) ?? []) {
      if (!isPresent(value, name)) this.report(`${path}.${name}`, 'required', `${path}.${name} is required (minimum cardinality 1)`);
    }
  }

  private property(value: Json, property: SchemaProperty, path: string, name: string, depth: number): void {
    if (property.type === 'array') {
      if (!Array.isArray(value)) return this.report(path, 'type', `${name} repeats: it must be a JSON array`);
      if (value.length === 0) return this.report(path, 'empty', 'arrays must not be empty (json.html)');
      const item = property.items ?? {};
      value.forEach((element, index) => {
        // A null keeps positions aligned between a primitive array and its `_name` extension array (json.html).
        if (element === null && name.startsWith('_')) return;
        if (element === null && this.isPrimitive(item)) return;
        this.single(element, item, `${path}[${index}]`, depth);
      });
      return;
    }
    if (Array.isArray(value)) return this.report(path, 'type', `${name} does not repeat: it must not be an array`);
    this.single(value, property, path, depth);
  }

  private isPrimitive(property: SchemaProperty): boolean {
    const definition = this.r4.definitions.get(refName(property.$ref) ?? '');
    return property.enum !== undefined || (definition !== undefined && definition.properties === undefined && !definition.oneOf);
  }

  private single(value: Json, property: SchemaProperty, path: string, depth: number): void {
    if (value === null) return this.report(path, 'type', 'null is not a value (json.html)');
    if (property.enum) {
      if (typeof value !== 'string' || !property.enum.includes(value)) {
        this.report(path, 'value', `${JSON.stringify(value)} is not one of the allowed codes: ${property.enum.join(', ')}`);
      }
      return;
    }
    if (property.const !== undefined) {
      if (value !== property.const) this.report(path, 'value', `must be ${JSON.stringify(property.const)}`);
      return;
    }
    const name = refName(property.$ref);
    if (name === undefined) {
      // Inline primitives, e.g. Extension.valueBoolean carries its own type and pattern.
      if (property.type) this.primitive(value, { type: property.type, ...(property.pattern ? { pattern: property.pattern } : {}) }, property.type, path);
      return;
    }
    if (name === 'ResourceList') return this.resource(value, path, depth + 1);
    const definition = this.r4.definitions.get(name);
    if (!definition) return;
    if (definition.properties) {
      if (!isObject(value)) return this.report(path, 'type', `must be a JSON object (${name.replace(/_/g, '.')})`);
      return this.object(value, name, path, depth);
    }
    this.primitive(value, definition, name, path);
  }

  private primitive(value: Json, definition: SchemaDefinition, typeName: string, path: string): void {
    const expected = definition.type ?? 'string';
    if (expected === 'number') {
      if (typeof value !== 'number' || !Number.isFinite(value)) return this.report(path, 'type', `must be a JSON number (${typeName})`);
      // integer, positiveInt, unsignedInt (FHIR R4 datatypes.html#primitive): whole numbers in their ranges.
      if (typeName === 'integer' || typeName === 'positiveInt' || typeName === 'unsignedInt') {
        if (!Number.isInteger(value)) return this.report(path, 'type', `must be a whole number (${typeName})`);
        if (typeName === 'positiveInt' && value < 1) this.report(path, 'value', 'must be 1 or more (positiveInt)');
        if (typeName === 'unsignedInt' && value < 0) this.report(path, 'value', 'must be 0 or more (unsignedInt)');
      }
      return;
    }
    if (expected === 'boolean') {
      if (typeof value !== 'boolean') this.report(path, 'type', `must be a JSON boolean (${typeName})`);
      return;
    }
    if (typeof value !== 'string') return this.report(path, 'type', `must be a JSON string (${typeName})`);
    if (definition.pattern && !new RegExp(definition.pattern, 'u').test(value)) {
      this.report(path, 'value', `${JSON.stringify(value.slice(0, 60))} is not a valid ${typeName}`);
    }
  }
}

/** Present as the element itself or, for a primitive, only as `_name` (value absent, extensions given: json.html). */
function isPresent(value: Record<string, Json>, name: string): boolean {
  if (!name.endsWith('[x]')) return value[name] !== undefined || value[`_${name}`] !== undefined;
  // A choice element `item[x]` appears as itemCodeableConcept, itemReference, ... (formats.html#choice).
  const prefix = name.slice(0, -3);
  return Object.keys(value).some((key) => {
    const bare = key.startsWith('_') ? key.slice(1) : key;
    return bare.length > prefix.length && bare.startsWith(prefix) && /[A-Z]/.test(bare.charAt(prefix.length));
  });
}

/** Validates one resource (a Bundle is validated with every entry's resource). */
export function validateResource(resource: unknown, definitions: R4Definitions = defaultR4Definitions()): ValidationResult {
  const walker = new Walker(definitions);
  walker.resource(resource, '', 0);
  return { valid: walker.issues.length === 0, issues: walker.issues };
}

/**
 * Validates and throws when invalid: a structurally invalid resource will not become valid on retry, so the
 * error is permanent (DESIGN.md principle 3); `where.field` is the path of the first issue, the message lists all.
 */
export function assertValidResource(resource: unknown, definitions?: R4Definitions): void {
  const result = validateResource(resource, definitions);
  if (!result.valid) throw validationError(result.issues);
}

export function validationError(issues: ValidationIssue[]): CarelaneError {
  const first = issues[0];
  const listed = issues.slice(0, 10).map((issue) => `${issue.path}: ${issue.message}`).join('; ');
  const more = issues.length > 10 ? ` (and ${issues.length - 10} more)` : '';
  return permanentError(`invalid FHIR R4 resource: ${listed}${more}`, {
    code: 'fhir_invalid_resource',
    ...(first ? { where: { field: first.path } } : {}),
  });
}
