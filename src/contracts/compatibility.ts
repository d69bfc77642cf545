// Compatibility of two versions of a contract's JSON Schema, as a semver level (SemVer 2.0.0 §7–8: MINOR for
// backward-compatible additions, MAJOR for anything incompatible, PATCH for changes that alter no instance).
// Which schema edits break whom follows the JSON Schema evolution rules of Confluent Schema Registry's
// "FULL" compatibility (a change must not break the readers of old data nor the writers of new data), with the
// one relaxation issue 8 asks for: adding an optional property is MINOR. So:
//   - annotations only (title, description, examples, default, $comment, deprecated) → patch
//   - a property added as optional, a type widened, an enum widened, a constraint loosened,
//     additionalProperties opened → minor
//   - a property removed, retyped, added as required, optional ↔ required, an enum narrowed, const changed,
//     a constraint tightened, additionalProperties closed → major
//   - any keyword change this checker does not know → major (unknown is treated as breaking)
// Pure: no I/O (CONVENTIONS.md, "a pure core").

export type JsonSchema = { readonly [keyword: string]: unknown };
export type ChangeLevel = 'patch' | 'minor' | 'major';

export interface SchemaChange {
  /** where, as a dotted path of property names ([] for array items); '' = the root */
  path: string;
  level: ChangeLevel;
  what: string;
}

export interface Compatibility {
  /** 'none' when the schemas describe the same instances with the same annotations */
  level: ChangeLevel | 'none';
  changes: SchemaChange[];
}

const RANK: Record<ChangeLevel | 'none', number> = { none: 0, patch: 1, minor: 2, major: 3 };
const ANNOTATIONS = new Set(['title', 'description', 'examples', 'default', '$comment', 'deprecated', '$id', '$schema']);
// lower bounds: raising them rejects instances that were valid
const LOWER_BOUNDS = new Set(['minimum', 'exclusiveMinimum', 'minLength', 'minItems', 'minProperties']);
const UPPER_BOUNDS = new Set(['maximum', 'exclusiveMaximum', 'maxLength', 'maxItems', 'maxProperties']);
const HANDLED = new Set(['type', 'enum', 'const', 'properties', 'required', 'additionalProperties', 'items', 'anyOf']);

export function compareSchemas(before: JsonSchema, after: JsonSchema): Compatibility {
  const changes: SchemaChange[] = [];
  compareAt(before, after, '', changes);
  const level = changes.reduce<ChangeLevel | 'none'>((worst, change) => (RANK[change.level] > RANK[worst] ? change.level : worst), 'none');
  return { level, changes };
}

function compareAt(before: JsonSchema, after: JsonSchema, path: string, changes: SchemaChange[]): void {
  const add = (level: ChangeLevel, what: string, at = path) => changes.push({ path: at, level, what });

  compareTypes(before, after, add);
  compareEnums(before, after, add);
  if (!same(before.const, after.const)) add('major', `const changed from ${show(before.const)} to ${show(after.const)}`);
  compareProperties(before, after, path, changes, add);
  compareAdditionalProperties(before.additionalProperties, after.additionalProperties, add);
  if (isSchema(before.items) && isSchema(after.items)) compareAt(before.items, after.items, `${path}[]`, changes);
  else if (!same(before.items, after.items)) add('major', 'array items changed');
  compareAnyOf(before, after, add);

  const keywords = new Set([...Object.keys(before), ...Object.keys(after)]);
  for (const keyword of keywords) {
    if (HANDLED.has(keyword) || same(before[keyword], after[keyword])) continue;
    if (ANNOTATIONS.has(keyword)) add('patch', `${keyword} changed`);
    else if (LOWER_BOUNDS.has(keyword)) add(bound(before[keyword], after[keyword], 'lower'), `${keyword} ${show(before[keyword])} → ${show(after[keyword])}`);
    else if (UPPER_BOUNDS.has(keyword)) add(bound(before[keyword], after[keyword], 'upper'), `${keyword} ${show(before[keyword])} → ${show(after[keyword])}`);
    else add('major', `${keyword} changed from ${show(before[keyword])} to ${show(after[keyword])}`);
  }
}

type Add = (level: ChangeLevel, what: string, at?: string) => void;

function compareTypes(before: JsonSchema, after: JsonSchema, add: Add): void {
  const was = typeSet(before.type);
  const now = typeSet(after.type);
  if (same([...was].sort(), [...now].sort())) return;
  // no type keyword = any type; gaining one narrows, losing one widens
  const widened = now.size === 0 || (was.size > 0 && [...was].every((type) => now.has(type)));
  add(widened ? 'minor' : 'major', `type ${was.size ? [...was].join('|') : 'any'} → ${now.size ? [...now].join('|') : 'any'}`);
}

function compareEnums(before: JsonSchema, after: JsonSchema, add: Add): void {
  if (same(before.enum, after.enum)) return;
  const was = Array.isArray(before.enum) ? before.enum : undefined;
  const now = Array.isArray(after.enum) ? after.enum : undefined;
  if (!now) return add('minor', 'enum removed (any value allowed)');
  if (!was) return add('major', `enum added: ${show(now)}`);
  const removed = was.filter((value) => !now.some((other) => same(value, other)));
  if (removed.length > 0) add('major', `enum narrowed: ${show(removed)} no longer allowed`);
  else add('minor', `enum widened: ${show(now.filter((value) => !was.some((other) => same(value, other))))} added`);
}

function compareProperties(before: JsonSchema, after: JsonSchema, path: string, changes: SchemaChange[], add: Add): void {
  const was = isSchema(before.properties) ? before.properties : {};
  const now = isSchema(after.properties) ? after.properties : {};
  const requiredBefore = new Set(Array.isArray(before.required) ? (before.required as string[]) : []);
  const requiredAfter = new Set(Array.isArray(after.required) ? (after.required as string[]) : []);
  for (const name of Object.keys(was)) {
    const at = path ? `${path}.${name}` : name;
    if (!(name in now)) {
      add('major', 'property removed', at);
      continue;
    }
    if (requiredBefore.has(name) && !requiredAfter.has(name)) add('major', 'required property became optional (readers relying on it break)', at);
    if (!requiredBefore.has(name) && requiredAfter.has(name)) add('major', 'optional property became required', at);
    const a = was[name];
    const b = now[name];
    if (isSchema(a) && isSchema(b)) compareAt(a, b, at, changes);
    else if (!same(a, b)) add('major', 'property schema changed', at);
  }
  for (const name of Object.keys(now)) {
    if (name in was) continue;
    const at = path ? `${path}.${name}` : name;
    add(requiredAfter.has(name) ? 'major' : 'minor', requiredAfter.has(name) ? 'required property added' : 'optional property added', at);
  }
}

function compareAdditionalProperties(before: unknown, after: unknown, add: Add): void {
  if (same(before, after)) return;
  const closedBefore = before === false;
  const closedAfter = after === false;
  if (!closedBefore && closedAfter) add('major', 'additional properties no longer allowed');
  else if (closedBefore && !closedAfter) add('minor', 'additional properties now allowed');
  else add('major', 'additionalProperties schema changed');
}

function compareAnyOf(before: JsonSchema, after: JsonSchema, add: Add): void {
  if (same(before.anyOf, after.anyOf)) return;
  const was = Array.isArray(before.anyOf) ? before.anyOf : [];
  const now = Array.isArray(after.anyOf) ? after.anyOf : [];
  const kept = was.every((branch) => now.some((other) => same(branch, other)));
  add(kept && now.length > 0 ? 'minor' : 'major', kept && now.length > 0 ? 'anyOf gained alternatives' : 'anyOf alternatives removed or changed');
}

function bound(before: unknown, after: unknown, side: 'lower' | 'upper'): ChangeLevel {
  if (typeof before !== 'number') return 'major'; // a bound added
  if (typeof after !== 'number') return 'minor'; // a bound removed
  const tightened = side === 'lower' ? after > before : after < before;
  return tightened ? 'major' : 'minor';
}

function typeSet(type: unknown): Set<string> {
  if (typeof type === 'string') return new Set([type]);
  if (Array.isArray(type)) return new Set(type.filter((t): t is string => typeof t === 'string'));
  return new Set();
}

function isSchema(value: unknown): value is Record<string, JsonSchema> & JsonSchema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const show = (value: unknown): string => (value === undefined ? 'none' : JSON.stringify(value));
const same = (a: unknown, b: unknown): boolean => canonical(a) === canonical(b);

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}
