import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import type { Bundle, OperationOutcome, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { validateResource } from '../../src/connectors/fhir/index.ts';
import { parseSearch, runSearch, SearchParameterError } from './search.ts';
import type { ResourceStore } from './store.ts';

/**
 * The FHIR R4 RESTful API of the simulated EHR (FHIR R4 http.html), for the resource types it holds:
 * - `GET [base]/metadata`: a CapabilityStatement (http.html "capabilities").
 * - `GET [base]/[type]/[id]` read, `GET [base]/[type]/[id]/_history/[vid]` vread, with ETag `W/"<versionId>"`
 *   and Last-Modified (http.html "read", "Managing Resource Contention").
 * - `GET [base]/[type]?…` search (search.ts) as a `searchset` Bundle with `total` and paging links; the
 *   matches are kept as a snapshot behind an opaque page token, so paging is stable while resources change
 *   (search.html "Paging": the next link is opaque to the client).
 * - `PUT [base]/[type]/[id]` update, version-aware with `If-Match` (412 when the version is not the current
 *   one; with `requireIfMatch`, 412 when it is missing too), update-as-create for an unknown id (201).
 * - `POST [base]/[type]` create: the server assigns the id (http.html "create": a given id is ignored).
 *   With `If-None-Exist: <search>` it is a conditional create (http.html "Conditional create"): no match →
 *   201; one match → 200 with the existing resource, nothing created; several → 412.
 * Errors are OperationOutcomes with the status codes http.html lists: 400 unparseable or bad parameters,
 * 404 unknown type or id, 405, 412, 422 a resource that fails validation.
 */

export const SERVED_TYPES = ['Patient', 'Location', 'Organization', 'Device', 'SupplyRequest', 'ServiceRequest', 'Appointment', 'Procedure', 'Task', 'SupplyDelivery'] as const;
const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const PAGE_TOKENS_KEPT = 200;

export interface FhirApiOptions {
  store: ResourceStore;
  /** the service base URL as clients see it, e.g. http://127.0.0.1:4321/fhir */
  baseUrl: () => string;
  requireIfMatch?: boolean;
  /** when set, requests need `Authorization: Bearer <token>` */
  bearerToken?: string;
}

interface Snapshot {
  ids: string[];
  type: string;
  self: string;
}

type Reply = { status: number; body?: unknown; headers?: Record<string, string> };

export function fhirApi(options: FhirApiOptions): (req: http.IncomingMessage, body: string) => Reply {
  const snapshots = new Map<string, Snapshot>();
  const served = new Set<string>(SERVED_TYPES);

  return (req, body) => {
    const base = options.baseUrl();
    const url = new URL(req.url ?? '/', base);
    const basePath = new URL(base).pathname.replace(/\/$/, '');
    if (!url.pathname.startsWith(`${basePath}/`) && url.pathname !== basePath) return outcome(404, 'not-found', `not a FHIR endpoint; the base is ${base}`);
    if (options.bearerToken !== undefined && req.headers.authorization !== `Bearer ${options.bearerToken}`) {
      return outcome(401, 'login', 'a valid bearer token is required', {}, { 'www-authenticate': 'Bearer' });
    }
    const parts = url.pathname.slice(basePath.length).split('/').filter(Boolean).map(decodeURIComponent);
    const [type, id, history, versionId] = parts;

    if (parts.length === 0 && url.searchParams.has('_getpages')) return page(url, snapshots, options, base);
    if (type === 'metadata' && parts.length === 1) return req.method === 'GET' ? { status: 200, body: capabilityStatement(options) } : methodNotAllowed('GET');
    if (!type || !served.has(type)) return outcome(404, 'not-supported', `resource type ${JSON.stringify(type ?? '')} is not served here (served: ${SERVED_TYPES.join(', ')})`);

    if (parts.length === 1) {
      if (req.method === 'GET') return search(type, url, req, snapshots, options, base);
      if (req.method === 'POST') return create(type, body, req, options, base);
      return methodNotAllowed('GET, POST');
    }
    if (parts.length === 2) {
      if (req.method === 'GET') return read(options.store.read(type, id!), type, id!, base);
      if (req.method === 'PUT') return update(type, id!, body, req, options, base);
      return methodNotAllowed('GET, PUT');
    }
    if (parts.length === 4 && history === '_history' && req.method === 'GET') return read(options.store.readVersion(type, id!, versionId!), type, `${id}/_history/${versionId}`, base);
    return outcome(404, 'not-found', `no such interaction: ${req.method} ${url.pathname}`);
  };
}

function read(resource: Resource | undefined, type: string, id: string, base: string): Reply {
  if (!resource) return outcome(404, 'not-found', `${type}/${id} is not known`);
  return { status: 200, body: resource, headers: versionHeaders(resource, base) };
}

function search(type: string, url: URL, req: http.IncomingMessage, snapshots: Map<string, Snapshot>, options: FhirApiOptions, base: string): Reply {
  let request;
  try {
    request = parseSearch(url.searchParams);
  } catch (error) {
    if (error instanceof SearchParameterError) return outcome(400, 'invalid', error.message, { expression: error.parameter });
    throw error;
  }
  // search.html "Handling errors": unknown parameters are ignored unless the client asks for strict handling.
  const strict = /handling=strict/.test(String(req.headers.prefer ?? ''));
  if (strict && request.ignored.length > 0) return outcome(400, 'not-supported', `unknown search parameters: ${request.ignored.join(', ')}`);
  const matches = runSearch(options.store.all(type), request);
  const token = randomUUID();
  const self = `${base}/${type}?${request.applied}`;
  snapshots.set(token, { ids: matches.map((r) => r.id!), type, self });
  // Oldest first: a Map iterates in insertion order.
  while (snapshots.size > PAGE_TOKENS_KEPT) snapshots.delete(snapshots.keys().next().value!);
  return { status: 200, body: pageBundle(token, snapshots.get(token)!, 0, request.count, options, base) };
}

function page(url: URL, snapshots: Map<string, Snapshot>, options: FhirApiOptions, base: string): Reply {
  const token = url.searchParams.get('_getpages')!;
  const snapshot = snapshots.get(token);
  // search.html "Paging": a server may expire page links; the client starts its search again.
  if (!snapshot) return outcome(410, 'not-found', 'this search has expired; search again');
  const offset = Number(url.searchParams.get('_getpagesoffset') ?? 0);
  const count = Number(url.searchParams.get('_count') ?? 20);
  if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(count) || count < 1) return outcome(400, 'invalid', 'bad paging parameters');
  return { status: 200, body: pageBundle(token, snapshot, offset, count, options, base) };
}

/** One page; a resource changed since the search shows its current version, as servers that page by id do. */
function pageBundle(token: string, snapshot: Snapshot, offset: number, count: number, options: FhirApiOptions, base: string): Bundle {
  const ids = snapshot.ids.slice(offset, offset + count);
  const link: NonNullable<Bundle['link']> = [{ relation: 'self', url: offset === 0 ? snapshot.self : pageUrl(base, token, offset, count) }];
  if (offset + count < snapshot.ids.length) link.push({ relation: 'next', url: pageUrl(base, token, offset + count, count) });
  if (offset > 0) link.push({ relation: 'previous', url: pageUrl(base, token, Math.max(0, offset - count), count) });
  return {
    resourceType: 'Bundle',
    id: randomUUID(),
    type: 'searchset',
    total: snapshot.ids.length,
    link,
    entry: ids
      .map((id) => options.store.read(snapshot.type, id))
      .filter((resource): resource is Resource => resource !== undefined)
      .map((resource) => ({ fullUrl: `${base}/${resource.resourceType}/${resource.id}`, resource, search: { mode: 'match' as const } })),
  };
}

const pageUrl = (base: string, token: string, offset: number, count: number): string => `${base}?_getpages=${token}&_getpagesoffset=${offset}&_count=${count}`;

function create(type: string, body: string, req: http.IncomingMessage, options: FhirApiOptions, base: string): Reply {
  const parsed = parseResource(body, type);
  if ('status' in parsed) return parsed;
  const condition = req.headers['if-none-exist'];
  if (typeof condition === 'string' && condition.trim()) {
    let request;
    try {
      request = parseSearch(new URLSearchParams(condition.replace(/^[^?]*\?/, '')));
    } catch (error) {
      if (error instanceof SearchParameterError) return outcome(400, 'invalid', `If-None-Exist: ${error.message}`, { expression: error.parameter });
      throw error;
    }
    // An unknown parameter would match everything: refuse it rather than return an unrelated resource.
    if (request.ignored.length > 0) return outcome(400, 'not-supported', `If-None-Exist: unknown search parameters: ${request.ignored.join(', ')}`);
    const matches = runSearch(options.store.all(type), request);
    if (matches.length > 1) return outcome(412, 'duplicate', `If-None-Exist matched ${matches.length} ${type} resources; the criteria are not selective enough`);
    if (matches.length === 1) return { status: 200, body: matches[0], headers: versionHeaders(matches[0]!, base) };
  }
  const { id: _ignored, ...resource } = parsed.resource;
  const { resource: stored } = options.store.put(resource as Resource);
  return { status: 201, body: stored, headers: { ...versionHeaders(stored, base), location: `${base}/${type}/${stored.id}/_history/${stored.meta!.versionId}` } };
}

function update(type: string, id: string, body: string, req: http.IncomingMessage, options: FhirApiOptions, base: string): Reply {
  const parsed = parseResource(body, type);
  if ('status' in parsed) return parsed;
  // http.html "update": the id in the body must be the id in the URL.
  if (parsed.resource.id !== id) return outcome(400, 'invalid', `the resource's id ${JSON.stringify(parsed.resource.id ?? null)} is not the id in the URL (${id})`, { expression: `${type}.id` });
  const current = options.store.read(type, id);
  const ifMatch = req.headers['if-match'];
  if (ifMatch === undefined && options.requireIfMatch) return outcome(412, 'conflict', 'this server requires version-aware updates: send If-Match with the versionId you read');
  if (ifMatch !== undefined) {
    const wanted = /^(?:W\/)?"([^"]+)"$/.exec(ifMatch)?.[1];
    // http.html "Managing Resource Contention": a versionId that is not the current one is 412 Precondition Failed.
    if (!current || wanted !== current.meta?.versionId) {
      return outcome(412, 'conflict', `version ${wanted ?? ifMatch} is not the current version of ${type}/${id} (current: ${current?.meta?.versionId ?? 'none'})`);
    }
  }
  const { resource: stored, kind } = options.store.put(parsed.resource);
  const headers = versionHeaders(stored, base);
  const status = kind === 'create' ? 201 : 200;
  if (kind === 'create') headers.location = `${base}/${type}/${id}/_history/${stored.meta!.versionId}`;
  // http.html "create/update": Prefer return=minimal | representation | OperationOutcome.
  const prefer = String(req.headers.prefer ?? '');
  if (prefer.includes('return=minimal')) return { status, headers };
  if (prefer.includes('return=OperationOutcome')) return { status, headers, body: operationOutcome('information', 'informational', `${type}/${id} stored as version ${stored.meta!.versionId}`) };
  return { status, body: stored, headers };
}

function parseResource(body: string, type: string): { resource: Resource } | Reply {
  let resource: unknown;
  try {
    resource = JSON.parse(body);
  } catch (error) {
    return outcome(400, 'structure', `the body is not JSON: ${(error as Error).message}`);
  }
  const given = (resource as { resourceType?: unknown } | null)?.resourceType;
  if (given !== type) return outcome(400, 'invalid', `the body is a ${JSON.stringify(given ?? null)}, this URL takes ${type}`, { expression: 'resourceType' });
  const issues = validateResource(resource).issues;
  // http.html: 422 Unprocessable Entity when the resource violates FHIR's rules.
  if (issues.length > 0) {
    return {
      status: 422,
      body: { resourceType: 'OperationOutcome', issue: issues.map((i) => ({ severity: 'error', code: i.code === 'required' ? 'required' : 'structure', diagnostics: i.message, expression: [i.path] })) },
    };
  }
  return { resource: resource as Resource };
}

function versionHeaders(resource: Resource, base: string): Record<string, string> {
  return {
    etag: `W/"${resource.meta!.versionId}"`,
    'last-modified': new Date(resource.meta!.lastUpdated!).toUTCString(),
    'content-location': `${base}/${resource.resourceType}/${resource.id}/_history/${resource.meta!.versionId}`,
  };
}

function operationOutcome(severity: OperationOutcomeIssue['severity'], code: OperationOutcomeIssue['code'], diagnostics: string, expression?: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, diagnostics, ...(expression ? { expression: [expression] } : {}) }] };
}

export function outcome(status: number, code: OperationOutcomeIssue['code'], diagnostics: string, at: { expression?: string } = {}, headers: Record<string, string> = {}): Reply {
  return { status, body: operationOutcome(status >= 500 ? 'fatal' : 'error', code, diagnostics, at.expression), headers };
}

const methodNotAllowed = (allow: string): Reply => outcome(405, 'not-supported', `method not allowed here (allowed: ${allow})`, {}, { allow });

function capabilityStatement(options: FhirApiOptions) {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2026-01-01',
    kind: 'instance',
    fhirVersion: '4.0.1',
    format: ['application/fhir+json'],
    software: { name: 'Carelane EHR simulator' },
    implementation: { description: 'A stand-in EHR for tests and demos; all patients are invented', url: options.baseUrl() },
    rest: [
      {
        mode: 'server',
        resource: SERVED_TYPES.map((type) => ({
          type,
          versioning: 'versioned-update',
          readHistory: true,
          updateCreate: true,
          conditionalCreate: true,
          conditionalUpdate: false,
          interaction: ['read', 'vread', 'search-type', 'update', 'create'].map((code) => ({ code })),
          searchParam: [
            { name: '_id', type: 'token' },
            { name: '_lastUpdated', type: 'date' },
            { name: 'status', type: 'token' },
            { name: 'identifier', type: 'token' },
          ],
        })),
      },
    ],
  };
}

export { FHIR_JSON };
export type { Reply };
