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
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(jwt, await this.keys(), {
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        algorithms: ALGORITHMS,
        clockTolerance: 30,
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (error) {
      // jose's own errors say what was wrong with the token (expired, audience, unknown key); anything else
      // (the identity provider unreachable) is not the client's fault and is left to the 500 handler.
      if (error instanceof errors.JOSEError && !(error instanceof errors.JWKSTimeout)) throw new InvalidJwtError(error.code);
      throw error;
    }
    return { subject: String(payload.sub), role: firstKnownRole(claimAt(payload, this.settings.rolesClaim)) };
  }

  private keys(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    this.keySet ??= this.jwksUrl().then((url) => createRemoteJWKSet(new URL(url), { timeoutDuration: 5000 }));
    // a failed discovery is retried on the next request instead of being remembered
    this.keySet.catch(() => (this.keySet = undefined));
    return this.keySet;
  }

  private async jwksUrl(): Promise<string> {
    if (this.settings.jwksUrl) return this.settings.jwksUrl;
    const discovery = `${this.settings.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const response = await fetch(discovery, { signal: AbortSignal.timeout(5000) });
    if (!response.ok) throw new Error(`OIDC discovery at ${discovery} answered ${response.status}`);
    const document = (await response.json()) as { jwks_uri?: unknown };
    if (typeof document.jwks_uri !== 'string') throw new Error(`OIDC discovery at ${discovery} has no jwks_uri`);
    return document.jwks_uri;
  }
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
