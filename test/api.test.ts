import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { parseConfigText } from '../src/config/index.ts';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { createToken, verifyAuditChain } from '../src/governance/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { waitFor } from './support/engine-harness.ts';

const ADMIN = 'admin-token-for-tests-only';

describe('HTTP API', () => {
  let db: TestDatabase;
  let app: RunningCarelane;
  let viewer: string;
  let operator: string;
  let system: string;
  const call = (path: string, init: RequestInit & { token?: string | null } = {}) => {
    const { token = ADMIN, ...rest } = init;
    return fetch(`${app.httpUrl}${path}`, { ...rest, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(rest.headers as Record<string, string>) } });
  };
  const post = (path: string, body: unknown, token: string | null = ADMIN) =>
    call(path, { method: 'POST', token, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

  beforeAll(async () => {
    db = await createTestDatabase(embeddedTarget());
    const config = parseConfigText(`server: { port: 0 }\nmllp: { port: 0 }\nengine: { pollIntervalMs: 100 }\nlogging: { level: silent }\n`, {
      DATABASE_URL: db.url,
      CARELANE_ADMIN_TOKEN: ADMIN,
    });
    app = await startCarelane({ config, origin: 'test' }, { log: pino({ level: 'silent' }) });
    viewer = await createToken(db.pool, 'viewer-1', 'viewer');
    operator = await createToken(db.pool, 'operator-1', 'operator');
    system = await createToken(db.pool, 'ehr-feed', 'system');
  });
  afterAll(async () => {
    await app.stop();
    await db.drop();
  });

  it('refuses /api requests without a valid token and checks the role on every route', async () => {
    expect((await call('/api/v1/messages', { token: null })).status).toBe(401);
    expect((await call('/api/v1/messages', { token: 'clt_not-a-real-token' })).status).toBe(401);
    expect((await call('/api/v1/messages', { token: viewer })).status).toBe(200);
    expect((await call('/api/v1/messages', { token: system })).status).toBe(403);
    expect((await post('/api/v1/replay', { messageIds: [1], reason: 'x' }, viewer)).status).toBe(403);
    expect((await post('/api/v1/inbound/ehr', { a: 1 }, viewer)).status).toBe(403);
  });

  it('stores an inbound message before answering 202, runs it through its flow, and answers a duplicate 200', async () => {
    const body = JSON.stringify({ order: 'SR-1001', items: 2 });
    const send = () => call('/api/v1/inbound/ehr', { method: 'POST', token: system, body, headers: { 'content-type': 'application/json', 'x-message-id': 'SR-1001', 'x-message-type': 'SupplyRequest', 'x-correlation-id': 'corr-sr-1001' } });
    const first = await send();
    expect(first.status).toBe(202);
    expect(first.headers.get('x-correlation-id')).toBe('corr-sr-1001');
    const accepted = (await first.json()) as { messageId: number; duplicate: boolean };
    expect(accepted.duplicate).toBe(false);
    const { rows } = await db.pool.query('select source, message_type, external_id, payload from carelane.messages where id = $1', [accepted.messageId]);
    expect(rows[0]).toMatchObject({ source: 'http:ehr', message_type: 'SupplyRequest', external_id: 'SR-1001' });
    expect(rows[0].payload.toString()).toBe(body);

    const detail = await waitFor(async () => {
      const d = (await (await call(`/api/v1/messages/${accepted.messageId}`)).json()) as { status: string; stages: Array<{ stage: string }>; payload: string | null };
      // the acknowledgment is recorded in batches, so it may land after processing has finished
      return d.status === 'processed' && d.stages.some((s) => s.stage === 'acknowledged') ? d : undefined;
    });
    expect(detail.stages.map((s) => s.stage)).toEqual(['acknowledged', 'parsed', 'routed', 'flow.noop: accepted, no effect configured']);
    expect(detail.payload).toBeNull();

    const again = await send();
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ messageId: accepted.messageId, duplicate: true });
    const count = await db.pool.query(`select count(*)::int as n, max(duplicate_count) as d from carelane.messages where external_id = 'SR-1001'`);
    expect(count.rows[0]).toMatchObject({ n: 1, d: 1 });
  });

  it('shows a payload only to a role allowed to read payloads', async () => {
    const { rows } = await db.pool.query(`select id from carelane.messages where external_id = 'SR-1001'`);
    const id = rows[0].id as number;
    expect((await call(`/api/v1/messages/${id}?payload=true`, { token: viewer })).status).toBe(403);
    const shown = (await (await call(`/api/v1/messages/${id}?payload=true`)).json()) as { payload: string };
    expect(JSON.parse(shown.payload)).toEqual({ order: 'SR-1001', items: 2 });
  });

  it('stores an empty body as rejected and answers 400', async () => {
    const response = await call('/api/v1/inbound/ehr', { method: 'POST', token: system, body: '', headers: { 'content-type': 'text/plain' } });
    expect(response.status).toBe(400);
    const { rows } = await db.pool.query(`select status, status_reason from carelane.messages where source = 'http:ehr' and payload_size = 0`);
    expect(rows[0]).toMatchObject({ status: 'rejected', status_reason: 'empty body' });
  });

  it('parks an invalid payload as an exception, and resolving it is audited and tamper-evident', async () => {
    const response = await call('/api/v1/inbound/lab', { method: 'POST', token: system, body: '{"broken": ', headers: { 'content-type': 'application/json', 'x-message-id': 'LAB-1' } });
    expect(response.status).toBe(202);
    const { messageId } = (await response.json()) as { messageId: number };
    const exception = await waitFor(async () => {
      const list = (await (await call('/api/v1/exceptions?status=open', { token: operator })).json()) as { exceptions: Array<{ id: number; messageId: number; classification: string; lastError: string }> };
      return list.exceptions.find((e) => e.messageId === messageId);
    });
    expect(exception.classification).toBe('permanent');
    expect(exception.lastError).toContain('invalid_json');
    const message = (await (await call(`/api/v1/messages/${messageId}`)).json()) as { status: string };
    expect(message.status).toBe('failed');

    expect((await post(`/api/v1/exceptions/${exception.id}/resolve`, { action: 'dismiss', note: 'sender will resend a corrected copy' }, viewer)).status).toBe(403);
    const resolved = await post(`/api/v1/exceptions/${exception.id}/resolve`, { action: 'dismiss', note: 'sender will resend a corrected copy' }, operator);
    expect(resolved.status).toBe(200);
    expect((await post(`/api/v1/exceptions/${exception.id}/resolve`, { action: 'dismiss', note: 'again' }, operator)).status).toBe(409);
    const { rows } = await db.pool.query('select actor, action, reason from carelane.audit_log order by id desc limit 1');
    expect(rows[0]).toEqual({ actor: 'token:operator-1', action: 'exception.dismiss', reason: 'sender will resend a corrected copy' });

    expect((await verifyAuditChain(db.pool)).ok).toBe(true);
    // The table refuses edits (migration 021); someone with the owner's or a superuser's rights can switch the guard
    // off first, and the hash chain still shows what they did.
    await expect(db.pool.query(`update carelane.audit_log set reason = 'edited afterwards' where id = (select max(id) from carelane.audit_log)`)).rejects.toThrow(/append-only/);
    await db.pool.query('alter table carelane.audit_log disable trigger audit_log_append_only');
    await db.pool.query(`update carelane.audit_log set reason = 'edited afterwards' where id = (select max(id) from carelane.audit_log)`);
    await db.pool.query('alter table carelane.audit_log enable trigger audit_log_append_only');
    const broken = await verifyAuditChain(db.pool);
    expect(broken.ok).toBe(false);
    expect(broken.problem).toBe('this entry was altered');
  });

  it('replays: dry run first, refuses a delivered message unless forced, and forcing needs its own permission', async () => {
    const { rows } = await db.pool.query(`select id from carelane.messages where external_id = 'SR-1001'`);
    const id = rows[0].id as number;
    const dryResponse = await post('/api/v1/replay', { messageIds: [id], reason: 'check' });
    const dry = (await dryResponse.json()) as { dryRun: boolean; items: Array<{ decision: string }> };
    expect(dryResponse.status, JSON.stringify(dry)).toBe(200);
    expect(dry.dryRun).toBe(true);
    expect(dry.items[0]!.decision).toBe('refused_already_delivered');

    expect((await post('/api/v1/replay', { messageIds: [id], reason: 'redo', dryRun: false, force: true }, operator)).status).toBe(403);
    const forced = (await (await post('/api/v1/replay', { messageIds: [id], reason: 'supplier lost it', dryRun: false, force: true })).json()) as { requeued: number; replayId: number };
    expect(forced.requeued).toBe(1);
    await waitFor(async () => (await db.pool.query(`select count(*)::int as n from carelane.deliveries where message_id = $1 and action = 'flow.noop' and status = 'done'`, [id])).rows[0].n === 2 || undefined);
    const audit = await db.pool.query(`select actor, action, reason from carelane.audit_log where action = 'replay.forced'`);
    expect(audit.rows).toEqual([{ actor: 'token:admin', action: 'replay.forced', reason: 'supplier lost it' }]);
  });

  it('serves health, readiness, metrics and the OpenAPI document', async () => {
    expect((await call('/healthz', { token: null })).status).toBe(200);
    expect(await (await call('/readyz', { token: null })).json()).toMatchObject({ status: 'ready' });
    const metrics = await (await call('/metrics', { token: null })).text();
    expect(metrics).toMatch(/carelane_messages_received_total\{source="http:ehr",type="SupplyRequest",outcome="accepted"\} 1/);
    expect(metrics).toMatch(/carelane_messages_settled_total\{type="SupplyRequest",lane="standard",outcome="processed"\} [12]/);
    expect(metrics).toMatch(/carelane_messages_settled_total\{type="unknown",lane="standard",outcome="failed"\} 1/);
    expect(metrics).toContain('carelane_queue_depth');
    expect(metrics).toContain('carelane_delivery_latency_seconds_bucket');
    const openapi = (await (await call('/docs/json', { token: null })).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(openapi.paths)).toEqual(expect.arrayContaining(['/api/v1/messages', '/api/v1/messages/{id}', '/api/v1/exceptions', '/api/v1/replay', '/api/v1/inbound/{source}']));
  });
});
