import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type pg from 'pg';
import type { Queryable } from '../store/database.ts';
import { appendAudit } from './audit.ts';

// Patient identifiers become keyed tokens at the boundary (DESIGN.md principle 4), so Odoo, suppliers, logs
// and metrics only ever see `ptk_<key id>_<HMAC>`. A token names the key that made it: after the active key is
// rotated, old tokens still resolve with their own key, and `equivalentTokens` links an identifier's tokens
// across keys. Two subkeys are derived from each managed secret with HKDF so the MAC key and the encryption
// key are never the same bytes.

const PREFIX = 'ptk_';
const TOKEN_FORMAT = /^ptk_([a-z0-9]{1,16})_([A-Za-z0-9_-]{43})$/;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface TokenizationKey {
  id: string;
  secret: string;
}

interface DerivedKey {
  id: string;
  mac: Buffer;
  encryption: Buffer;
}

export class UnknownTokenError extends Error {
  constructor(token: string) {
    super(`no patient is known under token ${token}`);
    this.name = 'UnknownTokenError';
  }
}

function derive(key: TokenizationKey): DerivedKey {
  const ikm = Buffer.from(key.secret, 'utf8');
  const salt = Buffer.from(`carelane/patient-token/${key.id}`);
  return {
    id: key.id,
    mac: Buffer.from(hkdfSync('sha256', ikm, salt, 'hmac-sha256', 32)),
    encryption: Buffer.from(hkdfSync('sha256', ikm, salt, 'aes-256-gcm', 32)),
  };
}

export function parseToken(token: string): { keyId: string } | undefined {
  const match = TOKEN_FORMAT.exec(token);
  return match ? { keyId: match[1]! } : undefined;
}

export class PatientTokenizer {
  private readonly keys: Map<string, DerivedKey>;
  private readonly active: DerivedKey;

  constructor(keys: readonly TokenizationKey[], activeKeyId: string) {
    if (keys.length === 0) throw new Error('tokenization needs at least one key');
    this.keys = new Map(keys.map((key) => [key.id, derive(key)]));
    const active = this.keys.get(activeKeyId);
    if (!active) throw new Error(`tokenization: active key "${activeKeyId}" is not configured`);
    this.active = active;
  }

  get activeKeyId(): string {
    return this.active.id;
  }

  /** The token for an identifier under the active key: the same identifier always gives the same token. */
  tokenFor(identifier: string): string {
    return this.tokenUnder(this.active, identifier);
  }

  /** The identifier's token under every configured key (active first): finds records made before a rotation. */
  equivalentTokens(identifier: string): string[] {
    return [this.active, ...[...this.keys.values()].filter((key) => key !== this.active)].map((key) => this.tokenUnder(key, identifier));
  }

  /** Tokenizes and records the encrypted identifier so the token can be re-identified later (audited). */
  async tokenize(db: Queryable, identifier: string): Promise<string> {
    const token = this.tokenFor(identifier);
    await db.query(
      `insert into carelane.patient_tokens (token, key_id, identifier_ciphertext) values ($1, $2, $3)
       on conflict (token) do update set last_seen_at = now()`,
      [token, this.active.id, this.encrypt(this.active, token, identifier)],
    );
    return token;
  }

  /** The identifier behind a token; only for `reidentify`, which audits the call. */
  async resolve(db: Queryable, token: string): Promise<string | undefined> {
    const parsed = parseToken(token);
    const key = parsed && this.keys.get(parsed.keyId);
    if (!key) return undefined;
    const { rows } = await db.query<{ identifier_ciphertext: Buffer }>('select identifier_ciphertext from carelane.patient_tokens where token = $1', [token]);
    const sealed = rows[0]?.identifier_ciphertext;
    if (!sealed) return undefined;
    const identifier = this.decrypt(key, token, sealed);
    // A row whose token does not match its identifier was tampered with; refuse rather than re-identify wrongly.
    const expected = Buffer.from(this.tokenUnder(key, identifier));
    const given = Buffer.from(token);
    return expected.length === given.length && timingSafeEqual(expected, given) ? identifier : undefined;
  }

  private tokenUnder(key: DerivedKey, identifier: string): string {
    return `${PREFIX}${key.id}_${createHmac('sha256', key.mac).update(identifier, 'utf8').digest('base64url')}`;
  }

  private encrypt(key: DerivedKey, token: string, identifier: string): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key.encryption, iv);
    // The token as associated data: a ciphertext copied onto another token's row fails to decrypt.
    cipher.setAAD(Buffer.from(token));
    const body = Buffer.concat([cipher.update(identifier, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]);
  }

  private decrypt(key: DerivedKey, token: string, sealed: Buffer): string {
    const decipher = createDecipheriv('aes-256-gcm', key.encryption, sealed.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(token));
    decipher.setAuthTag(sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  }
}

export interface ReidentifyRequest {
  token: string;
  reason: string;
  actor: string;
}

/**
 * The only way back from a token to an identifier. Every attempt, found or not, is appended to the audit
 * chain with who and why, in the same transaction as the lookup; the identifier itself never goes into the
 * audit log.
 */
export async function reidentify(pool: pg.Pool, tokenizer: PatientTokenizer, request: ReidentifyRequest): Promise<string> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    let identifier: string | undefined;
    try {
      identifier = await tokenizer.resolve(client, request.token);
    } catch {
      identifier = undefined; // a ciphertext that does not decrypt is reported as unknown, and audited as such
    }
    await appendAudit(client, {
      actor: request.actor,
      action: 'phi.reidentify',
      targetType: 'patient_token',
      targetId: request.token,
      reason: request.reason,
      detail: { found: identifier !== undefined, keyId: parseToken(request.token)?.keyId ?? null },
    });
    await client.query('commit');
    if (identifier !== undefined) return identifier;
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
  throw new UnknownTokenError(request.token);
}
