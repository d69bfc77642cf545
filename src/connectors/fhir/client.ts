import type { Bundle, Resource } from '@medplum/fhirtypes';
import { CarelaneError, permanentError } from '../../contracts/errors.ts';
import { classifyNetworkError } from '../webhook/errors.ts';
import type { FhirAuth } from './auth.ts';
import { fhirResponseError } from './operation-outcome.ts';

/**
 * A FHIR R4 REST client on fetch (FHIR R4 http.html): read, search with paging, `_lastUpdated` polling and
 * version-aware update. Every failure is a CarelaneError of the engine's classes (operation-outcome.ts):
 * a refused connection is transient; no answer after a write left is ambiguous (the EHR may have applied it).
 */

export interface FhirClientOptions {
  /** the service base URL, e.g. https://ehr.example.org/fhir/R4 (http.html "Service Base URL") */
  baseUrl: string;
  auth?: FhirAuth;
  /** per request; default 30 s */
  timeoutMs?: number;
  fetch?: typeof fetch;
  /** sent as X-Correlation-ID so the EHR's logs can be matched with ours */
  correlationId?: string;
}

export type SearchParams = Record<string, string | number | ReadonlyArray<string | number>> | URLSearchParams;

export interface CreateResult<T extends Resource> {
  /** the stored resource: the new one (201), or the one that already matched If-None-Exist (200) */
  resource: T;
  /** false when a conditional create found its match and created nothing (http.html "conditional create") */
  created: boolean;
  versionId: string | undefined;
}

export interface SearchPage {
  bundle: Bundle;
  /** the answer's Date header; undefined when absent or unreadable */
  serverDate: Date | undefined;
}

export interface UpdateResult<T extends Resource> {
  /** the stored resource when the server returned it (Prefer: return=representation), else what we sent */
  resource: T;
  versionId: string | undefined;
}

// http.html: the FHIR JSON mime type; fhirVersion pins R4 for servers that serve several versions.
const FHIR_JSON = 'application/fhir+json';
const ACCEPT = `${FHIR_JSON}; fhirVersion=4.0`;
// datatypes.html: id is [A-Za-z0-9\-\.]{1,64}; resource types are capitalised names. Anything else would
// change the URL's path, so it is refused before a request is made.
const ID = /^[A-Za-z0-9\-.]{1,64}$/;
const RESOURCE_TYPE = /^[A-Z][A-Za-z]{1,63}$/;

export class FhirClient {
  private readonly base: URL;
  private readonly auth: FhirAuth | undefined;
  private readonly timeoutMs: number;
  private readonly doFetch: typeof fetch;
  private readonly correlationId: string | undefined;

  constructor(options: FhirClientOptions) {
    this.base = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
    this.auth = options.auth;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.doFetch = options.fetch ?? fetch;
    this.correlationId = options.correlationId;
  }

  /** `GET [base]/[type]/[id]`; 404 (unknown) and 410 (deleted) are permanent FhirRequestErrors. */
  async read<T extends Resource = Resource>(type: T['resourceType'], id: string, signal?: AbortSignal): Promise<T> {
    const response = await this.request('GET', this.resourceUrl(type, id), `read ${type}/${id}`, { signal });
    return (await response.json()) as T;
  }

  /**
   * The pages of `GET [base]/[type]?params`, one Bundle at a time, following `Bundle.link[relation=next]`
   * (search.html "Paging"): the next page is fetched only when the caller asks for it.
   */
  async *searchPages(type: string, params?: SearchParams, signal?: AbortSignal): AsyncGenerator<Bundle> {
    for await (const page of this.searchResponses(type, params, signal)) yield page.bundle;
  }

  /**
   * searchPages with what the HTTP answer says besides the Bundle: the server's clock (the Date header, RFC 9110
   * 6.6.1: when the answer was generated), which a poller compares meta.lastUpdated against.
   */
  async *searchResponses(type: string, params?: SearchParams, signal?: AbortSignal): AsyncGenerator<SearchPage> {
    let url: URL | undefined = this.typeUrl(type);
    for (const [name, value] of entries(params)) url.searchParams.append(name, value);
    while (url) {
      const response = await this.request('GET', url, `search ${type}`, { signal });
      const date = Date.parse(response.headers.get('date') ?? '');
      const bundle = (await response.json()) as Bundle;
      if (bundle.resourceType !== 'Bundle') throw permanentError(`search ${type} answered a ${String(bundle.resourceType)}, not a Bundle`, { code: 'fhir_not_a_bundle' });
      yield { bundle, serverDate: Number.isFinite(date) ? new Date(date) : undefined };
      url = this.nextPage(bundle);
    }
  }

  /**
   * The resources a search matched, across all pages. Entries with search.mode `include` (_include targets)
   * or `outcome` (warnings) are not matches (search.html "Summary", bundle.html search.mode); use
   * searchPages to see them.
   */
  async *search<T extends Resource = Resource>(type: T['resourceType'], params?: SearchParams, signal?: AbortSignal): AsyncGenerator<T> {
    for await (const bundle of this.searchPages(type, params, signal)) {
      for (const entry of bundle.entry ?? []) {
        const mode = entry.search?.mode;
        if (entry.resource && (mode === undefined || mode === 'match')) yield entry.resource as T;
      }
    }
  }

  /**
   * Hands each resource of `type` changed after `cursor` to `handle`, in pages, and returns the new cursor:
   * the greatest meta.lastUpdated seen (the old cursor when nothing changed). Searched with
   * `_lastUpdated=gt<cursor>` and `_sort=_lastUpdated` (search.html: date prefixes, _lastUpdated, _sort).
   * The cursor is only returned once every handler succeeded, so a failure means the same window is polled
   * again: handlers must be idempotent (they are: inbound messages deduplicate on id + versionId).
   * Caveat (search.html gives no read-consistency guarantee): a resource committed after the poll with a
   * lastUpdated equal to or below the returned cursor is not seen; servers that assign lastUpdated at commit
   * time do not produce that case. The scheduled poller (poller.ts) keeps its cursor in PostgreSQL and covers
   * those cases (`ge` with the boundary's versions remembered, a settle time); this is the one-shot form.
   */
  async pollChanges<T extends Resource = Resource>(
    type: T['resourceType'],
    cursor: string | undefined,
    handle: (resource: T) => Promise<void>,
    params?: SearchParams,
    signal?: AbortSignal,
  ): Promise<string | undefined> {
    const query = new URLSearchParams([...entries(params)]);
    if (cursor) query.set('_lastUpdated', `gt${cursor}`);
    if (!query.has('_sort')) query.set('_sort', '_lastUpdated');
    let newest = cursor;
    for await (const resource of this.search<T>(type, query, signal)) {
      await handle(resource);
      const updated = resource.meta?.lastUpdated;
      if (updated && (newest === undefined || Date.parse(updated) > Date.parse(newest))) newest = updated;
    }
    return newest;
  }

  /**
   * `PUT [base]/[type]/[id]` (http.html "update"). With `ifMatch` (the versionId read before), the write
   * applies only to that version: `If-Match: W/"<versionId>"` (http.html "Managing Resource Contention"),
   * and a 409/412 is a FhirVersionConflictError. A timeout after the request left is ambiguous: read the
   * resource to see whether the change landed before writing again.
   */
  async update<T extends Resource>(resource: T, options: { ifMatch?: string; signal?: AbortSignal } = {}): Promise<UpdateResult<T>> {
    if (!resource.id) throw permanentError(`cannot update a ${resource.resourceType} without an id`, { code: 'fhir_no_id', where: { field: `${resource.resourceType}.id` } });
    const headers: Record<string, string> = { 'content-type': FHIR_JSON, prefer: 'return=representation' };
    if (options.ifMatch !== undefined) headers['if-match'] = `W/"${options.ifMatch}"`;
    const response = await this.request('PUT', this.resourceUrl(resource.resourceType, resource.id), `update ${resource.resourceType}/${resource.id}`, {
      body: JSON.stringify(resource),
      headers,
      signal: options.signal,
    });
    const text = await response.text();
    const stored = text.trim() ? (JSON.parse(text) as T) : resource;
    return { resource: stored, versionId: stored.meta?.versionId ?? versionFromETag(response.headers.get('etag')) };
  }

  /**
   * `POST [base]/[type]` (http.html "create"). With `ifNoneExist` it is a conditional create (http.html
   * "Conditional create"): the server searches with those parameters first; no match → 201 and the new
   * resource; one match → 200 and nothing created; several → 412 (the criteria were not selective enough,
   * a FhirVersionConflictError the caller should treat as permanent). A 200 without a body (servers may
   * answer return=minimal) is completed by searching with the same parameters.
   */
  async create<T extends Resource>(resource: T, options: { ifNoneExist?: SearchParams; signal?: AbortSignal } = {}): Promise<CreateResult<T>> {
    const type = resource.resourceType;
    const headers: Record<string, string> = { 'content-type': FHIR_JSON, prefer: 'return=representation' };
    const condition = options.ifNoneExist === undefined ? undefined : new URLSearchParams([...entries(options.ifNoneExist)]);
    if (condition) headers['if-none-exist'] = condition.toString();
    const response = await this.request('POST', this.typeUrl(type), `create ${type}`, { body: JSON.stringify(resource), headers, signal: options.signal });
    const created = response.status === 201;
    const text = await response.text();
    let stored = text.trim() ? (JSON.parse(text) as T) : undefined;
    if (stored?.resourceType !== type) stored = undefined;
    if (!stored && !created && condition) {
      for await (const match of this.search<T>(type, condition, options.signal)) {
        stored = match;
        break;
      }
    }
    stored ??= { ...resource, id: idFromLocation(response.headers.get('location'), type) ?? resource.id } as T;
    return { resource: stored, created, versionId: stored.meta?.versionId ?? versionFromETag(response.headers.get('etag')) };
  }

  private resourceUrl(type: string, id: string): URL {
    if (!ID.test(id)) throw permanentError(`${JSON.stringify(id)} is not a FHIR id`, { code: 'fhir_bad_id', where: { field: `${type}.id` } });
    return new URL(`${encodeURIComponent(id)}`, `${this.typeUrl(type).href}/`);
  }

  private typeUrl(type: string): URL {
    if (!RESOURCE_TYPE.test(type)) throw permanentError(`${JSON.stringify(type)} is not a FHIR resource type`, { code: 'fhir_bad_type' });
    return new URL(type, this.base);
  }

  /**
   * The next page's URL. Servers write it as an absolute URL that may carry an opaque page token on another
   * path (search.html "Paging"), but it must stay on the server's origin: our credentials go with it.
   */
  private nextPage(bundle: Bundle): URL | undefined {
    const next = bundle.link?.find((link) => link.relation === 'next')?.url;
    if (!next) return undefined;
    const url = new URL(next, this.base);
    if (url.origin !== this.base.origin) {
      throw permanentError(`the server's next page link leaves its origin (${url.origin}); not followed with our credentials`, { code: 'fhir_foreign_next_link' });
    }
    return url;
  }

  private async request(method: 'GET' | 'PUT' | 'POST', url: URL, what: string, init: { body?: string; headers?: Record<string, string>; signal?: AbortSignal | undefined }): Promise<Response> {
    let response = await this.send(method, url, what, init);
    if (response.status === 401 && this.auth) {
      // The token may have been revoked or expired early: one new token, one more try (401 means not processed).
      await response.body?.cancel();
      this.auth.invalidate();
      response = await this.send(method, url, what, init);
    }
    if (response.ok) return response;
    const text = await response.text().catch(() => '');
    throw fhirResponseError(response.status, text, response.headers.get('retry-after'), what);
  }

  private async send(method: 'GET' | 'PUT' | 'POST', url: URL, what: string, init: { body?: string; headers?: Record<string, string>; signal?: AbortSignal | undefined }): Promise<Response> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    const headers: Record<string, string> = { accept: ACCEPT, ...init.headers };
    if (this.auth) headers.authorization = await this.auth.authorization(signal);
    if (this.correlationId) headers['x-correlation-id'] = this.correlationId;
    try {
      return await this.doFetch(url, { method, headers, signal, ...(init.body === undefined ? {} : { body: init.body }) });
    } catch (error) {
      // A read changes nothing, so an unanswered read is simply transient; an unanswered write may have
      // been applied (DESIGN.md principle 3: ambiguous, check the receiver before retrying).
      const classified = classifyNetworkError(error, method !== 'GET' && !isConnectFailure(error));
      throw new CarelaneError(classified.failureClass, `FHIR ${what}: ${classified.message}`, {
        code: classified.code,
        peerUnavailable: classified.peerUnavailable,
        cause: error,
      });
    }
  }
}

function* entries(params: SearchParams | undefined): Generator<[string, string]> {
  if (!params) return;
  if (params instanceof URLSearchParams) {
    yield* params.entries();
    return;
  }
  for (const [name, value] of Object.entries(params)) {
    // A repeated parameter is AND, a comma-separated value is OR (search.html "Composite ... AND/OR").
    if (Array.isArray(value)) for (const one of value as ReadonlyArray<string | number>) yield [name, String(one)];
    else yield [name, String(value)];
  }
}

function isConnectFailure(error: unknown): boolean {
  const code = (error as { cause?: { code?: string } }).cause?.code;
  return code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'UND_ERR_CONNECT_TIMEOUT';
}

/** `[base]/Task/123/_history/1` → `123` (http.html: Location of a create names the new resource's version). */
function idFromLocation(location: string | null, type: string): string | undefined {
  const match = location?.match(new RegExp(`(?:^|/)${type}/([A-Za-z0-9\\-.]{1,64})(?:/_history/|$)`));
  return match?.[1];
}

/** `W/"3"` → `3` (http.html: the ETag carries the versionId as a weak tag). */
export function versionFromETag(etag: string | null): string | undefined {
  const match = etag?.match(/^(?:W\/)?"([^"]+)"$/);
  return match?.[1];
}
