import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import { isRole, type Role } from './rbac.ts';

// People sign in at the organisation's identity provider; Carelane only verifies the bearer JWT it issued
// (signature against the issuer's published keys, issuer, audience, expiry) and reads the role from a claim.

export interface OidcSettings {
  issuer: string;
  audience: string;
  jwksUrl?: string | undefined;
  rolesClaim: string;
}

export interface OidcIdentity {
  subject: string;
  /** undefined when the token is valid but carries no role Carelane knows */
  role: Role | undefined;
}

// Public-key algorithms only: a shared-secret (HS*) or unsigned token can never be accepted.
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

export class InvalidJwtError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidJwtError';
  }
}

export class OidcVerifier {
  private readonly settings: OidcSettings;
  private keySet: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;

  constructor(settings: OidcSettings) {
    this.settings = settings;
  }

  async verify(jwt: string): Promise<OidcIdentity> {
    const payload = await this.checked(jwt, this.settings.audience);
    return { subject: String(payload.sub), role: firstKnownRole(claimAt(payload, this.settings.rolesClaim)) };
  }

  /**
   * An ID token from the console's sign-in (OpenID Connect Core 1.0 §3.1.3.7): issued by the issuer to this
   * client (aud holds the client id; with several audiences, azp must be the client), signed with the issuer's
   * keys, not expired, and carrying the nonce the browser sent with its authorization request.
   */
  async verifyIdToken(jwt: string, clientId: string, nonce: string): Promise<JWTPayload> {
    const payload = await this.checked(jwt, clientId);
    const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if ((audiences.length > 1 || payload.azp !== undefined) && payload.azp !== clientId) throw new InvalidJwtError(`the ID token's azp is ${JSON.stringify(payload.azp)}, not this client`);
    if (payload.nonce !== nonce) throw new InvalidJwtError("the ID token's nonce does not match the sign-in request this tab started");
    return payload;
  }

  private async checked(jwt: string, audience: string): Promise<JWTPayload> {
    try {
      const { payload } = await jwtVerify(jwt, await this.keys(), {
        issuer: this.settings.issuer,
        audience,
        algorithms: ALGORITHMS,
        clockTolerance: 30,
        requiredClaims: ['sub', 'exp'],
      });
      return payload;
    } catch (error) {
      // jose's own errors say what was wrong with the token (expired, audience, unknown key); anything else
      // (the identity provider unreachable) is not the client's fault and is left to the 500 handler.
      if (error instanceof errors.JOSEError && !(error instanceof errors.JWKSTimeout)) throw new InvalidJwtError(`${error.code}: ${error.message}`);
      throw error;
    }
  }

  private keys(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    this.keySet ??= this.jwksUrl().then((url) => createRemoteJWKSet(new URL(url), { timeoutDuration: 5000 }));
    // a failed discovery is retried on the next request instead of being remembered
    this.keySet.catch(() => (this.keySet = undefined));
    return this.keySet;
  }

  private async jwksUrl(): Promise<string> {
    return this.settings.jwksUrl ?? (await discoverOidc(this.settings.issuer)).jwks_uri;
  }
}

/** The parts of an OpenID Provider's metadata (OpenID Connect Discovery 1.0 §3) Carelane uses. */
export interface OidcDiscovery {
  issuer: string;
  jwks_uri: string;
  authorization_endpoint?: string | undefined;
  token_endpoint?: string | undefined;
  code_challenge_methods_supported?: string[] | undefined;
}

/**
 * `<issuer>/.well-known/openid-configuration` (Discovery §4). Its issuer must be identical to the one it was
 * fetched for (§4.3), so a document served for another issuer is never trusted.
 */
export async function discoverOidc(issuer: string): Promise<OidcDiscovery> {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!response.ok) throw new Error(`OIDC discovery at ${url} answered ${response.status}`);
  const document = (await response.json()) as Partial<Record<keyof OidcDiscovery, unknown>>;
  if (document.issuer !== issuer) throw new Error(`OIDC discovery at ${url} names the issuer ${JSON.stringify(document.issuer)}, not ${JSON.stringify(issuer)} (auth.oidc.issuer must be the issuer exactly as the provider writes it)`);
  if (typeof document.jwks_uri !== 'string') throw new Error(`OIDC discovery at ${url} has no jwks_uri`);
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  return {
    issuer,
    jwks_uri: document.jwks_uri,
    authorization_endpoint: text(document.authorization_endpoint),
    token_endpoint: text(document.token_endpoint),
    code_challenge_methods_supported: Array.isArray(document.code_challenge_methods_supported) ? document.code_challenge_methods_supported.filter((m): m is string => typeof m === 'string') : undefined,
  };
}

/** A claim by dotted path (Keycloak puts roles under realm_access.roles). */
function claimAt(payload: JWTPayload, path: string): unknown {
  let value: unknown = payload;
  for (const part of path.split('.')) value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[part] : undefined;
  return value;
}

function firstKnownRole(claim: unknown): Role | undefined {
  const values = Array.isArray(claim) ? claim : typeof claim === 'string' ? claim.split(/[\s,]+/) : [];
  return values.find((value): value is Role => typeof value === 'string' && isRole(value));
}

/** A compact JWS has three base64url parts; API tokens never contain a dot. */
export const looksLikeJwt = (token: string): boolean => /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token);
