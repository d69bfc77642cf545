import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Queryable } from '../store/database.ts';

// Signed requests for systems (an EHR, a supplier) that would rather sign each inbound request than hold a
// bearer token. The signature is HMAC-SHA256 over `<timestamp>.<METHOD>.<path>.<body>` with a shared key the
// caller names in a header. The timestamp bounds a captured request's useful life to the replay window, and
// each signature is accepted once (stored in request_nonces, shared by every node) inside that window.

export const SIGNATURE_HEADERS = {
  keyId: 'x-carelane-key-id',
  timestamp: 'x-carelane-timestamp',
  signature: 'x-carelane-signature',
} as const;

export interface SigningKey {
  id: string;
  secret: string;
  sources: readonly string[];
}

/** `timestamp` in whole seconds since the epoch; `path` as sent, with its query string. Hex digest. */
export function signRequest(secret: string, timestamp: number, method: string, path: string, body: Buffer | string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${method.toUpperCase()}.${path}.`).update(body).digest('hex');
}

export type SignatureProblem = 'unknown_key' | 'bad_timestamp' | 'stale' | 'source_not_allowed';

/** The checks that need no body (run before the body is read): key, source and timestamp window. */
export function checkSignatureHeaders(
  keys: ReadonlyMap<string, SigningKey>,
  headers: { keyId: string; timestamp: string },
  source: string,
  maxSkewSeconds: number,
  nowMs: number = Date.now(),
): { key: SigningKey; timestamp: number } | { problem: SignatureProblem } {
  const key = keys.get(headers.keyId);
  if (!key) return { problem: 'unknown_key' };
  if (!/^\d{1,12}$/.test(headers.timestamp)) return { problem: 'bad_timestamp' };
  const timestamp = Number(headers.timestamp);
  if (Math.abs(nowMs / 1000 - timestamp) > maxSkewSeconds) return { problem: 'stale' };
  if (!key.sources.includes(source)) return { problem: 'source_not_allowed' };
  return { key, timestamp };
}

export function signatureMatches(expectedHex: string, given: string): boolean {
  const presented = given.startsWith('sha256=') ? given.slice(7) : given;
  const a = Buffer.from(expectedHex, 'hex');
  const b = /^[0-9a-f]{64}$/i.test(presented) ? Buffer.from(presented, 'hex') : Buffer.alloc(0);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Records a signature as used; false when it was seen before (a replay). Old entries are forgotten once they
 * are past twice the window: the timestamp check alone refuses them by then.
 */
export async function claimSignature(db: Queryable, keyId: string, signature: string, maxSkewSeconds: number): Promise<boolean> {
  const { rowCount } = await db.query('insert into carelane.request_nonces (key_id, signature) values ($1, $2) on conflict do nothing', [keyId, signature.toLowerCase()]);
  if (Math.random() < 0.01) await db.query('delete from carelane.request_nonces where seen_at < now() - make_interval(secs => $1)', [maxSkewSeconds * 2]);
  return rowCount === 1;
}
