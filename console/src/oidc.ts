// Sign-in through the organisation's identity provider: OAuth 2.0 authorization code flow (RFC 6749 §4.1) with
// PKCE (RFC 7636, S256) as a public client, OpenID Connect on top. This tab makes the verifier, state and
// nonce, keeps them in its sessionStorage, and sends the browser to the issuer; when the issuer sends it back
// with ?code=…&state=…, the state must be the one this tab made, and the code goes with the verifier to this
// server (POST /console/oidc/token), which calls the issuer's token endpoint and checks the ID token's nonce.
// The page itself never calls another origin.

export interface LoginOptions {
  enabled: true;
  issuer: string;
  authorizationEndpoint: string;
  clientId: string;
  redirectUri: string | null;
  scope: string;
}

interface SignedIn {
  token: string;
  subject: string;
  role: string;
}

interface PendingSignIn {
  state: string;
  nonce: string;
  verifier: string;
  redirectUri: string;
  /** the console page to come back to (its hash route) */
  returnTo: string;
  startedAt: number;
}

const PENDING_KEY = 'carelane.oidc.pending';
/** an authorization code lives about 10 minutes (RFC 6749 §4.1.2); a sign-in older than that cannot finish */
const PENDING_MAX_AGE_MS = 15 * 60_000;

/** The sign-in the server offers, or undefined when it has none (or says why not). */
export async function loginOptions(): Promise<{ options?: LoginOptions; unavailable?: string }> {
  const response = await fetch('/console/oidc');
  const data = (await response.json().catch(() => ({}))) as { enabled?: boolean; message?: string } & Partial<LoginOptions>;
  if (!response.ok) return { unavailable: data.message ?? `${response.status} ${response.statusText}` };
  return data.enabled ? { options: data as LoginOptions } : {};
}

const base64url = (bytes: Uint8Array): string => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const random = (octets: number): string => base64url(crypto.getRandomValues(new Uint8Array(octets)));

/** Sends the browser to the issuer's authorization endpoint; returns only if it cannot. */
export async function startSignIn(options: LoginOptions): Promise<void> {
  if (!window.isSecureContext || !crypto.subtle) throw new Error('Sign-in needs this page over HTTPS (or on localhost): the browser only computes the PKCE challenge in a secure context.');
  // RFC 7636 §4.1: 32 random octets, base64url — 43 characters; §4.2: S256 challenge
  const verifier = random(32);
  const challenge = base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
  const pending: PendingSignIn = {
    state: random(16),
    nonce: random(16),
    verifier,
    redirectUri: options.redirectUri ?? `${window.location.origin}/`,
    returnTo: window.location.hash || '#/ops',
    startedAt: Date.now(),
  };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const url = new URL(options.authorizationEndpoint);
  for (const [key, value] of Object.entries({
    response_type: 'code',
    client_id: options.clientId,
    redirect_uri: pending.redirectUri,
    scope: options.scope,
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  })) url.searchParams.set(key, value);
  window.location.assign(url.toString());
}

/** Whether this page load is the issuer sending the browser back (an authorization response, RFC 6749 §4.1.2). */
export function isSignInResponse(): boolean {
  const params = new URLSearchParams(window.location.search);
  return params.has('state') && (params.has('code') || params.has('error'));
}

let completion: Promise<SignedIn> | undefined;

/**
 * Finishes the sign-in this page load is the answer to: once per load (React may run effects twice), the
 * pending request is spent whatever happens, and the code and state leave the address bar.
 */
export function completeSignIn(): Promise<SignedIn> {
  completion ??= finish();
  return completion;
}

async function finish(): Promise<SignedIn> {
  const params = new URLSearchParams(window.location.search);
  const raw = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  const pending = raw ? (JSON.parse(raw) as PendingSignIn) : undefined;
  window.history.replaceState(null, '', `${window.location.pathname}${pending?.returnTo ?? '#/ops'}`);
  if (!pending || params.get('state') !== pending.state) {
    throw new Error('Sign-in refused: the answer from the identity provider does not belong to a sign-in started in this tab (state does not match). Start the sign-in again.');
  }
  if (Date.now() - pending.startedAt > PENDING_MAX_AGE_MS) throw new Error('Sign-in refused: it took too long. Start the sign-in again.');
  const error = params.get('error');
  if (error) {
    const description = params.get('error_description');
    throw new Error(`The identity provider did not sign you in: ${error}${description ? ` (${description})` : ''}.`);
  }
  const response = await fetch('/console/oidc/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code: params.get('code'), codeVerifier: pending.verifier, redirectUri: pending.redirectUri, nonce: pending.nonce }),
  });
  const data = (await response.json().catch(() => ({}))) as Partial<SignedIn> & { message?: string };
  if (!response.ok || !data.token) throw new Error(`Sign-in refused: ${data.message ?? `${response.status} ${response.statusText}`}`);
  return data as SignedIn;
}
