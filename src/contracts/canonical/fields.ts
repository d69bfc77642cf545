import type { TSchema } from 'typebox';
import type { FieldClass } from '../demand.ts';

// Field classes live in the schema itself, as the JSON Schema extension keyword `x-class`, so the class travels
// with the contract into the registry, the JSON Schema export and /docs: one place to decide, nothing to keep
// in step by hand (DESIGN.md principle 4). PHI: health information linked to a patient; PII: identifies a person.

export type { FieldClass };
export const FIELD_CLASSES: readonly FieldClass[] = ['PHI', 'PII', 'business'];
export const CLASS_KEYWORD = 'x-class';

/** TypeBox options that class a field, merged with its other options: `Type.String(business({ maxLength: 40 }))`. */
export const business = <T extends object>(options?: T) => ({ ...options, [CLASS_KEYWORD]: 'business' as const });
export const pii = <T extends object>(options?: T) => ({ ...options, [CLASS_KEYWORD]: 'PII' as const });
export const phi = <T extends object>(options?: T) => ({ ...options, [CLASS_KEYWORD]: 'PHI' as const });

/** A schema as plain JSON: what walks over properties need to see (no TypeBox symbols). */
type Node = { [keyword: string]: unknown };

export interface ClassedField {
  /** dotted path of property names; `[]` marks array items, e.g. `lines[].quantity` */
  path: string;
  /** undefined when the field has no class (the contract test fails on those) */
  fieldClass: FieldClass | undefined;
}

/** Every property at every depth (objects, arrays of objects, records of objects, unions), with its class. */
export function classedFields(schema: TSchema | Node): ClassedField[] {
  const fields: ClassedField[] = [];
  const visit = (node: unknown, path: string) => {
    if (!node || typeof node !== 'object') return;
    const n = node as Node;
    const properties = n.properties as Record<string, Node> | undefined;
    if (properties && typeof properties === 'object') {
      for (const [name, child] of Object.entries(properties)) {
        const at = path ? `${path}.${name}` : name;
        const value = child[CLASS_KEYWORD];
        fields.push({ path: at, fieldClass: FIELD_CLASSES.includes(value as FieldClass) ? (value as FieldClass) : undefined });
        visit(child, at);
      }
    }
    if (n.items) visit(n.items, `${path}[]`);
    // Type.Record keeps its value schema under patternProperties
    if (n.patternProperties && typeof n.patternProperties === 'object') for (const child of Object.values(n.patternProperties as Record<string, Node>)) visit(child, `${path}{}`);
    for (const keyword of ['anyOf', 'oneOf', 'allOf']) if (Array.isArray(n[keyword])) for (const branch of n[keyword] as Node[]) visit(branch, path);
  };
  visit(schema, '');
  // a union of objects lists the same path once per branch
  const seen = new Set<string>();
  return fields.filter((field) => (seen.has(field.path) ? false : (seen.add(field.path), true)));
}

/** The paths of the fields of one class, e.g. what to strip before a record leaves the EHR side. */
export function fieldsOfClass(schema: TSchema | Node, fieldClass: FieldClass): string[] {
  return classedFields(schema)
    .filter((field) => field.fieldClass === fieldClass)
    .map((field) => field.path);
}

/** Paths without a class: a contract is complete only when this is empty. */
export function unclassifiedFields(schema: TSchema | Node): string[] {
  return classedFields(schema)
    .filter((field) => field.fieldClass === undefined)
    .map((field) => field.path);
}
