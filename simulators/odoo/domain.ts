// Odoo domains: a list of [field, operator, value] terms in prefix notation with '&' (default), '|' and '!'
// (Odoo docs, "Search domains" in the ORM reference). Supported operators: = != > >= < <= in, not in, like,
// ilike, not like, not ilike, child_of.

export type Term = [string, string, unknown];
export type DomainItem = string | Term;
export type Row = { id: number } & Record<string, unknown>;

export interface DomainContext {
  /** ids of the given records and all their descendants, for child_of */
  descendants(field: string, ids: number[]): Set<number>;
}

export function matches(row: Row, domain: readonly DomainItem[], context: DomainContext): boolean {
  let position = 0;
  const next = (): boolean => {
    const item = domain[position++];
    if (item === '&') return both(next(), next);
    if (item === '|') return either(next(), next);
    if (item === '!') return !next();
    if (!Array.isArray(item)) throw new OdooDomainError(`Invalid domain term ${JSON.stringify(item)}`);
    return term(row, item as Term, context);
  };
  const both = (left: boolean, right: () => boolean) => right() && left;
  const either = (left: boolean, right: () => boolean) => right() || left;
  let result = true;
  // Terms not joined by an operator are implicitly AND-ed.
  while (position < domain.length) result = next() && result;
  return result;
}

export class OdooDomainError extends Error {}

function term(row: Row, [field, operator, value]: Term, context: DomainContext): boolean {
  const actual = row[field] ?? false;
  switch (operator) {
    case '=':
    case '==':
      return value === false && actual === false ? true : loose(actual) === loose(value);
    case '!=':
    case '<>':
      return loose(actual) !== loose(value);
    case '>':
      return actual !== false && (actual as number | string) > (value as number | string);
    case '>=':
      return actual !== false && (actual as number | string) >= (value as number | string);
    case '<':
      return actual !== false && (actual as number | string) < (value as number | string);
    case '<=':
      return actual !== false && (actual as number | string) <= (value as number | string);
    case 'in':
      return asList(value).some((candidate) => loose(candidate) === loose(actual));
    case 'not in':
      return !asList(value).some((candidate) => loose(candidate) === loose(actual));
    case 'like':
      return typeof actual === 'string' && actual.includes(String(value));
    case 'ilike':
      return typeof actual === 'string' && actual.toLowerCase().includes(String(value).toLowerCase());
    case 'not like':
      return !(typeof actual === 'string' && actual.includes(String(value)));
    case 'not ilike':
      return !(typeof actual === 'string' && actual.toLowerCase().includes(String(value).toLowerCase()));
    case 'child_of':
      return typeof actual === 'number' && context.descendants(field, asList(value).map(Number)).has(actual);
    default:
      throw new OdooDomainError(`Invalid operator ${JSON.stringify(operator)}`);
  }
}

const asList = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);
// A many2one compares by id whether the caller gave 7 or [7, 'name'].
const loose = (value: unknown): unknown => (Array.isArray(value) ? value[0] : value === null ? false : value);
