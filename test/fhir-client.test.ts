import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SupplyRequest } from '@medplum/fhirtypes';
import { exportJWK, generateKeyPair, jwtVerify, type CryptoKey } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CarelaneError } from '../src/contracts/errors.ts';
import { FhirClient, FhirRequestError, FhirVersionConflictError, smartBackendServices, staticBearerToken } from '../src/connectors/fhir/index.ts';

// A small FHIR R4 server on a real socket: just enough of http.html and search.html to exercise the client.

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

const TOKEN = 'static-token-1';
const supply = (id: string, lastUpdated: string, versionId = '1'): SupplyRequest => ({
  resourceType: 'SupplyRequest',
  id,
  meta: { versionId, lastUpdated },
  status: 'active',
  itemCodeableConcept: { text: 'gloves' },
  quantity: { value: 1 },
});

let server: http.Server;
let base: string;
let seen: Seen[] = [];
let acceptedTokens = new Set<string>([TOKEN]);
let publicKey: CryptoKey;
let privateKey: CryptoKey;
let tokenRequests = 0;
let taskVersion = 1;

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/fhir+json', ...headers }).end(JSON.stringify(body));
}
const outcome = (code: string, diagnostics: string, expression?: string) => ({
  resourceType: 'OperationOutcome',
  issue: [{ severity: 'error', code, diagnostics, ...(expression ? { expression: [expression] } : {}) }],
});

async function handle(req: http.IncomingMessage, res: http.ServerResponse, body: string): Promise<void> {
  const url = new URL(req.url ?? '/', base);
  seen.push({ method: req.method ?? '', url: url.pathname + url.search, headers: req.headers });
  if (url.pathname === '/auth/token') return token(body, res);
  if (!acceptedTokens.has((req.headers.authorization ?? '').replace(/^Bearer /, ''))) return send(res, 401, outcome('login', 'no valid token'));
  const path = url.pathname.replace(/^\/fhir\//, '');
  if (path === 'SupplyRequest' && req.method === 'GET') {
    const page = Number(url.searchParams.get('_page') ?? '1');
    const since = url.searchParams.get('_lastUpdated');
    const all = [1, 2, 3, 4, 5, 6, 7].map((n) => supply(`sr-${n}`, `2025-03-0${n}T10:00:00.000Z`));
    const matching = since ? all.filter((r) => r.meta!.lastUpdated! > since.slice(2)) : all;
    const pageItems = matching.slice((page - 1) * 3, page * 3);
    const next = page * 3 < matching.length ? [{ relation: 'next', url: `${base}/fhir/SupplyRequest?_page=${page + 1}${since ? `&_lastUpdated=${since}` : ''}` }] : [];
    return send(res, 200, {
      resourceType: 'Bundle',
      type: 'searchset',
      link: [{ relation: 'self', url: url.href }, ...next],
      entry: [
        ...pageItems.map((r) => ({ fullUrl: `${base}/fhir/SupplyRequest/${r.id}`, resource: r, search: { mode: 'match' } })),
        ...(page === 1 ? [{ resource: { resourceType: 'Location', id: 'or-1', status: 'active' }, search: { mode: 'include' } }] : []),
      ],
    });
  }
  if (path === 'SupplyRequest/sr-1') return send(res, 200, supply('sr-1', '2025-03-01T10:00:00.000Z'));
  if (path === 'SupplyRequest/gone') return send(res, 410, outcome('deleted', 'SupplyRequest/gone was deleted'));
  if (path === 'SupplyRequest/busy') return send(res, 503, outcome('transient', 'try later'), { 'retry-after': '7' });
  if (path === 'Device') return send(res, 200, { resourceType: 'Bundle', type: 'searchset', link: [{ relation: 'next', url: 'http://evil.example/steal' }] });
  if (path === 'SupplyRequest/bad' && req.method === 'PUT') {
    return send(res, 422, outcome('required', 'SupplyRequest.quantity: minimum required = 1, but only found 0', 'SupplyRequest.quantity'));
  }
  if (path === 'Task/t-1' && req.method === 'PUT') {
    if (req.headers['if-match'] !== `W/"${taskVersion}"`) return send(res, 412, outcome('conflict', `version ${taskVersion} is current`));
    taskVersion++;
    return send(res, 200, { ...JSON.parse(body), meta: { versionId: String(taskVersion) } }, { etag: `W/"${taskVersion}"` });
  }
  if (path === 'Task/slow' && req.method === 'PUT') return; // never answers: the request has left
  send(res, 404, outcome('not-found', `${path} is not known`));
}

/** The token endpoint of SMART Backend Services, verifying the client's assertion with jose. */
async function token(body: string, res: http.ServerResponse): Promise<void> {
  tokenRequests++;
  const form = new URLSearchParams(body);
  if (form.get('grant_type') !== 'client_credentials' || form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
    return void res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid_request' }));
  }
  try {
    const { payload, protectedHeader } = await jwtVerify(form.get('client_assertion') ?? '', publicKey, {
      issuer: 'carelane',
      subject: 'carelane',
      audience: `${base}/auth/token`,
      algorithms: ['RS384'],
      maxTokenAge: '5m',
    });
    if (protectedHeader.kid !== 'key-1' || !payload.jti || payload.exp! - payload.iat! > 300) throw new Error('bad claims');
  } catch {
    return void res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid_client' }));
  }
  const issued = `smart-${tokenRequests}`;
  acceptedTokens.add(issued);
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: issued, token_type: 'bearer', expires_in: 300, scope: form.get('scope') }));
}

beforeAll(async () => {
  ({ publicKey, privateKey } = await generateKeyPair('RS384', { extractable: true }));
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  seen = [];
});

const client = (timeoutMs?: number) => new FhirClient({ baseUrl: `${base}/fhir`, auth: staticBearerToken(TOKEN), ...(timeoutMs ? { timeoutMs } : {}) });

async function failure(promise: Promise<unknown>): Promise<CarelaneError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof CarelaneError) return error;
    throw error;
  }
  throw new Error('expected a failure');
}

describe('FhirClient', () => {
  it('reads a resource with the bearer token and the FHIR JSON accept header', async () => {
    const resource = await client().read<SupplyRequest>('SupplyRequest', 'sr-1');
    expect(resource).toMatchObject({ resourceType: 'SupplyRequest', id: 'sr-1' });
    expect(seen[0]!.headers).toMatchObject({ authorization: `Bearer ${TOKEN}`, accept: 'application/fhir+json; fhirVersion=4.0' });
  });

  it('follows Bundle.link next across three pages, one page at a time, yielding only matches', async () => {
    const ids: string[] = [];
    const requestsWhenSeen: number[] = [];
    for await (const resource of client().search<SupplyRequest>('SupplyRequest', { status: 'active', _count: 3 })) {
      ids.push(resource.id!);
      requestsWhenSeen.push(seen.length);
    }
    expect(ids).toEqual(['sr-1', 'sr-2', 'sr-3', 'sr-4', 'sr-5', 'sr-6', 'sr-7']);
    expect(requestsWhenSeen).toEqual([1, 1, 1, 2, 2, 2, 3]);
    expect(seen.map((s) => s.url)).toEqual(['/fhir/SupplyRequest?status=active&_count=3', '/fhir/SupplyRequest?_page=2', '/fhir/SupplyRequest?_page=3']);
  });

  it('polls with _lastUpdated=gt<cursor> and returns the greatest lastUpdated as the new cursor', async () => {
    const handled: string[] = [];
    const first = await client().pollChanges<SupplyRequest>('SupplyRequest', undefined, async (r) => void handled.push(r.id!));
    expect(first).toBe('2025-03-07T10:00:00.000Z');
    expect(handled).toHaveLength(7);
    handled.length = 0;
    seen = [];
    const second = await client().pollChanges<SupplyRequest>('SupplyRequest', '2025-03-05T10:00:00.000Z', async (r) => void handled.push(r.id!));
    expect(seen[0]!.url).toBe('/fhir/SupplyRequest?_lastUpdated=gt2025-03-05T10%3A00%3A00.000Z&_sort=_lastUpdated');
    expect(handled).toEqual(['sr-6', 'sr-7']);
    expect(second).toBe('2025-03-07T10:00:00.000Z');
    expect(await client().pollChanges('SupplyRequest', second, async () => {})).toBe(second);
  });

  it('does not advance the cursor when a handler fails', async () => {
    let cursor: string | undefined = 'unchanged';
    await expect(
      (async () => {
        cursor = await client().pollChanges('SupplyRequest', undefined, async (r) => {
          if (r.id === 'sr-5') throw new Error('handler down');
        });
      })(),
    ).rejects.toThrow('handler down');
    expect(cursor).toBe('unchanged');
  });

  it('updates with If-Match W/"<versionId>", and a stale version is a FhirVersionConflictError (412)', async () => {
    const task = { resourceType: 'Task' as const, id: 't-1', status: 'completed' as const, intent: 'order' as const };
    const updated = await client().update(task, { ifMatch: String(taskVersion) });
    expect(seen[0]!.headers['if-match']).toBe('W/"1"');
    expect(updated.versionId).toBe('2');
    const conflict = await failure(client().update(task, { ifMatch: '1' }));
    expect(conflict).toBeInstanceOf(FhirVersionConflictError);
    expect(conflict).toMatchObject({ failureClass: 'business', code: 'fhir_version_conflict', exceptionType: 'delivery_failed', status: 412 });
    expect((conflict as FhirVersionConflictError).issues[0]).toMatchObject({ code: 'conflict' });
  });

  it('turns an OperationOutcome into an error with its issue codes and expression paths', async () => {
    const error = await failure(client().update({ resourceType: 'SupplyRequest', id: 'bad', status: 'active', itemCodeableConcept: { text: 'x' } } as SupplyRequest));
    expect(error).toBeInstanceOf(FhirRequestError);
    expect(error).toMatchObject({ failureClass: 'permanent', code: 'http_422', where: { field: 'SupplyRequest.quantity' }, status: 422 });
    expect((error as FhirRequestError).issues).toEqual([{ severity: 'error', code: 'required', diagnostics: expect.stringContaining('minimum required'), expression: ['SupplyRequest.quantity'] }]);
    expect(error.message).toContain('[required] SupplyRequest.quantity');
  });

  it('classes 404/410 as permanent and 503 as transient with its Retry-After', async () => {
    expect(await failure(client().read('SupplyRequest', 'nope'))).toMatchObject({ failureClass: 'permanent', code: 'http_404' });
    expect(await failure(client().read('SupplyRequest', 'gone'))).toMatchObject({ failureClass: 'permanent', code: 'http_410' });
    expect(await failure(client().read('SupplyRequest', 'busy'))).toMatchObject({ failureClass: 'transient', retryAfterMs: 7000, peerUnavailable: true });
  });

  it('classes a refused connection as transient and an unanswered write as ambiguous', async () => {
    const closed = new FhirClient({ baseUrl: 'http://127.0.0.1:1/fhir' });
    expect(await failure(closed.read('SupplyRequest', 'x'))).toMatchObject({ failureClass: 'transient', code: 'peer_unavailable' });
    const write = await failure(client(300).update({ resourceType: 'Task', id: 'slow', status: 'completed', intent: 'order' }));
    expect(write).toMatchObject({ failureClass: 'ambiguous', code: 'no_response' });
  });

  it('refuses ids that would change the path and next links that leave the server', async () => {
    expect(await failure(client().read('SupplyRequest', '../Patient/1'))).toMatchObject({ code: 'fhir_bad_id' });
    expect(await failure(client().read('SupplyRequest/x' as 'SupplyRequest', '1'))).toMatchObject({ code: 'fhir_bad_type' });
    const pages = client().searchPages('Device');
    expect((await pages.next()).value).toMatchObject({ resourceType: 'Bundle' });
    expect(await failure(pages.next())).toMatchObject({ code: 'fhir_foreign_next_link' });
  });

  it('gets a token by SMART Backend Services (signed JWT assertion), caches it, and renews after a 401', async () => {
    const auth = smartBackendServices({ tokenUrl: `${base}/auth/token`, clientId: 'carelane', privateKey: await exportJWK(privateKey), keyId: 'key-1', scope: 'system/SupplyRequest.read' });
    const smart = new FhirClient({ baseUrl: `${base}/fhir`, auth });
    tokenRequests = 0;
    await Promise.all([smart.read('SupplyRequest', 'sr-1'), smart.read('SupplyRequest', 'sr-1')]);
    await smart.read('SupplyRequest', 'sr-1');
    expect(tokenRequests).toBe(1);
    expect(seen.filter((s) => s.url.startsWith('/fhir/')).map((s) => s.headers.authorization)).toEqual(['Bearer smart-1', 'Bearer smart-1', 'Bearer smart-1']);
    acceptedTokens.delete('smart-1'); // revoked at the EHR
    await smart.read('SupplyRequest', 'sr-1');
    expect(tokenRequests).toBe(2);
    acceptedTokens = new Set([TOKEN]);
  });

  it('reports a refused SMART registration as permanent', async () => {
    const { privateKey: stranger } = await generateKeyPair('RS384');
    const auth = smartBackendServices({ tokenUrl: `${base}/auth/token`, clientId: 'carelane', privateKey: stranger, keyId: 'key-1', scope: 'system/*.read' });
    const error = await failure(new FhirClient({ baseUrl: `${base}/fhir`, auth }).read('SupplyRequest', 'sr-1'));
    expect(error).toMatchObject({ failureClass: 'permanent', code: 'fhir_token_http_400' });
  });
});
