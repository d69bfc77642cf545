import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';

/**
 * An OpenID Provider stand-in for the console's sign-in (DESIGN.md principle 6: simulators follow the documented
 * behaviour of the system they replace). Only what a public client with PKCE meets:
 * - GET /.well-known/openid-configuration: provider metadata (OpenID Connect Discovery 1.0 §3, §4.2), issuer
 *   identical to the URL it is served under (§4.3).
 * - GET /jwks: the public signing key (RFC 7517), RS256.
 * - GET /authorize: the authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1). An unknown client_id or a
 *   redirect_uri not registered for it is shown as an error page and never redirected to (RFC 6749 §4.1.2.1);
 *   other errors go back to the client as error=… with the state (response_type not code:
 *   unsupported_response_type; scope without openid: invalid_scope; no code_challenge, or a method other than
 *   S256: invalid_request, RFC 7636 §4.4.1). Otherwise it shows a sign-in page (a person picks their account).
 * - POST /authorize (the sign-in page's form): back to redirect_uri with code and state (§4.1.2), or
 *   error=access_denied when the person cancels. A code lives 10 minutes and is single use (§4.1.2).
 * - POST /token (application/x-www-form-urlencoded, RFC 6749 §4.1.3): grant_type authorization_code, the code,
 *   the same redirect_uri and client_id as the authorization request, and code_verifier whose
 *   BASE64URL(SHA256(verifier)) equals the challenge (RFC 7636 §4.6). Errors are JSON error /
 *   error_description with 400 (§5.2): invalid_grant for a wrong, spent or expired code, a redirect_uri that
 *   differs, or a verifier that does not match; a code used twice is refused. Success (§5.1, Cache-Control:
 *   no-store): access_token (a JWT for the API audience carrying the person's roles under `rolesClaim`),
 *   token_type Bearer, expires_in, id_token (OIDC Core §2: iss, sub, aud = client_id, exp, iat, auth_time,
 *   nonce from the request).
 */

export interface OidcUser {
  sub: string;
  name: string;
  roles: string[];
}

export interface OidcProviderOptions {
  host?: string;
  port?: number;
  clients: Array<{ clientId: string; redirectUris: string[] }>;
  users: OidcUser[];
  /** the aud of access tokens (Carelane's auth.oidc.audience) */
  apiAudience: string;
  /** where the roles go in the access token (dotted path, e.g. realm_access.roles); default roles */
  rolesClaim?: string;
  tokenLifetimeSeconds?: number;
}

export interface TokenRequestOutcome {
  status: number;
  error?: string;
}

export interface RunningOidcProvider {
  issuer: string;
  /** every token request and how it was answered, for tests */
  tokenRequests: TokenRequestOutcome[];
  close(): Promise<void>;
}

interface PendingAuthorization {
  clientId: string;
  redirectUri: string;
  state: string | undefined;
  nonce: string | undefined;
  scope: string;
  codeChallenge: string;
}

interface IssuedCode extends PendingAuthorization {
  sub: string;
  expiresAt: number;
  authTime: number;
  used: boolean;
}

const CODE_LIFETIME_MS = 10 * 60_000;
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
const base64url = (bytes: Buffer) => bytes.toString('base64url');
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export async function startOidcProvider(options: OidcProviderOptions): Promise<RunningOidcProvider> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const kid = base64url(randomBytes(8));
  const jwks: { keys: JWK[] } = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }] };
  const pending = new Map<string, PendingAuthorization>();
  const codes = new Map<string, IssuedCode>();
  const tokenRequests: TokenRequestOutcome[] = [];
  let issuer = '';

  const server = http.createServer((request, response) => {
    void handle(request, response).catch((error: Error) => {
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
      response.end(`simulator error: ${error.message}`);
    });
  });

  async function handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', issuer);
    if (request.method === 'GET' && url.pathname === '/.well-known/openid-configuration') {
      return json(response, 200, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        scopes_supported: ['openid', 'profile'],
        grant_types_supported: ['authorization_code'],
        token_endpoint_auth_methods_supported: ['none'],
        code_challenge_methods_supported: ['S256'],
      });
    }
    if (request.method === 'GET' && url.pathname === '/jwks') return json(response, 200, jwks);
    if (request.method === 'GET' && url.pathname === '/authorize') return authorize(url.searchParams, response);
    if (request.method === 'POST' && url.pathname === '/authorize') return signIn(new URLSearchParams(await body(request)), response);
    if (request.method === 'POST' && url.pathname === '/token') return token(request, response);
    return json(response, 404, { error: 'not_found' });
  }

  function authorize(params: URLSearchParams, response: http.ServerResponse): void {
    const clientId = params.get('client_id') ?? '';
    const redirectUri = params.get('redirect_uri') ?? '';
    const client = options.clients.find((c) => c.clientId === clientId);
    // §4.1.2.1: never redirect to an unverified URI
    if (!client) return page(response, 400, 'Sign-in error', `<p>Unknown client_id ${escapeHtml(clientId)}.</p>`);
    if (!client.redirectUris.includes(redirectUri)) return page(response, 400, 'Sign-in error', `<p>redirect_uri ${escapeHtml(redirectUri)} is not registered for ${escapeHtml(clientId)}.</p>`);
    const state = params.get('state') ?? undefined;
    const back = (error: string, description: string) => redirect(response, redirectUri, { error, error_description: description, state });
    if (params.get('response_type') !== 'code') return back('unsupported_response_type', 'only response_type=code is supported');
    const scope = params.get('scope') ?? '';
    if (!scope.split(' ').includes('openid')) return back('invalid_scope', 'an OpenID Connect request must ask for the openid scope');
    const challenge = params.get('code_challenge');
    if (!challenge) return back('invalid_request', 'code challenge required');
    if (params.get('code_challenge_method') !== 'S256') return back('invalid_request', 'transform algorithm not supported (S256 only)');
    const id = base64url(randomBytes(16));
    pending.set(id, { clientId, redirectUri, state, nonce: params.get('nonce') ?? undefined, scope, codeChallenge: challenge });
    const accounts = options.users
      .map((user, index) => `<label><input type="radio" name="sub" value="${escapeHtml(user.sub)}"${index === 0 ? ' checked' : ''}> ${escapeHtml(user.name)} (${escapeHtml(user.sub)})</label>`)
      .join('');
    page(
      response,
      200,
      'Sign in',
      `<form method="post" action="/authorize"><input type="hidden" name="request" value="${id}"><fieldset><legend>Account</legend>${accounts}</fieldset>
       <button type="submit" name="action" value="approve">Sign in</button> <button type="submit" name="action" value="cancel">Cancel</button></form>`,
    );
  }

  function signIn(form: URLSearchParams, response: http.ServerResponse): void {
    const request = pending.get(form.get('request') ?? '');
    if (!request) return page(response, 400, 'Sign-in error', '<p>This sign-in request is unknown or was already used.</p>');
    pending.delete(form.get('request')!);
    if (form.get('action') === 'cancel') return redirect(response, request.redirectUri, { error: 'access_denied', error_description: 'the person cancelled the sign-in', state: request.state });
    const user = options.users.find((u) => u.sub === form.get('sub'));
    if (!user) return page(response, 400, 'Sign-in error', '<p>Unknown account.</p>');
    const code = base64url(randomBytes(24));
    codes.set(code, { ...request, sub: user.sub, expiresAt: Date.now() + CODE_LIFETIME_MS, authTime: Math.floor(Date.now() / 1000), used: false });
    redirect(response, request.redirectUri, { code, state: request.state });
  }

  async function token(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const refuse = (status: number, error: string, description: string) => {
      tokenRequests.push({ status, error });
      json(response, status, { error, error_description: description }, true);
    };
    if (!(request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) return refuse(400, 'invalid_request', 'the body must be application/x-www-form-urlencoded');
    const form = new URLSearchParams(await body(request));
    if (form.get('grant_type') !== 'authorization_code') return refuse(400, 'unsupported_grant_type', 'only authorization_code is supported');
    const clientId = form.get('client_id') ?? '';
    if (!options.clients.some((c) => c.clientId === clientId)) return refuse(401, 'invalid_client', 'unknown client_id');
    const issued = codes.get(form.get('code') ?? '');
    if (!issued || issued.clientId !== clientId) return refuse(400, 'invalid_grant', 'the authorization code is unknown or was issued to another client');
    if (issued.used) return refuse(400, 'invalid_grant', 'the authorization code was already used');
    issued.used = true; // single use, whatever the outcome of this request
    if (issued.expiresAt < Date.now()) return refuse(400, 'invalid_grant', 'the authorization code has expired');
    if (form.get('redirect_uri') !== issued.redirectUri) return refuse(400, 'invalid_grant', 'redirect_uri differs from the authorization request');
    const verifier = form.get('code_verifier') ?? '';
    if (!VERIFIER.test(verifier)) return refuse(400, 'invalid_request', 'code_verifier missing or malformed');
    if (base64url(createHash('sha256').update(verifier, 'ascii').digest()) !== issued.codeChallenge) return refuse(400, 'invalid_grant', 'PKCE verification failed: code_verifier does not match the code_challenge');
    const user = options.users.find((u) => u.sub === issued.sub)!;
    const lifetime = options.tokenLifetimeSeconds ?? 300;
    const now = Math.floor(Date.now() / 1000);
    const sign = (claims: Record<string, unknown>, audience: string) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' }).setIssuer(issuer).setSubject(user.sub).setAudience(audience).setIssuedAt(now).setExpirationTime(now + lifetime).sign(privateKey);
    const accessToken = await sign({ ...nested(options.rolesClaim ?? 'roles', user.roles), scope: issued.scope, client_id: clientId }, options.apiAudience);
    const idToken = await sign({ name: user.name, auth_time: issued.authTime, ...(issued.nonce !== undefined ? { nonce: issued.nonce } : {}) }, clientId);
    tokenRequests.push({ status: 200 });
    json(response, 200, { access_token: accessToken, token_type: 'Bearer', expires_in: lifetime, id_token: idToken, scope: issued.scope }, true);
  }

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  issuer = `http://${options.host ?? '127.0.0.1'}:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    tokenRequests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** { realm_access: { roles } } for 'realm_access.roles'. */
function nested(path: string, value: unknown): Record<string, unknown> {
  return path.split('.').reduceRight<unknown>((inner, key) => ({ [key]: inner }), value) as Record<string, unknown>;
}

function body(request: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function json(response: http.ServerResponse, status: number, value: unknown, noStore = false): void {
  response.writeHead(status, { 'content-type': 'application/json', ...(noStore ? { 'cache-control': 'no-store', pragma: 'no-cache' } : {}) });
  response.end(JSON.stringify(value));
}

function redirect(response: http.ServerResponse, to: string, params: Record<string, string | undefined>): void {
  const url = new URL(to);
  for (const [key, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(key, value);
  response.writeHead(302, { location: url.toString() }).end();
}

function page(response: http.ServerResponse, status: number, title: string, content: string): void {
  response.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
  response.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title} · Identity provider</title></head><body><h1>${title}</h1>${content}</body></html>`);
}
