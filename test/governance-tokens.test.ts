import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { parseConfigText } from '../src/config/index.ts';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { verifyAuditChain } from '../src/governance/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

const ADMIN = 'admin-token-for-token-api-tests';

describe('token management API', () => {
  let db: TestDatabase;
  let app: RunningCarelane;
  const call = (path: string, token: string, init: { method?: string; body?: unknown } = {}) =>
    fetch(`${app.httpUrl}${path}`, {
      method: init.method ?? 'GET',
      headers: { authorization: `Bearer ${token}`, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });

  beforeAll(async () => {
    db = await createTestDatabase(embeddedTarget(), 3);
    const config = parseConfigText(`server: { port: 0 }\nmllp: { enabled: false }\nlogging: { level: silent }\n`, { DATABASE_URL: db.url, CARELANE_ADMIN_TOKEN: ADMIN });
    app = await startCarelane({ config, origin: 'test' }, { log: pino({ level: 'silent' }) });
  });
  afterAll(async () => {
    await app.stop();
    await db.drop();
  });

  it('creates a token shown once, lists tokens without secrets, revokes it at once, and audits both', async () => {
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    const created = await call('/api/v1/tokens', ADMIN, { method: 'POST', body: { name: 'lab-feed', role: 'system', expiresAt } });
    expect(created.status).toBe(201);
    const { token, ...rest } = (await created.json()) as { token: string; name: string; role: string; expiresAt: string };
    expect(rest).toEqual({ name: 'lab-feed', role: 'system', expiresAt });
    expect(token).toMatch(/^clt_/);
    expect((await call('/api/v1/inbound/lab', token, { method: 'POST', body: { result: 1 } })).status).toBe(202);

    const listing = await call('/api/v1/tokens', ADMIN);
    const text = await listing.text();
    expect(text).not.toContain(token);
    const { rows: hashes } = await db.pool.query<{ token_hash: string }>('select token_hash from carelane.api_tokens');
    for (const { token_hash } of hashes) expect(text).not.toContain(token_hash);
    expect((JSON.parse(text) as { tokens: Array<{ name: string; role: string; revokedAt: string | null }> }).tokens).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'lab-feed', role: 'system', revokedAt: null })]),
    );

    expect((await call('/api/v1/tokens', ADMIN, { method: 'POST', body: { name: 'lab-feed', role: 'viewer' } })).status).toBe(409);
    expect((await call('/api/v1/tokens/lab-feed', ADMIN, { method: 'DELETE' })).status).toBe(204);
    expect((await call('/api/v1/inbound/lab', token, { method: 'POST', body: { result: 2 } })).status).toBe(401);
    expect((await call('/api/v1/tokens/lab-feed', ADMIN, { method: 'DELETE' })).status).toBe(404);

    const { rows } = await db.pool.query(`select actor, action, target_id, detail from carelane.audit_log where target_type = 'api_token' order by id`);
    expect(rows).toEqual([
      { actor: 'token:admin', action: 'token.create', target_id: 'lab-feed', detail: { role: 'system', expiresAt } },
      { actor: 'token:admin', action: 'token.revoke', target_id: 'lab-feed', detail: null },
    ]);
    expect((await verifyAuditChain(db.pool)).ok).toBe(true);
  });

  it('refuses a token once its expiry has passed, and records when a token was last used', async () => {
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const { token } = (await (await call('/api/v1/tokens', ADMIN, { method: 'POST', body: { name: 'short-lived', role: 'viewer', expiresAt } })).json()) as { token: string };
    expect((await call('/api/v1/messages', token)).status).toBe(200);
    const used = (await (await call('/api/v1/tokens', ADMIN)).json()) as { tokens: Array<{ name: string; lastUsedAt: string | null }> };
    expect(used.tokens.find((t) => t.name === 'short-lived')?.lastUsedAt).not.toBeNull();
    // the hour passes
    await db.pool.query(`update carelane.api_tokens set expires_at = now() - interval '1 second' where name = 'short-lived'`);
    const expired = await call('/api/v1/messages', token);
    expect(expired.status).toBe(401);
    expect(expired.headers.get('www-authenticate')).toContain('invalid_token');
  });

  it('refuses unknown roles, expiry in the past, and other roles than admin', async () => {
    expect((await call('/api/v1/tokens', ADMIN, { method: 'POST', body: { name: 'x', role: 'superuser' } })).status).toBe(400);
    expect((await call('/api/v1/tokens', ADMIN, { method: 'POST', body: { name: 'x', role: 'viewer', expiresAt: '2001-01-01T00:00:00Z' } })).status).toBe(400);
    const integrator = (await (await call('/api/v1/tokens', ADMIN, { method: 'POST', body: { name: 'integrator-1', role: 'integrator' } })).json()) as { token: string };
    expect((await call('/api/v1/tokens', integrator.token, { method: 'POST', body: { name: 'escalate', role: 'admin' } })).status).toBe(403);
    expect((await call('/api/v1/tokens', integrator.token)).status).toBe(403);
  });
});
