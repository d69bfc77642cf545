import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import { pino } from 'pino';
import { parseConfigText } from '../src/config/index.ts';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { createToken } from '../src/governance/index.ts';
import { consoleRoutes } from '../src/api/routes/console.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { waitFor } from './support/engine-harness.ts';

// The API routes the console stands on, through a running Carelane: business-key search, PHI masking by role,
// edit-and-replay, the redacted configuration, the operations numbers and the console's static files.

const ADMIN = 'console-api-admin-token-0123456789';
const SIGNING_SECRET = 'console-api-signing-secret-abcdefghijklmnopqrstuvwxyz';
const HL7 = (id: string, code: string) =>
  [
    `MSH|^~\\&|EHR|NORTH|CARELANE|NORTH|20261124101500||ORM^O01^ORM_O01|${id}|P|2.5`,
    'PID|1||MRN-4711^^^NORTH^MR||DOE^JANE^Q||19800101|F|||12 ELM STREET^^SPRINGFIELD',
    'ORC|NW|ORD-1',
    `RQD|1|${code}^Gauze^LOCAL|||2`,
  ].join('\r') + '\r';

describe('console API: search, masking, edit-and-replay, configuration, operations', () => {
  let db: TestDatabase;
  let app: RunningCarelane;
  let operator: string;
  let viewer: string;

  const call = async <T>(token: string, path: string, init: { method?: string; body?: unknown; headers?: Record<string, string>; raw?: string } = {}) => {
    const response = await fetch(`${app.httpUrl}${path}`, {
      method: init.method ?? 'GET',
      headers: { authorization: `Bearer ${token}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : init.raw !== undefined ? { body: init.raw } : {}),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, body: (text.startsWith('{') ? JSON.parse(text) : undefined) as T };
  };
  const ingest = async (id: string, code: string) =>
    (await call<{ messageId: number; correlationId: string }>(ADMIN, '/api/v1/inbound/ehr-north', { method: 'POST', raw: HL7(id, code), headers: { 'content-type': 'application/hl7-v2', 'x-message-type': 'ORM^O01', 'x-message-id': id } })).body;
  const processed = (messageId: number) =>
    waitFor(async () => (await db.pool.query<{ status: string }>('select status from carelane.messages where id = $1', [messageId])).rows[0]?.status === 'processed' || undefined, 20_000, `message ${messageId} processed`);

  beforeAll(async () => {
    db = await createTestDatabase(embeddedTarget(), 4);
    const config = parseConfigText(
      `server: { port: 0 }
mllp: { enabled: false }
logging: { level: silent }
auth:
  signedRequests:
    keys: [{ id: partner, secret: "\${env:SIGNING_SECRET}", sources: [ehr-north] }]
routes: [{ lane: standard, flow: noop }]
`,
      { DATABASE_URL: db.url, CARELANE_ADMIN_TOKEN: ADMIN, SIGNING_SECRET },
    );
    app = await startCarelane({ config, origin: 'test' }, { log: pino({ level: 'silent' }) });
    operator = await createToken(db.pool, 'console-operator', 'operator');
    viewer = await createToken(db.pool, 'console-viewer', 'viewer');
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
  });

  it('finds messages by PO number through the purchase order and the transactions linked to it', async () => {
    const demand = await ingest('MSG-PO-1', 'GAUZE');
    const unrelated = await ingest('MSG-PO-2', 'GAUZE');
    await db.pool.query(
      `insert into carelane.purchase_orders (po_key, correlation_id, site, odoo_connection, vendor_id, name) values ('po-key-1', 'po-corr-1', 'north', 'odoo', 7, 'P00042')`,
    );
    await db.pool.query(`insert into carelane.transaction_links (correlation_id, related_id, relation) values ($1, 'po-corr-1', 'purchase_order')`, [demand.correlationId]);
    const byPo = await call<{ messages: Array<{ id: number }> }>(viewer, '/api/v1/messages?q=P00042');
    expect(byPo.body.messages.map((m) => m.id)).toEqual([demand.messageId]);
    expect((await call<{ messages: Array<{ id: number }> }>(viewer, '/api/v1/messages?q=MSG-PO-2')).body.messages.map((m) => m.id)).toEqual([unrelated.messageId]);
    expect((await call<{ messages: Array<{ id: number }> }>(viewer, `/api/v1/messages?q=${demand.correlationId}`)).body.messages.map((m) => m.id)).toEqual([demand.messageId]);
  });

  it('searches raw payloads only for roles that may read them', async () => {
    const { messageId } = await ingest('MSG-RAW-1', 'LOT-ZX81');
    const admin = await call<{ messages: Array<{ id: number }> }>(ADMIN, '/api/v1/messages?q=LOT-ZX81');
    expect(admin.body.messages.map((m) => m.id)).toEqual([messageId]);
    // a name in the PID segment must not be findable by a role that sees payloads masked
    expect((await call<{ messages: unknown[] }>(operator, '/api/v1/messages?q=DOE%5EJANE')).body.messages).toEqual([]);
    expect((await call<{ messages: unknown[] }>(ADMIN, '/api/v1/messages?q=DOE%5EJANE')).body.messages.length).toBeGreaterThan(0);
  });

  it('shows payloads with PHI masked to roles without messages:read_payload, and refuses them the raw one', async () => {
    const { messageId } = await ingest('MSG-MASK-1', 'GAUZE');
    const masked = await call<{ payload: string; payloadMasking: string }>(operator, `/api/v1/messages/${messageId}?masked=true`);
    expect(masked.status).toBe(200);
    expect(masked.body.payloadMasking).toBe('hl7v2');
    expect(masked.body.payload).toContain('PID|1||***||***||***|***|||***');
    expect(masked.body.payload).toContain('RQD|1|GAUZE^Gauze^LOCAL');
    for (const phi of ['DOE', 'JANE', 'MRN-4711', '19800101', 'ELM STREET']) expect(masked.text).not.toContain(phi);
    expect((await call(operator, `/api/v1/messages/${messageId}?payload=true`)).status).toBe(403);
    expect((await call<{ payload: string }>(ADMIN, `/api/v1/messages/${messageId}?payload=true`)).body.payload).toContain('DOE^JANE');
  });

  it('edit-and-replay stores the correction as a new message in the same transaction, audited, for roles with replay:edit only', async () => {
    const original = await ingest('MSG-EDIT-1', 'WRONG-CODE');
    await processed(original.messageId);
    const corrected = HL7('MSG-EDIT-1', 'GAUZE');
    expect((await call(operator, `/api/v1/messages/${original.messageId}/edit-replay`, { method: 'POST', body: { payload: corrected, reason: 'fix item code' } })).status).toBe(403);

    const edited = await call<{ messageId: number; originalId: number; correlationId: string; routed: boolean }>(ADMIN, `/api/v1/messages/${original.messageId}/edit-replay`, {
      method: 'POST',
      body: { payload: corrected, reason: 'item code WRONG-CODE is GAUZE' },
    });
    expect(edited.status).toBe(201);
    expect(edited.body).toMatchObject({ originalId: original.messageId, correlationId: original.correlationId, routed: true });
    expect(edited.body.messageId).not.toBe(original.messageId);
    await processed(edited.body.messageId);

    const { rows } = await db.pool.query<{ id: string; payload: Buffer; external_id: string }>('select id, payload, external_id from carelane.messages where id = any($1::bigint[]) order by id', [[original.messageId, edited.body.messageId]]);
    expect(rows[0]!.payload.toString()).toContain('WRONG-CODE');
    expect(rows[1]!.payload.toString()).toContain('RQD|1|GAUZE');
    expect(rows[1]!.external_id).toBe('MSG-EDIT-1');
    const stages = await db.pool.query<{ stage: string }>('select stage from carelane.message_stages where message_id = $1', [original.messageId]);
    expect(stages.rows.map((s) => s.stage)).toContain(`edited and replayed as message #${edited.body.messageId} by token:admin`);
    const audit = await db.pool.query<{ actor: string; reason: string; detail: { editedMessageId: number } }>(`select actor, reason, detail from carelane.audit_log where action = 'message.edit_replay' and target_id = $1`, [String(original.messageId)]);
    expect(audit.rows).toEqual([{ actor: 'token:admin', reason: 'item code WRONG-CODE is GAUZE', detail: expect.objectContaining({ editedMessageId: edited.body.messageId }) }]);
    expect(JSON.stringify(audit.rows)).not.toContain('DOE');

    // the same correction again returns the first copy
    const again = await call<{ messageId: number }>(ADMIN, `/api/v1/messages/${original.messageId}/edit-replay`, { method: 'POST', body: { payload: corrected, reason: 'again' } });
    expect(again.body.messageId).toBe(edited.body.messageId);
    const timeline = await call<{ entries: Array<{ kind: string; messageId?: number }> }>(viewer, `/api/v1/transactions/${original.correlationId}`);
    expect(timeline.body.entries.filter((e) => e.kind === 'message').map((e) => e.messageId)).toEqual([original.messageId, edited.body.messageId]);
  });

  it('serves the configuration read-only with secrets redacted, to roles with config:read', async () => {
    const config = await call<{ config: { auth: { signedRequests: { keys: Array<{ secret: string }> }; adminToken: string }; routes: unknown[] } }>(operator, '/api/v1/config');
    expect(config.status).toBe(200);
    expect(config.text).not.toContain(SIGNING_SECRET);
    expect(config.text).not.toContain(ADMIN);
    expect(config.body.config.auth.signedRequests.keys[0]!.secret).toBe('[set]');
    expect(config.body.config.routes).toEqual([{ lane: 'standard', flow: 'noop' }]);
    expect((await call(viewer, '/api/v1/config')).status).toBe(403);
    const me = await call<{ role: string; permissions: string[] }>(viewer, '/api/v1/me');
    expect(me.body.role).toBe('viewer');
    expect(me.body.permissions).toContain('messages:read');
    expect(me.body.permissions).not.toContain('replay:run');
  });

  it('reports steps done per lane and endpoint, queue depth and circuits', async () => {
    const ops = await call<{ deliveries: Array<{ lane: string; endpoint: string; done: number; p50Seconds: number | null }>; queue: unknown[]; circuits: unknown[]; bucketSeconds: number }>(viewer, '/api/v1/operations?minutes=15');
    expect(ops.status).toBe(200);
    expect(ops.body.bucketSeconds).toBe(30);
    const standard = ops.body.deliveries.filter((d) => d.lane === 'standard' && d.endpoint === 'internal');
    const { rows } = await db.pool.query<{ n: number }>(`select count(*)::int as n from carelane.deliveries where status = 'done' and lane = 'standard'`);
    expect(standard.reduce((sum, d) => sum + d.done, 0)).toBe(rows[0]!.n);
    expect(standard.every((d) => d.p50Seconds !== null && d.p50Seconds >= 0)).toBe(true);
  });

  it('serves the console at / with a strict content security policy, and only its own asset files', async () => {
    const page = await fetch(`${app.httpUrl}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await page.text();
    expect(html).toMatch(/<div id="root">|The console is not built/);
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    if (script) expect((await fetch(`${app.httpUrl}${script}`)).headers.get('content-type')).toContain('text/javascript');
    expect((await fetch(`${app.httpUrl}/assets/..%2Fpackage.json`)).status).toBe(404);
    expect((await fetch(`${app.httpUrl}/assets/missing.js`)).status).toBe(404);
  });
});

// The same file serving on a bundle made here: the test above sees whichever console/dist this checkout has
// (or none), so it cannot tell a served bundle from a missing one on its own.
describe('console files: a built bundle and a missing one', () => {
  let dist: string;
  beforeAll(async () => {
    dist = await mkdtemp(path.join(tmpdir(), 'carelane-console-dist-'));
    await mkdir(path.join(dist, 'assets'));
    await writeFile(path.join(dist, 'index.html'), '<!doctype html><div id="root"></div><script type="module" src="/assets/index-abc123.js"></script>');
    await writeFile(path.join(dist, 'assets', 'index-abc123.js'), 'console.log("bundle")');
  });
  afterAll(async () => rm(dist, { recursive: true, force: true }));

  it('serves index.html and its hashed assets with their types, and says when the console is not built', async () => {
    const built = Fastify();
    consoleRoutes(built, dist);
    const page = await built.inject({ url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.body).toContain('<div id="root">');
    const script = await built.inject({ url: '/assets/index-abc123.js' });
    expect(script.statusCode).toBe(200);
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.headers['cache-control']).toContain('immutable');
    expect(script.body).toBe('console.log("bundle")');
    expect((await built.inject({ url: '/assets/other.js' })).statusCode).toBe(404);
    expect((await built.inject({ url: '/assets/..%2Findex.html' })).statusCode).toBe(404);
    await built.close();

    const missing = Fastify();
    consoleRoutes(missing, path.join(dist, 'absent'));
    const notBuilt = await missing.inject({ url: '/' });
    expect(notBuilt.statusCode).toBe(200);
    expect(notBuilt.body).toContain('The console is not built');
    await missing.close();
  });
});
