import type { TSchema } from 'typebox';

/** One version of a canonical contract as shipped with Carelane: its registry name, semver and schema. */
export interface CanonicalContract<S extends TSchema = TSchema> {
  /** registry name (GET /api/v1/contracts?name=…); lower case, stable across versions */
  name: string;
  /** semver MAJOR.MINOR.PATCH: a breaking change is a new major, and both majors can be active at once */
  version: string;
  schema: S;
}

export const canonicalContract = <S extends TSchema>(name: string, version: string, schema: S): CanonicalContract<S> => ({ name, version, schema });

/** The contract as a standalone JSON Schema document (draft 2020-12), with a stable `$id` per name and version. */
export function jsonSchemaOf(contract: CanonicalContract): Record<string, unknown> {
  // a JSON round trip drops TypeBox's symbol-keyed metadata, leaving only JSON Schema keywords
  const plain = JSON.parse(JSON.stringify(contract.schema)) as Record<string, unknown>;
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `urn:carelane:contract:${contract.name}:${contract.version}`,
    ...plain,
  };
}
