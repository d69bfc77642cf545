import { createHash, randomBytes } from 'node:crypto';
import type { Queryable } from '../store/database.ts';
import { isRole } from './rbac.ts';

// API tokens are shown once and stored only as SHA-256 hashes: a database dump does not give API access.

const PREFIX = 'clt_';

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');
export const generateToken = (): string => `${PREFIX}${randomBytes(32).toString('base64url')}`;

export interface TokenIdentity {
  name: string;
  role: string;
}

export async function createToken(db: Queryable, name: string, role: string, expiresAt?: Date): Promise<string> {
  if (!isRole(role)) throw new Error(`unknown role "${role}"`);
  const token = generateToken();
  await db.query('insert into carelane.api_tokens (name, token_hash, role, expires_at) values ($1, $2, $3, $4)', [name, hashToken(token), role, expiresAt ?? null]);
  return token;
}

/**
 * Makes the admin token match the configured secret (CARELANE_ADMIN_TOKEN). With no secret configured and
 * no admin token yet, creates one and returns it so the caller can show it once.
 */
export async function seedAdminToken(db: Queryable, configured: string | undefined): Promise<{ generated?: string }> {
  if (configured) {
    await db.query(
      `insert into carelane.api_tokens (name, token_hash, role) values ('admin', $1, 'admin')
       on conflict (name) do update set token_hash = excluded.token_hash, role = 'admin', revoked_at = null`,
      [hashToken(configured)],
    );
    return {};
  }
  const { rowCount } = await db.query(`select 1 from carelane.api_tokens where name = 'admin'`);
  if (rowCount) return {};
  return { generated: await createToken(db, 'admin', 'admin') };
}

export async function authenticate(db: Queryable, token: string): Promise<TokenIdentity | undefined> {
  const { rows } = await db.query<TokenIdentity>(
    `update carelane.api_tokens set last_used_at = now()
     where token_hash = $1 and revoked_at is null and (expires_at is null or expires_at > now())
     returning name, role`,
    [hashToken(token)],
  );
  return rows[0];
}

export async function revokeToken(db: Queryable, name: string): Promise<boolean> {
  const { rowCount } = await db.query('update carelane.api_tokens set revoked_at = now() where name = $1 and revoked_at is null', [name]);
  return rowCount === 1;
}

export interface TokenListing {
  name: string;
  role: string;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

/** Every token's metadata, never its hash. */
export async function listTokens(db: Queryable): Promise<TokenListing[]> {
  const { rows } = await db.query<TokenListing>(
    `select name, role, created_at as "createdAt", expires_at as "expiresAt", revoked_at as "revokedAt", last_used_at as "lastUsedAt"
     from carelane.api_tokens order by name`,
  );
  return rows;
}
