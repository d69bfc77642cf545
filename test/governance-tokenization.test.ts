import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { parseConfigText } from '../src/config/index.ts';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { createToken, PatientTokenizer, reidentify, UnknownTokenError, verifyAuditChain } from '../src/governance/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

const OLD_SECRET = 'old-tokenization-secret-0123456789abcdef';
const NEW_SECRET = 'new-tokenization-secret-fedcba9876543210';
const ADMIN = 'admin-token-for-tokenization-tests';
const before = new PatientTokenizer([{ id: 'k1', secret: OLD_SECRET }], 'k1');
const after = new PatientTokenizer([{ id: 'k1', secret: OLD_SECRET }, { id: 'k2', secret: NEW_SECRET }], 'k2');

describe('patient tokenization', () => {
  it('gives the same token for the same identifier under the active key, and names the key in it', () => {
    const token = before.tokenFor('MRN-0042');
    expect(token).toMatch(/^ptk_k1_[A-Za-z0-9_-]{43}$/);
    expect(before.tokenFor('MRN-0042')).toBe(token);
    expect(new PatientTokenizer([{ id: 'k1', secret: OLD_SECRET }], 'k1').tokenFor('MRN-0042')).toBe(token);
    expect(before.tokenFor('MRN-0043')).not.toBe(token);
    expect(token).not.toContain('0042');
  });

  it('makes new tokens under the rotated key and links them to the old ones', () => {
    const oldToken = before.tokenFor('MRN-0042');
    const newToken = after.tokenFor('MRN-0042');
    expect(newToken).toMatch(/^ptk_k2_/);
    expect(newToken).not.toBe(oldToken);
    expect(after.equivalentTokens('MRN-0042')).toEqual([newToken, oldToken]);
  });

  it('refuses a configuration whose active key is not among its keys', () => {
    expect(() => new PatientTokenizer([{ id: 'k1', secret: OLD_SECRET }], 'k9')).toThrow(/k9/);
  });

  describe('in the database', () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase(embeddedTarget(), 3);
    });
    afterAll(async () => db.drop());

    it('never stores the identifier in clear, and old tokens still resolve after rotation', async () => {
      const oldToken = await before.tokenize(db.pool, 'MRN-7001');
      const newToken = await after.tokenize(db.pool, 'MRN-7001');
      const { rows } = await db.pool.query<{ token: string; key_id: string; identifier_ciphertext: Buffer }>('select * from carelane.patient_tokens order by created_at');
      expect(rows.map((r) => r.key_id)).toEqual(['k1', 'k2']);
      for (const row of rows) expect(row.identifier_ciphertext.includes(Buffer.from('MRN-7001'))).toBe(false);
      expect(await after.resolve(db.pool, oldToken)).toBe('MRN-7001');
      expect(await after.resolve(db.pool, newToken)).toBe('MRN-7001');
      // a tokenizer that no longer holds the old key cannot resolve old tokens: keys are retired deliberately
      expect(await new PatientTokenizer([{ id: 'k2', secret: NEW_SECRET }], 'k2').resolve(db.pool, oldToken)).toBeUndefined();
    });

    it('does not re-identify a ciphertext moved onto another token', async () => {
      const a = await after.tokenize(db.pool, 'MRN-A');
      const b = await after.tokenize(db.pool, 'MRN-B');
      await db.pool.query('update carelane.patient_tokens set identifier_ciphertext = (select identifier_ciphertext from carelane.patient_tokens where token = $1) where token = $2', [a, b]);
      await expect(reidentify(db.pool, after, { token: b, reason: 'tamper check', actor: 'test' })).rejects.toBeInstanceOf(UnknownTokenError);
    });
  });
});

describe('re-identification API', () => {
  let db: TestDatabase;
  let app: RunningCarelane;
  let integrator: string;
  const reidentifyCall = (body: unknown, token: string) =>
    fetch(`${app.httpUrl}/api/v1/reidentify`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  beforeAll(async () => {
    db = await createTestDatabase(embeddedTarget(), 3);
    const config = parseConfigText(
      [
        'server: { port: 0 }',
        'mllp: { enabled: false }',
        'logging: { level: silent }',
        'governance:',
        '  tokenization:',
        '    keys: [{ id: k1, secret: "${env:PTK_K1}" }, { id: k2, secret: "${env:PTK_K2}" }]',
        '    activeKeyId: k2',
      ].join('\n'),
      { DATABASE_URL: db.url, CARELANE_ADMIN_TOKEN: ADMIN, PTK_K1: OLD_SECRET, PTK_K2: NEW_SECRET },
    );
    app = await startCarelane({ config, origin: 'test' }, { log: pino({ level: 'silent' }) });
    integrator = await createToken(db.pool, 'integrator-1', 'integrator');
  });
  afterAll(async () => {
    await app.stop();
    await db.drop();
  });

  it('re-identifies a token made under a retired active key for an admin, and audits who and why', async () => {
    const oldToken = await before.tokenize(db.pool, 'MRN-9001');
    const answer = await reidentifyCall({ token: oldToken, reason: 'recall of lot L-77: notify patient' }, ADMIN);
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ token: oldToken, identifier: 'MRN-9001' });

    const { rows } = await db.pool.query(`select actor, action, target_id, reason, detail from carelane.audit_log where action = 'phi.reidentify' order by id`);
    expect(rows).toEqual([{ actor: 'token:admin', action: 'phi.reidentify', target_id: oldToken, reason: 'recall of lot L-77: notify patient', detail: { found: true, keyId: 'k1' } }]);
    expect(JSON.stringify(rows)).not.toContain('MRN-9001');
    expect((await verifyAuditChain(db.pool)).ok).toBe(true);
  });

  it('refuses every role without phi:reidentify, and audits attempts on unknown tokens', async () => {
    const token = await app.tokenizer!.tokenize(db.pool, 'MRN-9002');
    const refused = await reidentifyCall({ token, reason: 'curious' }, integrator);
    expect(refused.status).toBe(403);
    expect(await refused.text()).not.toContain('MRN-9002');
    expect((await reidentifyCall({ token, reason: '' }, ADMIN)).status).toBe(400);

    const unknown = app.tokenizer!.tokenFor('MRN-never-seen');
    expect((await reidentifyCall({ token: unknown, reason: 'checking' }, ADMIN)).status).toBe(404);
    const { rows } = await db.pool.query(`select actor, detail from carelane.audit_log where action = 'phi.reidentify' and target_id = $1`, [unknown]);
    expect(rows).toEqual([{ actor: 'token:admin', detail: { found: false, keyId: 'k2' } }]);
    const attemptsByIntegrator = await db.pool.query(`select 1 from carelane.audit_log where actor = 'token:integrator-1'`);
    expect(attemptsByIntegrator.rowCount).toBe(0);
  });
});
