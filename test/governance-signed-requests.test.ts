import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { parseConfigText } from '../src/config/index.ts';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { signRequest, verifyAuditChain } from '../src/governance/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

const ADMIN = 'admin-token-for-signing-tests';
const SECRET = 'ehr-shared-signing-secret-0123456789abcdef';

describe('signed inbound requests (HMAC-SHA256 instead of a bearer token)', () => {
  let db: TestDatabase;
  let app: RunningCarelane;

  const send = (path: string, body: string, options: { secret?: string; keyId?: string; timestamp?: number; sentBody?: string; method?: string } = {}) => {
    const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
    const method = options.method ?? 'POST';
    const signature = signRequest(options.secret ?? SECRET, timestamp, method, path, body);
    return fetch(`${app.httpUrl}${path}`, {
      method,
      headers: {
        'content-type': 'application/json',
        'x-message-id': `signed-${Math.random()}`,
        'x-carelane-key-id': options.keyId ?? 'ehr-key-1',
        'x-carelane-timestamp': String(timestamp),
        'x-carelane-signature': signature,
      },
      ...(method === 'GET' ? {} : { body: options.sentBody ?? body }),
    });
  };

  beforeAll(async () => {
    db = await createTestDatabase(embeddedTarget(), 4);
    const config = parseConfigText(
      `server: { port: 0 }\nmllp: { enabled: false }\nlogging: { level: silent }\nauth:\n  signedRequests:\n    keys:\n      - { id: ehr-key-1, secret: '\${env:EHR_SIGNING_SECRET}', sources: [ehr] }\n`,
      { DATABASE_URL: db.url, CARELANE_ADMIN_TOKEN: ADMIN, EHR_SIGNING_SECRET: SECRET },
    );
    app = await startCarelane({ config, origin: 'test' }, { log: pino({ level: 'silent' }) });
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
  });

  it('stores a correctly signed message and audits the key id that signed it', async () => {
    const response = await send('/api/v1/inbound/ehr', '{"order":"SR-2001"}');
    expect(response.status).toBe(202);
    const { messageId } = (await response.json()) as { messageId: number };
    const stored = await db.pool.query('select source, payload from carelane.messages where id = $1', [messageId]);
    expect(stored.rows[0].source).toBe('http:ehr');
    expect(stored.rows[0].payload.toString()).toBe('{"order":"SR-2001"}');
    const { rows } = await db.pool.query(`select actor, action, target_id, detail from carelane.audit_log where action = 'inbound.signed'`);
    expect(rows).toEqual([{ actor: 'key:ehr-key-1', action: 'inbound.signed', target_id: String(messageId), detail: { keyId: 'ehr-key-1', source: 'http:ehr', duplicate: false } }]);
    expect((await verifyAuditChain(db.pool)).ok).toBe(true);
  });

  it('refuses the same signed request a second time (replay)', async () => {
    const timestamp = Math.floor(Date.now() / 1000);
    expect((await send('/api/v1/inbound/ehr', '{"order":"SR-2002"}', { timestamp })).status).toBe(202);
    const again = await send('/api/v1/inbound/ehr', '{"order":"SR-2002"}', { timestamp });
    expect(again.status).toBe(401);
    expect(((await again.json()) as { message: string }).message).toContain('replay');
  });

  it('refuses a tampered body, a wrong secret, an old timestamp, an unknown key and a source the key may not use', async () => {
    const refused = async (response: Promise<Response>) => (await response).status;
    expect(await refused(send('/api/v1/inbound/ehr', '{"qty":1}', { sentBody: '{"qty":100}' }))).toBe(401);
    expect(await refused(send('/api/v1/inbound/ehr', '{"qty":2}', { secret: 'a-different-secret-of-enough-length-000' }))).toBe(401);
    expect(await refused(send('/api/v1/inbound/ehr', '{"qty":3}', { timestamp: Math.floor(Date.now() / 1000) - 301 }))).toBe(401);
    expect(await refused(send('/api/v1/inbound/ehr', '{"qty":4}', { keyId: 'no-such-key' }))).toBe(401);
    expect(await refused(send('/api/v1/inbound/lab', '{"qty":5}'))).toBe(401);
    const { rows } = await db.pool.query(`select count(*)::int as n from carelane.messages where payload::text like '%qty%'`);
    expect(rows[0].n).toBe(0);
  });

  it('accepts a signature only on the inbound route', async () => {
    expect((await send('/api/v1/messages', '', { method: 'GET' })).status).toBe(401);
  });
});
