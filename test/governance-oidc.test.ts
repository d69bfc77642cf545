import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { parseConfigText } from '../src/config/index.ts';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { OidcVerifier } from '../src/governance/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

// A stand-in identity provider on 127.0.0.1: its discovery document and JWKS, with keys made by jose.

const AUDIENCE = 'carelane-api';

describe('OpenID Connect bearer tokens', () => {
  let idp: Server;
  let issuer: string;
  let signingKey: CryptoKey;
  let strangerKey: CryptoKey;
  let jwks: { keys: JWK[] };
  let db: TestDatabase;
  let app: RunningCarelane;

  const jwt = (claims: Record<string, unknown>, options: { key?: CryptoKey; kid?: string; audience?: string; expiresAt?: number } = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: options.kid ?? 'idp-key-1' })
      .setIssuer(issuer)
      .setSubject('jdoe@hospital.example')
      .setAudience(options.audience ?? AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(options.expiresAt ?? Math.floor(Date.now() / 1000) + 300)
      .sign(options.key ?? signingKey);
  const get = async (path: string, token: string) => (await fetch(`${app.httpUrl}${path}`, { headers: { authorization: `Bearer ${token}` } })).status;

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    signingKey = pair.privateKey;
    ({ privateKey: strangerKey } = await generateKeyPair('ES256'));
    const publicJwk = await exportJWK(pair.publicKey); // the provider publishes the public half only
    jwks = { keys: [{ ...publicJwk, kid: 'idp-key-1', alg: 'ES256', use: 'sig' }] };
    idp = createServer((request, response) => {
      response.setHeader('content-type', 'application/json');
      if (request.url === '/.well-known/openid-configuration') response.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
      else if (request.url === '/jwks') response.end(JSON.stringify(jwks));
      else response.writeHead(404).end('{}');
    });
    await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
    issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;

    db = await createTestDatabase(embeddedTarget(), 3);
    const config = parseConfigText(
      `server: { port: 0 }\nmllp: { enabled: false }\nlogging: { level: silent }\nauth: { oidc: { issuer: "${issuer}", audience: ${AUDIENCE}, jwksUrl: "${issuer}/jwks" } }\n`,
      { DATABASE_URL: db.url, CARELANE_ADMIN_TOKEN: 'admin-token-for-oidc-tests' },
    );
    app = await startCarelane({ config, origin: 'test' }, { log: pino({ level: 'silent' }) });
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
    idp?.close();
  });

  it('lets a person in with the permissions of the first known role in the roles claim', async () => {
    const viewer = await jwt({ roles: ['nurse', 'viewer'] });
    expect(await get('/api/v1/messages', viewer)).toBe(200);
    expect(await get('/api/v1/tokens', viewer)).toBe(403);
    const admin = await jwt({ roles: ['admin'] });
    expect(await get('/api/v1/tokens', admin)).toBe(200);
    // a valid token with no role Carelane knows may do nothing
    expect(await get('/api/v1/messages', await jwt({ roles: ['nurse'] }))).toBe(403);
  });

  it('records the person as the actor of audited actions', async () => {
    const admin = await jwt({ roles: ['admin'] });
    const created = await fetch(`${app.httpUrl}/api/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'made-by-a-person', role: 'viewer' }),
    });
    expect(created.status).toBe(201);
    const { rows } = await db.pool.query(`select actor from carelane.audit_log where action = 'token.create' and target_id = 'made-by-a-person'`);
    expect(rows).toEqual([{ actor: 'oidc:jdoe@hospital.example' }]);
  });

  it('refuses with 401 a token for another audience, an expired one, or one signed by an unknown key', async () => {
    expect(await get('/api/v1/messages', await jwt({ roles: ['admin'] }, { audience: 'another-app' }))).toBe(401);
    expect(await get('/api/v1/messages', await jwt({ roles: ['admin'] }, { expiresAt: Math.floor(Date.now() / 1000) - 3600 }))).toBe(401);
    expect(await get('/api/v1/messages', await jwt({ roles: ['admin'] }, { key: strangerKey, kid: 'stranger' }))).toBe(401);
    expect(await get('/api/v1/messages', await jwt({ roles: ['admin'] }, { key: strangerKey }))).toBe(401);
  });

  it('still accepts API tokens alongside OIDC', async () => {
    expect(await get('/api/v1/messages', 'admin-token-for-oidc-tests')).toBe(200);
  });

  it('finds the JWKS through the discovery document when no jwksUrl is configured, and reads nested role claims', async () => {
    const verifier = new OidcVerifier({ issuer, audience: AUDIENCE, rolesClaim: 'realm_access.roles' });
    expect(await verifier.verify(await jwt({ realm_access: { roles: ['offline_access', 'operator'] } }))).toEqual({ subject: 'jdoe@hospital.example', role: 'operator' });
  });
});
