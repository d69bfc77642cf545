import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { parseConfigText } from '../src/config/index.ts';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { OidcLogin, OidcVerifier } from '../src/governance/index.ts';
import { startOidcProvider, type RunningOidcProvider } from '../simulators/oidc/index.ts';
import { ensureConsoleBuilt } from './support/console-build.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

// The console's sign-in through OpenID Connect: authorization code flow with PKCE against the OIDC provider
// simulator (simulators/oidc), first as the browser would drive it by hand (each refusal with its reason), then
// in Debian's chromium: sign in, see the console the role in the token allows, sign out; a forged state, a
// swapped verifier and a cancelled sign-in are refused with a clear message. Screenshots: test-output/console/.

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.join(process.cwd(), 'test-output', 'console');
const CLIENT_ID = 'carelane-console';
const AUDIENCE = 'carelane-api';
const poll = <T>(probe: () => Promise<T> | T) => expect.poll(probe, { timeout: 20_000, interval: 200 });
const base64url = (bytes: Buffer) => bytes.toString('base64url');

describe('console sign-in with OpenID Connect (authorization code + PKCE)', () => {
  let db: TestDatabase;
  let idp: RunningOidcProvider;
  let app: RunningCarelane;
  let base: string;
  const client = { clientId: CLIENT_ID, redirectUris: [] as string[] };

  /** The browser's part by hand: an authorization request, the sign-in form, the redirect back with a code. */
  const authorize = async (sub: string, overrides: Record<string, string> = {}) => {
    const verifier = base64url(randomBytes(32));
    const params = {
      response_type: 'code',
      client_id: CLIENT_ID,
      redirect_uri: `${base}/`,
      scope: 'openid profile',
      state: base64url(randomBytes(16)),
      nonce: base64url(randomBytes(16)),
      code_challenge: base64url(createHash('sha256').update(verifier).digest()),
      code_challenge_method: 'S256',
      ...overrides,
    };
    const page = await fetch(`${idp.issuer}/authorize?${new URLSearchParams(params)}`, { redirect: 'manual' });
    if (page.status === 302) return { verifier, params, back: new URL(page.headers.get('location')!) };
    const request = /name="request" value="([^"]+)"/.exec(await page.text())?.[1];
    const answer = await fetch(`${idp.issuer}/authorize`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ request: request!, sub, action: 'approve' }) });
    return { verifier, params, back: new URL(answer.headers.get('location')!) };
  };
  const exchange = async (body: Record<string, string | null>) => {
    const response = await fetch(`${base}/console/oidc/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as { token?: string; tokenType?: string; role?: string; subject?: string; message?: string }, cache: response.headers.get('cache-control') };
  };

  beforeAll(async () => {
    idp = await startOidcProvider({
      clients: [client],
      apiAudience: AUDIENCE,
      rolesClaim: 'realm_access.roles',
      users: [
        { sub: 'vera', name: 'Vera Viewer', roles: ['offline_access', 'viewer'] },
        { sub: 'otto', name: 'Otto Operator', roles: ['operator'] },
        { sub: 'nils', name: 'Nils Nobody', roles: ['offline_access'] },
      ],
    });
    db = await createTestDatabase(embeddedTarget(), 4);
    const config = parseConfigText(
      `server: { port: 0 }
mllp: { enabled: false }
logging: { level: silent }
auth: { oidc: { issuer: "${idp.issuer}", audience: ${AUDIENCE}, rolesClaim: realm_access.roles, clientId: ${CLIENT_ID} } }
`,
      { DATABASE_URL: db.url, CARELANE_ADMIN_TOKEN: 'oidc-login-admin-token-0123456789' },
    );
    app = await startCarelane({ config, origin: 'test' }, { log: pino({ level: 'silent' }) });
    base = app.httpUrl;
    client.redirectUris.push(`${base}/`); // registered at the provider like any client's redirect URI
    await db.pool.query(`insert into carelane.exceptions (type, classification, status, correlation_id, reason) values ('supplier_delay', 'business', 'open', 'c-late', 'no acknowledgment yet')`);
  }, 120_000);

  afterAll(async () => {
    await app?.stop();
    await idp?.close();
    await db?.drop();
  });

  it('tells the console where to sign in: the discovered authorization endpoint, the client id, openid first', async () => {
    const response = await fetch(`${base}/console/oidc`);
    expect(await response.json()).toEqual({ enabled: true, issuer: idp.issuer, authorizationEndpoint: `${idp.issuer}/authorize`, clientId: CLIENT_ID, redirectUri: null, scope: 'openid profile' });
  });

  it('exchanges a code with its verifier for a bearer the API accepts, with the role from the claim', async () => {
    const { verifier, params, back } = await authorize('otto');
    expect(back.origin + back.pathname).toBe(`${base}/`);
    expect(back.searchParams.get('state')).toBe(params.state);
    const signedIn = await exchange({ code: back.searchParams.get('code'), codeVerifier: verifier, redirectUri: `${base}/`, nonce: params.nonce });
    expect(signedIn.status).toBe(200);
    expect(signedIn.cache).toBe('no-store');
    expect(signedIn.body).toMatchObject({ tokenType: 'access_token', subject: 'otto', role: 'operator' });
    const me = await fetch(`${base}/api/v1/me`, { headers: { authorization: `Bearer ${signedIn.body.token}` } });
    expect(await me.json()).toMatchObject({ kind: 'oidc', name: 'otto', role: 'operator' });
  });

  it('refuses a verifier that does not match the challenge, and the code is spent after it', async () => {
    const { verifier, params, back } = await authorize('otto');
    const code = back.searchParams.get('code');
    const wrong = await exchange({ code, codeVerifier: base64url(randomBytes(32)), redirectUri: `${base}/`, nonce: params.nonce });
    expect(wrong.status).toBe(400);
    expect(wrong.body.message).toBe('the identity provider refused the sign-in: invalid_grant (PKCE verification failed: code_verifier does not match the code_challenge)');
    const again = await exchange({ code, codeVerifier: verifier, redirectUri: `${base}/`, nonce: params.nonce });
    expect(again.body.message).toMatch(/invalid_grant \(the authorization code was already used\)/);
    expect(idp.tokenRequests.slice(-2)).toEqual([
      { status: 400, error: 'invalid_grant' },
      { status: 400, error: 'invalid_grant' },
    ]);
  });

  it('refuses an ID token whose nonce is not the one of the request, a malformed verifier, and a person without a Carelane role', async () => {
    const first = await authorize('otto');
    const nonce = await exchange({ code: first.back.searchParams.get('code'), codeVerifier: first.verifier, redirectUri: `${base}/`, nonce: 'another-sign-in-nonce-0123' });
    expect(nonce).toMatchObject({ status: 400, body: { message: "the ID token is not valid for this sign-in: the ID token's nonce does not match the sign-in request this tab started" } });

    const malformed = await exchange({ code: 'x', codeVerifier: 'short', redirectUri: `${base}/`, nonce: 'another-sign-in-nonce-0123' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.message).toMatch(/codeVerifier/);

    const nobody = await authorize('nils');
    const refused = await exchange({ code: nobody.back.searchParams.get('code'), codeVerifier: nobody.verifier, redirectUri: `${base}/`, nonce: nobody.params.nonce });
    expect(refused.status).toBe(400);
    expect(refused.body.message).toMatch(/^signed in as nils, but the roles claim holds no Carelane role/);
  });

  it('the provider refuses what RFC 6749 / RFC 7636 say it must: no PKCE, plain PKCE, an unregistered redirect URI', async () => {
    const noPkce = await authorize('otto', { code_challenge: '', code_challenge_method: '' });
    expect(Object.fromEntries(noPkce.back.searchParams)).toMatchObject({ error: 'invalid_request', error_description: 'code challenge required', state: noPkce.params.state });
    const plain = await authorize('otto', { code_challenge_method: 'plain' });
    expect(plain.back.searchParams.get('error')).toBe('invalid_request');
    const elsewhere = await fetch(`${idp.issuer}/authorize?${new URLSearchParams({ response_type: 'code', client_id: CLIENT_ID, redirect_uri: 'https://attacker.example/', scope: 'openid', state: 's', code_challenge: 'c', code_challenge_method: 'S256' })}`, { redirect: 'manual' });
    expect(elsewhere.status).toBe(400); // shown, never redirected to
  });

  it('says why sign-in is unavailable: the issuer unreachable, or its discovery document naming another issuer', async () => {
    const unreachable = new OidcLogin({ issuer: 'http://127.0.0.1:9', clientId: CLIENT_ID, scopes: [] }, new OidcVerifier({ issuer: 'http://127.0.0.1:9', audience: AUDIENCE, rolesClaim: 'roles' }));
    await expect(unreachable.options()).rejects.toMatchObject({ status: 502, message: expect.stringMatching(/^sign-in with the identity provider is unavailable: /) });
    // the same provider under another name (localhost for 127.0.0.1): its document says which issuer it is (Discovery §4.3)
    const alias = idp.issuer.replace('127.0.0.1', 'localhost');
    const misnamed = new OidcLogin({ issuer: alias, clientId: CLIENT_ID, scopes: [] }, new OidcVerifier({ issuer: alias, audience: AUDIENCE, rolesClaim: 'roles' }));
    await expect(misnamed.options()).rejects.toMatchObject({ status: 502, message: expect.stringContaining(`names the issuer "${idp.issuer}", not "${alias}"`) });
  });

  describe('in a browser', () => {
    let browser: BrowserContext;
    let page: Page;
    let userDataDir: string;
    const outside: string[] = [];
    const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
    const alert = () => page.getByRole('alert').textContent();

    beforeAll(async () => {
      if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does this)`);
      ensureConsoleBuilt();
      mkdirSync(SHOTS, { recursive: true });
      userDataDir = mkdtempSync(path.join(os.tmpdir(), 'carelane-chromium-'));
      browser = await chromium.launchPersistentContext(userDataDir, {
        executablePath: CHROMIUM,
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
        viewport: { width: 1280, height: 800 },
      });
      page = browser.pages()[0] ?? (await browser.newPage());
      // the console's own requests stay on its origin; the identity provider is only navigated to
      browser.on('request', (request) => {
        const url = request.url();
        if (url.startsWith(base) || url.startsWith('data:')) return;
        if (url.startsWith(idp.issuer) && request.isNavigationRequest()) return;
        outside.push(url);
      });
    }, 60_000);
    afterAll(async () => {
      await browser?.close();
      if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    });

    const signIn = async (account: string) => {
      await page.goto(base);
      await page.getByRole('button', { name: 'Sign in with your organisation account' }).click();
      await page.waitForURL((url) => url.href.startsWith(`${idp.issuer}/authorize`));
      await page.getByLabel(new RegExp(account)).check();
    };

    it('signs a viewer in through the provider and shows the console that role allows; signing out clears the token', { timeout: 90_000 }, async () => {
      await page.goto(base);
      await page.getByRole('button', { name: 'Sign in with your organisation account' }).waitFor();
      await shot('oidc-01-login');
      await signIn('Vera Viewer');
      await shot('oidc-02-provider-sign-in');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Technical view' }).waitFor();
      await poll(() => page.locator('header .who').textContent()).toBe('vera · viewer');
      // the code and state left the address bar
      expect(new URL(page.url()).search).toBe('');
      await page.getByRole('link', { name: 'Exceptions' }).click();
      await poll(() => page.locator('table tbody').textContent()).toContain('read only');
      expect(await page.getByRole('button', { name: /^Replay exception/ }).count()).toBe(0);
      await shot('oidc-03-viewer-exceptions');

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('button', { name: 'Sign in with your organisation account' }).waitFor();
      expect(await page.evaluate('Object.keys(sessionStorage)')).toEqual([]);
      await page.reload();
      await page.getByRole('button', { name: 'Sign in with your organisation account' }).waitFor();
    });

    it('an operator from the same provider gets the actions the role allows', { timeout: 60_000 }, async () => {
      await signIn('Otto Operator');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Technical view' }).waitFor();
      await poll(() => page.locator('header .who').textContent()).toBe('otto · operator');
      await page.getByRole('link', { name: 'Exceptions' }).click();
      await poll(() => page.getByRole('button', { name: /^Replay exception/ }).count()).toBe(1);
      await shot('oidc-04-operator-exceptions');
      await page.getByRole('button', { name: 'Sign out' }).click();
    });

    it('refuses an answer whose state this tab did not make', { timeout: 60_000 }, async () => {
      const before = idp.tokenRequests.length;
      await signIn('Otto Operator');
      // instead of the provider's answer, a forged one arrives (e.g. a link from someone else's sign-in)
      await page.goto(`${base}/?code=stolen-code&state=forged-state`);
      await poll(alert).toMatch(/state does not match/);
      expect(new URL(page.url()).search).toBe('');
      await shot('oidc-05-state-refused');
      // the code never went to the token endpoint
      expect(idp.tokenRequests.length).toBe(before);
    });

    it('refuses a code sent with another verifier than the one its challenge was made from', { timeout: 60_000 }, async () => {
      const before = idp.tokenRequests.length;
      // the relay request goes out with a different verifier, as from someone holding an intercepted code
      await page.route(`${base}/console/oidc/token`, async (route) => {
        const body = JSON.parse(route.request().postData() ?? '{}') as Record<string, string>;
        await route.continue({ postData: JSON.stringify({ ...body, codeVerifier: base64url(randomBytes(32)) }) });
      });
      await signIn('Otto Operator');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await poll(alert).toMatch(/PKCE verification failed/);
      await page.unroute(`${base}/console/oidc/token`);
      expect(idp.tokenRequests.slice(before)).toEqual([{ status: 400, error: 'invalid_grant' }]);
      await shot('oidc-06-verifier-refused');
      expect(await page.getByRole('heading', { name: 'Technical view' }).count()).toBe(0);
    });

    it('says so when the person cancels at the provider', { timeout: 60_000 }, async () => {
      await signIn('Otto Operator');
      await page.getByRole('button', { name: 'Cancel' }).click();
      await poll(alert).toMatch(/did not sign you in: access_denied/);
    });

    it('the page itself made no request to another origin', () => {
      expect(outside).toEqual([]);
    });
  });
});
