import { createHmac, timingSafeEqual } from 'node:crypto';
import { permanentError } from '../../contracts/errors.ts';

/**
 * HMAC-SHA256 request signatures for the supplier REST profile, in the scheme Stripe and GitHub webhooks made
 * common: header `Carelane-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`. The timestamp
 * is signed with the body, so a captured request cannot be replayed outside the window; several `v1` values
 * (or several secrets on the verifying side) let a partner rotate its secret without downtime. Comparison is
 * constant-time (timingSafeEqual) so the signature cannot be guessed byte by byte.
 */

export const SIGNATURE_HEADER = 'carelane-signature';
const DEFAULT_TOLERANCE_SECONDS = 300;

export function signBody(secret: string, body: string | Buffer, at: Date = new Date()): string {
  const t = Math.floor(at.getTime() / 1000);
  return `t=${t},v1=${hmac(secret, t, body)}`;
}

/** Throws a permanent CarelaneError (code says why) unless `header` signs `body` with one of `secrets` within the window. */
export function verifySignature(header: string | undefined, body: string | Buffer, secrets: readonly string[], options: { now?: Date; toleranceSeconds?: number } = {}): void {
  const where = { field: SIGNATURE_HEADER };
  if (!header) throw permanentError(`${SIGNATURE_HEADER} header is missing`, { code: 'signature_missing', where });
  const parts = header.split(',').map((p) => p.trim().split('=', 2) as [string, string | undefined]);
  const t = Number(parts.find(([k]) => k === 't')?.[1]);
  const signatures = parts.filter(([k, v]) => k === 'v1' && v).map(([, v]) => v!);
  if (!Number.isInteger(t) || signatures.length === 0) throw permanentError(`${SIGNATURE_HEADER} must be "t=<unix seconds>,v1=<hex>"`, { code: 'signature_malformed', where });
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (Math.abs(now - t) > tolerance) throw permanentError(`signature timestamp ${t} is outside the ${tolerance} s replay window`, { code: 'signature_expired', where });
  const matches = secrets.some((secret) => {
    const expected = Buffer.from(hmac(secret, t, body), 'hex');
    return signatures.some((s) => /^[0-9a-f]{64}$/.test(s) && timingSafeEqual(expected, Buffer.from(s, 'hex')));
  });
  if (!matches) throw permanentError('signature does not match the body', { code: 'signature_invalid', where });
}

function hmac(secret: string, t: number, body: string | Buffer): string {
  return createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex');
}
