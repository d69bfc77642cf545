import type { Resource } from '@medplum/fhirtypes';

/**
 * The search parameters the simulated EHR understands (FHIR R4 search.html), enough for what Carelane asks:
 * `_id`, `status` (token, comma = OR), `_lastUpdated` (date with prefixes eq/ne/gt/ge/lt/le, repeated = AND),
 * `_sort` (`_lastUpdated` or `-_lastUpdated`), `_count`, and `identifier` (token: `system|value`, `value`
 * or `|value` for no system; comma = OR). Paging parameters are the server's own.
 */

export class SearchParameterError extends Error {
  readonly parameter: string;
  constructor(parameter: string, message: string) {
    super(message);
    this.parameter = parameter;
  }
}

export interface SearchRequest {
  filters: Array<(resource: Resource) => boolean>;
  sort: 'asc' | 'desc';
  count: number;
  /** parameters not understood: ignored unless the client asked for strict handling */
  ignored: string[];
  /** the parameters applied, for Bundle.link self (search.html: self shows what was used) */
  applied: URLSearchParams;
}

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;
const PAGING = new Set(['_count', '_sort', '_format']);

export function parseSearch(query: URLSearchParams): SearchRequest {
  const request: SearchRequest = { filters: [], sort: 'asc', count: DEFAULT_PAGE_SIZE, ignored: [], applied: new URLSearchParams() };
  for (const [name, value] of query) {
    if (name === '_lastUpdated') request.filters.push(lastUpdatedFilter(value));
    else if (name === '_id') request.filters.push((r) => value.split(',').includes(r.id ?? ''));
    else if (name === 'status') request.filters.push((r) => value.split(',').includes(String((r as { status?: unknown }).status)));
    else if (name === 'identifier') request.filters.push(identifierFilter(value));
    else if (!PAGING.has(name)) {
      request.ignored.push(name);
      continue;
    }
    if (name !== '_count' && name !== '_sort') request.applied.append(name, value);
  }
  const sort = query.get('_sort');
  if (sort !== null) {
    if (sort !== '_lastUpdated' && sort !== '-_lastUpdated') throw new SearchParameterError('_sort', `_sort=${sort} is not supported (only _lastUpdated and -_lastUpdated)`);
    request.sort = sort.startsWith('-') ? 'desc' : 'asc';
    request.applied.set('_sort', sort);
  }
  const count = query.get('_count');
  if (count !== null) {
    if (!/^\d+$/.test(count)) throw new SearchParameterError('_count', `_count=${count} is not a whole number`);
    // search.html "Paging": _count is a hint; the server may return fewer.
    request.count = Math.min(Number(count), MAX_PAGE_SIZE);
  }
  request.applied.set('_count', String(request.count));
  return request;
}

export function runSearch(resources: Resource[], request: SearchRequest): Resource[] {
  const matches = resources.filter((resource) => request.filters.every((filter) => filter(resource)));
  const time = (r: Resource) => Date.parse(r.meta?.lastUpdated ?? '');
  matches.sort((a, b) => (request.sort === 'asc' ? time(a) - time(b) : time(b) - time(a)));
  return matches;
}

/** search.html "token": `system|code` matches both, `code` any system, `|code` identifiers without a system. */
function identifierFilter(raw: string): (resource: Resource) => boolean {
  const tokens = raw.split(',').map((one) => {
    const bar = one.indexOf('|');
    return bar === -1 ? { system: undefined, value: one } : { system: one.slice(0, bar), value: one.slice(bar + 1) };
  });
  return (resource) => {
    const identifiers = (resource as { identifier?: Array<{ system?: string; value?: string }> }).identifier ?? [];
    return identifiers.some((id) => tokens.some((t) => id.value === t.value && (t.system === undefined || (t.system === '' ? !id.system : id.system === t.system))));
  };
}

/**
 * search.html "date": a search value is a range set by its precision (a day covers the whole day), and
 * `gt` matches a lastUpdated after that range, `ge` one in or after it, and so on.
 */
function lastUpdatedFilter(raw: string): (resource: Resource) => boolean {
  const prefix = /^(eq|ne|gt|ge|lt|le)/.exec(raw)?.[1] ?? 'eq';
  const value = raw.startsWith(prefix) ? raw.slice(prefix.length) : raw;
  const range = instantRange(value);
  if (!range) throw new SearchParameterError('_lastUpdated', `_lastUpdated=${raw} is not a FHIR date, dateTime or instant`);
  const [low, high] = range;
  const test: Record<string, (t: number) => boolean> = {
    eq: (t) => t >= low && t < high,
    ne: (t) => t < low || t >= high,
    gt: (t) => t >= high,
    ge: (t) => t >= low,
    lt: (t) => t < low,
    le: (t) => t < high,
  };
  return (resource) => {
    const updated = Date.parse(resource.meta?.lastUpdated ?? '');
    return Number.isFinite(updated) && test[prefix]!(updated);
  };
}

/** [start, end) in ms of a date (YYYY, YYYY-MM, YYYY-MM-DD, in UTC) or dateTime of minute, second or fraction precision. */
function instantRange(value: string): [number, number] | undefined {
  const date = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/.exec(value);
  if (date) {
    const [year, month, day] = [Number(date[1]), date[2] ? Number(date[2]) - 1 : undefined, date[3] ? Number(date[3]) : undefined];
    if (month === undefined) return [Date.UTC(year, 0, 1), Date.UTC(year + 1, 0, 1)];
    if (day === undefined) return [Date.UTC(year, month, 1), Date.UTC(year, month + 1, 1)];
    return [Date.UTC(year, month, day), Date.UTC(year, month, day + 1)];
  }
  const time = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})$/.exec(value);
  if (!time) return undefined;
  const start = Date.parse(value);
  if (!Number.isFinite(start)) return undefined;
  const width = !time[1] ? 60_000 : !time[3] ? 1000 : Math.max(1, 10 ** (3 - time[3].length));
  return [start, start + width];
}
