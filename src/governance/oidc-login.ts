import { discoverOidc, InvalidJwtError, type OidcDiscovery, type OidcVerifier } from './oidc.ts';
import { ROLES } from './rbac.ts';

// The console's sign-in redirect: OAuth 2.0 authorization code flow (RFC 6749 §4.1) with PKCE (RFC 7636, S256)
// as a public client, OpenID Connect Core 1.0 §3.1 on top. The browser makes the code verifier, state and nonce,
// goes to the issuer and checks the state when it comes back; this side only relays the code to the token
// endpoint — so the page never talks to another origin and its Content-Security-Policy stays 'self' — and
// checks the ID token (signature, issuer, audience, nonce) before handing the browser its bearer token. Nothing
// is kept here: the verifier lives in the browser tab until it is spent.

export interface OidcLoginSettings {
  issuer: string;
  clientId: string;
  redirectUri?: string | undefined;
  scopes: string[];
}

export interface LoginOptions {
  issuer: string;
  authorizationEndpoint: string;
  clientId: string;
  /** null: the console's own address */
  redirectUri: string | null;
  /** space-separated, openid first (RFC 6749 §3.3) */
  scope: string;
}

export interface SignedIn {
  /** the bearer token the console sends with every API call */
  token: string;
  /** which of the two the server accepts as the bearer: the access token, else the ID token */
  tokenType: 'access_token' | 'id_token';
  /** seconds, when the provider said */
  expiresIn: number | null;
  subject: string;
  role: string;
}

/** A refused sign-in, with what to tell the person: 400 for what the browser or provider sent, 502 when the provider is unusable. */
export class OidcLoginError extends Error {
  readonly status: 400 | 502;
  constructor(status: 400 | 502, message: string) {
    super(message);
    this.name = 'OidcLoginError';
    this.status = status;
  }
}

/** RFC 7636 §4.1: 43 to 128 unreserved characters. */
export const CODE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

export class OidcLogin {
  private readonly settings: OidcLoginSettings;
  private readonly verifier: OidcVerifier;
  private discovery: Promise<OidcDiscovery> | undefined;

  constructor(settings: OidcLoginSettings, verifier: OidcVerifier) {
    this.settings = settings;
    this.verifier = verifier;
  }

  /** What the console needs to send the browser to the issuer. */
  async options(): Promise<LoginOptions> {
    const discovery = await this.discovered();
    const scopes = ['openid', ...this.settings.scopes.filter((scope) => scope !== 'openid')];
    return {
      issuer: this.settings.issuer,
      authorizationEndpoint: discovery.authorization_endpoint!,
      clientId: this.settings.clientId,
      redirectUri: this.settings.redirectUri ?? null,
      scope: scopes.join(' '),
    };
  }

  /**
   * The token request (RFC 6749 §4.1.3 with RFC 7636 §4.5's code_verifier; a public client sends its client_id
   * and no secret, §3.2.1), then the ID token's checks (OIDC Core §3.1.3.7) and the choice of bearer.
   */
  async exchange(request: { code: string; codeVerifier: string; redirectUri: string; nonce: string }): Promise<SignedIn> {
    if (!CODE_VERIFIER.test(request.codeVerifier)) throw new OidcLoginError(400, 'codeVerifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 §4.1)');
    if (this.settings.redirectUri !== undefined && request.redirectUri !== this.settings.redirectUri) {
      throw new OidcLoginError(400, `redirectUri ${request.redirectUri} is not the configured auth.oidc.redirectUri`);
    }
    const discovery = await this.discovered();
    let response: Response;
    try {
      response = await fetch(discovery.token_endpoint!, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code: request.code, redirect_uri: request.redirectUri, client_id: this.settings.clientId, code_verifier: request.codeVerifier }),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      throw new OidcLoginError(502, `the identity provider's token endpoint could not be reached (${(error as Error).message})`);
    }
    const body = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    if (!response.ok) {
      // RFC 6749 §5.2: error and error_description; invalid_grant covers a wrong, used or expired code and a
      // code_verifier that does not match the challenge (RFC 7636 §4.6)
      if (response.status === 400 || response.status === 401) {
        const error = typeof body?.error === 'string' ? body.error : `HTTP ${response.status}`;
        const description = typeof body?.error_description === 'string' ? ` (${body.error_description})` : '';
        throw new OidcLoginError(400, `the identity provider refused the sign-in: ${error}${description}`);
      }
      throw new OidcLoginError(502, `the identity provider's token endpoint answered ${response.status}`);
    }
    const accessToken = typeof body?.access_token === 'string' ? body.access_token : undefined;
    const idToken = typeof body?.id_token === 'string' ? body.id_token : undefined;
    if (!idToken) throw new OidcLoginError(502, 'the identity provider answered without an ID token (is openid among the scopes the client may ask for?)');
    try {
      await this.verifier.verifyIdToken(idToken, this.settings.clientId, request.nonce);
    } catch (error) {
      if (error instanceof InvalidJwtError) throw new OidcLoginError(400, `the ID token is not valid for this sign-in: ${error.message}`);
      throw error;
    }
    const expiresIn = typeof body?.expires_in === 'number' ? body.expires_in : null;
    return this.bearer(accessToken, idToken, expiresIn);
  }

  /**
   * The access token when the API accepts it (its audience is auth.oidc.audience), else the ID token when the
   * audience is the client id; the same check every API call makes, so a token that passes here works there.
   */
  private async bearer(accessToken: string | undefined, idToken: string, expiresIn: number | null): Promise<SignedIn> {
    const problems: string[] = [];
    let roleless: string | undefined;
    for (const [tokenType, token] of [['access_token', accessToken], ['id_token', idToken]] as const) {
      if (!token) {
        problems.push(`${tokenType}: none`);
        continue;
      }
      try {
        const person = await this.verifier.verify(token);
        if (person.role) return { token, tokenType, expiresIn: tokenType === 'access_token' ? expiresIn : null, subject: person.subject, role: person.role };
        roleless ??= person.subject;
      } catch (error) {
        if (!(error instanceof InvalidJwtError)) throw error;
        problems.push(`${tokenType}: ${error.message}`);
      }
    }
    if (roleless !== undefined) {
      throw new OidcLoginError(400, `signed in as ${roleless}, but the roles claim holds no Carelane role (${ROLES.join(', ')}): ask for one at the identity provider`);
    }
    throw new OidcLoginError(400, `neither token from the identity provider is accepted by this server (auth.oidc.audience must be the access token's audience, or the client id to use the ID token): ${problems.join('; ')}`);
  }

  private discovered(): Promise<OidcDiscovery> {
    this.discovery ??= discoverOidc(this.settings.issuer)
      .then((document) => {
        if (!document.authorization_endpoint || !document.token_endpoint) throw new Error(`the issuer ${this.settings.issuer} publishes no authorization_endpoint or token_endpoint`);
        const methods = document.code_challenge_methods_supported;
        // RFC 8414 §2: absent means the provider does not say; a list without S256 means PKCE with S256 would fail
        if (methods && !methods.includes('S256')) throw new Error(`the issuer ${this.settings.issuer} does not support PKCE with S256 (code_challenge_methods_supported: ${methods.join(', ')})`);
        return document;
      })
      .catch((error: Error) => {
        this.discovery = undefined; // tried again on the next sign-in
        throw new OidcLoginError(502, `sign-in with the identity provider is unavailable: ${error.message}`);
      });
    return this.discovery;
  }
}
