import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type pg from 'pg';

const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');
// Any fixed number works; it only has to be the same in every Carelane process.
const MIGRATION_LOCK = 7_310_001;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function listMigrations(): Migration[] {
  return readdirSync(MIGRATIONS_DIR)
    .filter((file) => /^\d{3}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => ({ version: Number(file.slice(0, 3)), name: file.replace(/\.sql$/, ''), sql: readFileSync(path.join(MIGRATIONS_DIR, file), 'utf8') }));
}

/**
 * Applies the ordered SQL migrations not yet applied, each in its own transaction, under an advisory lock
 * so that several processes starting at once migrate exactly once.
 */
export async function migrate(pool: pg.Pool): Promise<{ applied: string[] }> {
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query('create schema if not exists carelane');
    await client.query(
      'create table if not exists carelane.schema_migrations (version integer primary key, name text not null, applied_at timestamptz not null default now())',
    );
    const done = new Set((await client.query<{ version: number }>('select version from carelane.schema_migrations')).rows.map((r) => r.version));
    for (const migration of listMigrations()) {
      if (done.has(migration.version)) continue;
      await client.query('begin');
      try {
        await client.query(migration.sql);
        await client.query('insert into carelane.schema_migrations (version, name) values ($1, $2)', [migration.version, migration.name]);
        await client.query('commit');
        applied.push(migration.name);
      } catch (error) {
        await client.query('rollback');
        throw new Error(`migration ${migration.name} failed: ${(error as Error).message}`);
      }
    }
  } finally {
    await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
    client.release();
  }
  return { applied };
}

/** Whether every migration this code knows of has been applied (used by /readyz). */
export async function isSchemaCurrent(pool: pg.Pool): Promise<boolean> {
  const latest = listMigrations().at(-1)?.version ?? 0;
  try {
    const { rows } = await pool.query<{ version: number | null }>('select max(version) as version from carelane.schema_migrations');
    return (rows[0]?.version ?? 0) >= latest;
  } catch {
    return false;
  }
}
