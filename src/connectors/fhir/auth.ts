import { randomUUID, type KeyObject } from 'node:crypto';
import { importJWK, importPKCS8, SignJWT, type CryptoKey, type JWK } from 'jose';
import { CarelaneError, permanentError, transientError } from '../../contracts/errors.ts';
import { classifyHttpStatus } from '../webhook/errors.ts';

/** How the FHIR client proves who it is: the value of the Authorization header, fetched when needed. */
export interface FhirAuth {
  authorization(signal?: AbortSignal): Promise<string>;
  /** forgets a cached credential (after a 401, the server no longer honours it) */
  invalidate(): void;
}

/** A bearer token issued out of band (an EHR's API key): sent as is, nothing to refresh. */
export function staticBearerToken(token: string): FhirAuth {
  if (!token.trim()) throw permanentError('the FHIR bearer token is empty', { code: 'fhir_auth_not_configured' });
  return { authorization: async () => `Bearer ${token}`, invalidate: () => {} };
}

export interface SmartBackendServicesOptions {
  /** the EHR's token endpoint (its .well-known/smart-configuration `token_endpoint`) */
  tokenUrl: string;
  clientId: string;
  /** the private half of the key registered with the EHR: a PKCS#8 PEM, a private JWK, or a key object */
  privateKey: string | JWK | CryptoKey | KeyObject;
  /** `kid` of the registered public key (SMART: the assertion's header SHALL carry it) */
  keyId: string;
  /** SMART Backend Services: servers SHALL support RS384 and ES384; clients use one of them */
  algorithm?: 'RS384' | 'ES384';
  /** e.g. `system/SupplyRequest.read system/Task.write` */
  scope: string;
  /** the JWK Set URL, sent as `jku` when the key was registered by URL */
  jwksUrl?: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

/** Assertions live at most five minutes (SMART Backend Services: `exp` no more than 5 minutes in the future). */
const ASSERTION_LIFETIME_SECONDS = 300;
/** A token is renewed this long before it expires, so a request never leaves with a token about to lapse. */
const RENEW_MARGIN_MS = 30_000;

/**
 * SMART Backend Services (hl7.org/fhir/smart-app-launch/backend-services.html): the client-credentials grant
 * with a JWT assertion signed by our private key (RFC 7523 `private_key_jwt`), iss = sub = client_id,
 * aud = the token URL, a fresh jti each time. The access token is cached until shortly before `expires_in`;
 * concurrent requests share one token request.
 */
export function smartBackendServices(options: SmartBackendServicesOptions): FhirAuth {
  const algorithm = options.algorithm ?? 'RS384';
  const doFetch = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  let signingKey: Promise<CryptoKey | KeyObject | Uint8Array> | undefined;
  let cached: { header: string; renewAt: number } | undefined;
  let pending: Promise<string> | undefined;

  const key = (): Promise<CryptoKey | KeyObject | Uint8Array> => {
    signingKey ??= (async () => {
      const given = options.privateKey;
      if (typeof given === 'string') return importPKCS8(given, algorithm);
      if (isJwk(given)) return importJWK(given, algorithm);
      return given;
    })();
    return signingKey;
  };

  const requestToken = async (signal?: AbortSignal): Promise<string> => {
    const issuedAt = Math.floor(now() / 1000);
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: algorithm, kid: options.keyId, typ: 'JWT', ...(options.jwksUrl ? { jku: options.jwksUrl } : {}) })
      .setIssuer(options.clientId)
      .setSubject(options.clientId)
      .setAudience(options.tokenUrl)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + ASSERTION_LIFETIME_SECONDS)
      .setJti(randomUUID())
      .sign(await key());
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      scope: options.scope,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    });
    const timeout = AbortSignal.timeout(options.timeoutMs ?? 30_000);
    let response: Response;
    try {
      response = await doFetch(options.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (error) {
      // Asking for a token changes nothing at the EHR: whatever happened, asking again is safe.
      throw transientError(`SMART token endpoint unreachable (${(error as Error).name})`, { code: 'fhir_token_unavailable', peerUnavailable: true, cause: error });
    }
    const text = await response.text().catch(() => '');
    if (!response.ok) {
      // RFC 6749 §5.2: 400 invalid_client / invalid_scope / unauthorized_client — a registration problem, permanent.
      const classified = classifyHttpStatus(response.status, text, response.headers.get('retry-after'));
      throw new CarelaneError(classified.failureClass, `SMART token request refused with HTTP ${response.status}: ${text.slice(0, 200)}`, {
        code: `fhir_token_${classified.code}`,
        peerUnavailable: classified.peerUnavailable,
        ...(classified.retryAfterMs === undefined ? {} : { retryAfterMs: classified.retryAfterMs }),
      });
    }
    const body = parseTokenResponse(text);
    const lifetimeMs = body.expiresIn * 1000;
    cached = { header: `Bearer ${body.accessToken}`, renewAt: now() + Math.max(lifetimeMs - RENEW_MARGIN_MS, lifetimeMs / 2) };
    return cached.header;
  };

  return {
    authorization: (signal) => {
      if (cached && now() < cached.renewAt) return Promise.resolve(cached.header);
      pending ??= requestToken(signal).finally(() => {
        pending = undefined;
      });
      return pending;
    },
    invalidate: () => {
      cached = undefined;
    },
  };
}

function isJwk(value: unknown): value is JWK {
  return typeof value === 'object' && value !== null && 'kty' in value && !('type' in value && 'export' in value);
}

function parseTokenResponse(text: string): { accessToken: string; expiresIn: number } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw permanentError('the SMART token endpoint answered something that is not JSON', { code: 'fhir_token_invalid' });
  }
  const record = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const accessToken = record.access_token;
  if (typeof accessToken !== 'string' || !accessToken) throw permanentError('the SMART token response has no access_token', { code: 'fhir_token_invalid' });
  if (typeof record.token_type === 'string' && record.token_type.toLowerCase() !== 'bearer') {
    throw permanentError(`the SMART token is of type ${record.token_type}, not bearer`, { code: 'fhir_token_invalid' });
  }
  // expires_in is required by SMART Backend Services; a server that omits it gets the assertion's five minutes.
  const expiresIn = typeof record.expires_in === 'number' && record.expires_in > 0 ? record.expires_in : ASSERTION_LIFETIME_SECONDS;
  return { accessToken, expiresIn };
}
