import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../src/config/index.ts';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { createToken } from '../src/governance/index.ts';
import { createLogger } from '../src/observability/logger.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

const ADMIN = 'admin-secret-7f3c9e1b2d4a6f80';
const TOKENIZATION_SECRET = 'tokenization-secret-a1b2c3d4e5f60718293a';
const PER_MINUTE = 20;
const QUERY_KEY_VALUE = 'query-key-5b7d9f1a3c';
const HEADER_TOKEN_VALUE = 'header-token-0e2c4a6b8d';

describe('API hardening', () => {
  let db: TestDatabase;
  let app: RunningCarelane;
  const logLines: string[] = [];
  const call = (path: string, token: string | null, init: { method?: string; body?: unknown } = {}) =>
    fetch(`${app.httpUrl}${path}`, {
      method: init.method ?? 'GET',
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });

  beforeAll(async () => {
    db = await createTestDatabase(embeddedTarget(), 3);
    const config = parseConfigText(
      [
        'server: { port: 0 }',
        'mllp: { enabled: false }',
        `auth: { adminToken: "\${env:ADMIN_SECRET}", rateLimit: { perMinute: ${PER_MINUTE} } }`,
        'governance: { tokenization: { keys: [{ id: k1, secret: "${env:PTK_SECRET}" }], activeKeyId: k1 } }',
        // a secret under keys that do not look secret: shown as its reference, never its value
        'endpoints: { partner-api: { url: "https://partner.example/orders?key=${env:QUERY_KEY}", headers: { Authorization: "Bearer ${env:HEADER_TOKEN}" } } }',
      ].join('\n'),
      { DATABASE_URL: db.url, ADMIN_SECRET: ADMIN, PTK_SECRET: TOKENIZATION_SECRET, QUERY_KEY: QUERY_KEY_VALUE, HEADER_TOKEN: HEADER_TOKEN_VALUE },
    );
    // the real logger (with its redaction), at the most talkative level, writing into an array
    const log = createLogger('trace', { write: (line: string) => void logLines.push(line) });
    app = await startCarelane({ config, origin: 'test' }, { log });
  });
  afterAll(async () => {
    await app.stop();
    await db.drop();
  });

  it('sends the security headers on every answer, errors and non-API routes included', async () => {
    for (const response of [await call('/api/v1/messages', ADMIN), await call('/api/v1/messages', null), await call('/nowhere', null), await call('/healthz', null)]) {
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('content-security-policy')).toBe("frame-ancestors 'none'");
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    }
  });

  it('limits each token to its rate and answers 429 with Retry-After, without slowing other tokens', async () => {
    const busy = await createToken(db.pool, 'busy-client', 'viewer');
    const statuses: number[] = [];
    for (let i = 0; i < PER_MINUTE + 1; i += 1) statuses.push((await call('/api/v1/messages', busy)).status);
    expect(statuses.slice(0, PER_MINUTE).every((status) => status === 200)).toBe(true);
    const limited = await call('/api/v1/messages', busy);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const calm = await createToken(db.pool, 'calm-client', 'viewer');
    expect((await call('/api/v1/messages', calm)).status).toBe(200);
  });

  it('refuses a body over the limit with 413 (1 MiB for API calls), and an unauthenticated one with 401 before reading it', async () => {
    const big = { name: 'x'.repeat(1024 * 1024 + 1), role: 'viewer' };
    const tooLarge = await call('/api/v1/tokens', ADMIN, { method: 'POST', body: big });
    expect(tooLarge.status).toBe(413);
    expect(await tooLarge.json()).toMatchObject({ error: 'FST_ERR_CTP_BODY_TOO_LARGE' });
    expect((await call('/api/v1/tokens', null, { method: 'POST', body: big })).status).toBe(401);
    // just under the limit the body is read, and refused for what it says
    expect((await call('/api/v1/tokens', ADMIN, { method: 'POST', body: { name: 'y'.repeat(1000 * 1000), role: 'viewer' } })).status).toBe(400);
  });

  it('exports the running configuration without any secret: secret-named keys as [set], other references as written', async () => {
    const exported = await call('/api/v1/config', ADMIN);
    expect(exported.status).toBe(200);
    const text = await exported.text();
    for (const secret of [ADMIN, TOKENIZATION_SECRET, QUERY_KEY_VALUE, HEADER_TOKEN_VALUE]) expect(text).not.toContain(secret);
    const { config } = JSON.parse(text) as { config: { endpoints: Record<string, { url: string; headers: Record<string, string> }>; auth: { adminToken: string } } };
    expect(config.endpoints['partner-api']).toMatchObject({ url: 'https://partner.example/orders?key=${env:QUERY_KEY}', headers: { Authorization: 'Bearer ${env:HEADER_TOKEN}' } });
    expect(config.auth.adminToken).toBe('[set]');
  });

  it('never writes configured secrets, issued tokens or re-identified identifiers to the log', async () => {
    const created = (await (await call('/api/v1/tokens', ADMIN, { method: 'POST', body: { name: 'feed-2', role: 'system' } })).json()) as { token: string };
    await call('/api/v1/inbound/ehr', created.token, { method: 'POST', body: { patient: 'MRN-SECRET-1' } });
    await call('/api/v1/messages', `${ADMIN}-wrong`);
    const patientToken = await app.tokenizer!.tokenize(db.pool, 'MRN-SECRET-2');
    expect((await call('/api/v1/reidentify', ADMIN, { method: 'POST', body: { token: patientToken, reason: 'log test' } })).status).toBe(200);
    await call('/api/v1/messages/999999?payload=true', ADMIN);

    expect(logLines.length).toBeGreaterThan(5); // the requests above were logged
    const log = logLines.join('');
    for (const secret of [ADMIN, TOKENIZATION_SECRET, QUERY_KEY_VALUE, HEADER_TOKEN_VALUE, created.token, 'MRN-SECRET-1', 'MRN-SECRET-2']) expect(log).not.toContain(secret);
  });
});

describe('showing the configuration', () => {
  it('hides every secret-named value and URL credentials', async () => {
    const { redactedConfig } = await import('../src/config/index.ts');
    const config = parseConfigText(
      'database: { url: "${env:DB}" }\nauth: { adminToken: "${env:ADMIN_SECRET}" }\ngovernance: { tokenization: { keys: [{ id: k1, secret: "${env:PTK_SECRET}" }], activeKeyId: k1 } }\n',
      { DB: 'postgres://carelane:db-password-123@db.example/carelane', ADMIN_SECRET: ADMIN, PTK_SECRET: TOKENIZATION_SECRET },
    );
    const shown = JSON.stringify(redactedConfig(config));
    for (const secret of [ADMIN, TOKENIZATION_SECRET, 'db-password-123']) expect(shown).not.toContain(secret);
    expect(shown).toContain('"activeKeyId":"k1"');
    expect(shown).toContain('"url":"${env:DB}"');
  });

  it('hides a referenced value in a copy of the configuration too', async () => {
    const { redactedConfig } = await import('../src/config/index.ts');
    const config = parseConfigText('endpoints: { hook: { url: "https://hook.example/${env:HOOK_PATH}" } }\n', { HOOK_PATH: 'hook-path-secret-77' });
    const copy = structuredClone(config);
    expect(copy.endpoints.hook!.url).toBe('https://hook.example/hook-path-secret-77');
    expect(JSON.stringify(redactedConfig(copy))).toContain('https://hook.example/${env:HOOK_PATH}');
  });
});
