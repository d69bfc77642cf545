import { Compile } from 'typebox/schema';
import type { Queryable } from '../store/database.ts';
import { businessError, type CarelaneError } from './errors.ts';
import type { JsonSchema } from './compatibility.ts';

// What makes the contract registry (registry.ts) bind at runtime: a canonical payload Carelane produces is checked
// against the ACTIVE versions of its contract and refused, as a business `contract_violation`, when it fits none.
// A breaking version waiting for approval (status `proposed`) and a rejected or superseded one (`retired`) are
// never used, so what is accepted changes exactly when a version activates: a compatible change at once, a
// breaking one when an admin approves it.
//
// The active set is read in the caller's transaction on every check (one indexed query on the registry's primary
// key): an activation committed on any node is seen by the next check, with no cache to go stale. What is cached
// is the costly part, the compiled validator of each version (JIT-compiled by TypeBox), keyed by name, version and
// a hash of the stored schema, so it is compiled once per process and never reused for a different schema.

export interface ContractViolationDetail {
  /** the version this error was found against */
  version: string;
  /** JSONPath of the offending value in the payload, e.g. `$.lines[0].quantity` */
  path: string;
  /** what is wrong, in the schema's words (never the value: payloads may carry PHI) */
  message: string;
}

interface CompiledVersion {
  version: string;
  check(value: unknown): boolean;
  errors(value: unknown): ContractViolationDetail[];
}

interface RegistryRow {
  name: string;
  version: string;
  active: boolean;
  fingerprint: string | null;
}

const MAX_ERRORS_PER_VERSION = 20;
const MAX_COMPILED = 512;

/** A JSON Pointer (RFC 6901, as validators report instance paths) as a JSONPath, which people read more easily. */
export function jsonPath(pointer: string): string {
  if (pointer === '') return '$';
  return `$${pointer
    .slice(1)
    .split('/')
    .map((raw) => raw.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((segment) => (/^\d+$/.test(segment) ? `[${segment}]` : /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(segment) ? `.${segment}` : `[${JSON.stringify(segment)}]`))
    .join('')}`;
}

const childPath = (parent: string, name: string) => jsonPath(`${parent}/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`);

interface ValidatorError {
  keyword: string;
  schemaPath: string;
  instancePath: string;
  params: Record<string, unknown>;
  message: string;
}

/** One error per offending field: `required` and `additionalProperties` name the field itself, not its parent. */
function describeErrors(version: string, raw: readonly ValidatorError[]): ContractViolationDetail[] {
  const out: ContractViolationDetail[] = [];
  const seen = new Set<string>();
  const add = (path: string, message: string) => {
    const key = `${path} ${message}`;
    if (!seen.has(key) && out.length < MAX_ERRORS_PER_VERSION) out.push({ version, path, message }), seen.add(key);
  };
  for (const error of raw) {
    // TypeBox reports a closed object twice: `false` schema at the extra property, and additionalProperties at
    // the object. The second names the properties; the first adds nothing.
    if (error.keyword === 'boolean' && error.schemaPath.endsWith('/additionalProperties')) continue;
    if (error.keyword === 'required' && Array.isArray(error.params.requiredProperties)) {
      for (const name of error.params.requiredProperties as string[]) add(childPath(error.instancePath, name), 'is required');
    } else if (error.keyword === 'additionalProperties' && Array.isArray(error.params.additionalProperties)) {
      for (const name of error.params.additionalProperties as string[]) add(childPath(error.instancePath, name), 'is not in the contract (additional property)');
    } else {
      add(jsonPath(error.instancePath), error.message);
    }
  }
  return out;
}

function compileVersion(version: string, schema: JsonSchema): CompiledVersion {
  const validator = Compile(schema as Parameters<typeof Compile>[0]);
  return {
    version,
    check: (value) => validator.Check(value),
    errors: (value) => describeErrors(version, validator.Errors(value)[1] as unknown as ValidatorError[]),
  };
}

export class ContractValidators {
  private readonly compiled = new Map<string, CompiledVersion>();
  /** validators compiled since start: for tests and the docs' claim that each version is compiled once */
  compilations = 0;

  /**
   * The active versions of each named canonical contract, compiled. A name missing from the result has no
   * canonical contract in the registry (nothing to enforce); an empty list means it has one but none is active.
   */
  async activeVersions(db: Queryable, names: readonly string[]): Promise<Map<string, CompiledVersion[]>> {
    const unique = [...new Set(names)];
    const result = new Map<string, CompiledVersion[]>();
    if (unique.length === 0) return result;
    const { rows } = await db.query<RegistryRow>(
      `select name, version, status = 'active' as active, case when status = 'active' then md5(schema::text) end as fingerprint
       from carelane.contract_versions where kind = 'canonical' and name = any($1::text[])
       order by name, major desc, minor desc, patch desc`,
      [unique],
    );
    const missing = rows.filter((row) => row.active && !this.compiled.has(cacheKey(row)));
    if (missing.length > 0) await this.compileFrom(db, missing);
    for (const row of rows) {
      const versions = result.get(row.name) ?? [];
      const compiled = row.active ? this.compiled.get(cacheKey(row)) : undefined;
      if (compiled) versions.push(compiled);
      result.set(row.name, versions);
    }
    return result;
  }

  private async compileFrom(db: Queryable, rows: RegistryRow[]): Promise<void> {
    const { rows: schemas } = await db.query<{ name: string; version: string; fingerprint: string; schema: JsonSchema }>(
      `select v.name, v.version, md5(v.schema::text) as fingerprint, v.schema
       from carelane.contract_versions v join unnest($1::text[], $2::text[]) as wanted(name, version) using (name, version)`,
      [rows.map((row) => row.name), rows.map((row) => row.version)],
    );
    for (const row of schemas) {
      if (this.compiled.size >= MAX_COMPILED) this.compiled.delete(this.compiled.keys().next().value!);
      this.compiled.set(cacheKey(row), compileVersion(row.version, row.schema));
      this.compilations += 1;
    }
  }

  /**
   * Checks a payload against the active versions of a contract. Returns the version it fits, or undefined when the
   * registry has no canonical contract of that name. Throws a business `contract_violation` when it fits none.
   */
  async assertFits(db: Queryable, contract: string, payload: unknown, subject: string): Promise<string | undefined> {
    const versions = (await this.activeVersions(db, [contract])).get(contract);
    return versions === undefined ? undefined : fitOrThrow(contract, versions, payload, subject);
  }
}

const cacheKey = (row: { name: string; version: string; fingerprint: string | null }) => `${row.name}@${row.version}#${row.fingerprint}`;

function fitOrThrow(contract: string, versions: CompiledVersion[], payload: unknown, subject: string): string {
  const fit = versions.find((version) => version.check(payload));
  if (fit) return fit.version;
  throw contractViolation(contract, versions, payload, subject);
}

export function contractViolation(contract: string, versions: CompiledVersion[], payload: unknown, subject: string): CarelaneError {
  const errors = versions.flatMap((version) => version.errors(payload));
  const active = versions.map((version) => version.version);
  const summary =
    versions.length === 0
      ? 'the contract has no active version'
      : versions.map((version) => `${version.version}: ${errors.filter((e) => e.version === version.version).map((e) => `${e.path} ${e.message}`).slice(0, 3).join('; ')}`).join(' | ');
  return businessError('contract_violation', `${subject} fits no active version of contract "${contract}" (${summary})`, {
    code: 'contract_violation',
    ...(errors[0] ? { where: { field: errors[0].path } } : {}),
    detail: { contract, activeVersions: active, errors },
  });
}

/** The process's validators: compiled versions are shared by every caller. */
export const contractValidators = new ContractValidators();

/** A canonical payload to check: the registry name of its contract, the payload, and what it is (for the message). */
export interface ContractedPayload {
  contract: string;
  payload: unknown;
  /** names the payload in the refusal, e.g. `event carelane.reservation.released`; never patient data */
  subject: string;
}

/**
 * Refuses canonical payloads that fit no active version of their contract (one registry query for the whole batch):
 * the first misfit throws a business `contract_violation`. A name without a canonical contract in the registry
 * passes unchecked. Each payload is checked as JSON, as it is stored, published or handed on, not as the object in
 * memory (undefined keys, Dates).
 */
export async function assertPayloadsFitContracts(db: Queryable, payloads: ReadonlyArray<ContractedPayload>, validators = contractValidators): Promise<void> {
  if (payloads.length === 0) return;
  const active = await validators.activeVersions(db, payloads.map((item) => item.contract));
  for (const item of payloads) {
    const versions = active.get(item.contract);
    if (versions !== undefined) fitOrThrow(item.contract, versions, JSON.parse(JSON.stringify(item.payload ?? null)), item.subject);
  }
}

/** Refuses canonical events that fit no active version of the contract named as their topic. */
export async function assertEventsFitContracts(db: Queryable, events: ReadonlyArray<{ topic: string; payload: unknown }>, validators = contractValidators): Promise<void> {
  await assertPayloadsFitContracts(db, events.map((event) => ({ contract: event.topic, payload: event.payload, subject: `event ${event.topic}` })), validators);
}
