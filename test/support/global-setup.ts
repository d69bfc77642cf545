import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/store/embedded.ts';

// One embedded PostgreSQL for the whole run (each test file makes its own databases on it), plus the
// system PostgreSQL on 127.0.0.1:5432 when one answers there, so the store is tested on both.

let embedded: EmbeddedServer | undefined;
let dir: string | undefined;

export const SYSTEM_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

async function systemPostgresUrl(): Promise<string | null> {
  const url = process.env.CARELANE_TEST_SYSTEM_PG ?? SYSTEM_POSTGRES_URL;
  if (url === 'off') return null;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1500 });
  try {
    await client.connect();
    await client.query('select 1');
    return url;
  } catch {
    return null;
  } finally {
    await client.end().catch(() => {});
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  mkdirSync(path.join(process.cwd(), 'var'), { recursive: true });
  dir = mkdtempSync(path.join(process.cwd(), 'var', 'test-pg-'));
  // mkdtemp makes the folder private; as root, PostgreSQL runs as the 'postgres' user and must enter it.
  chmodSync(dir, 0o755);
  embedded = await startEmbeddedPostgres(path.join(dir, 'data'));
  const adminUrl = embedded.url.replace(/\/carelane$/, '/postgres');
  project.provide('embeddedPostgresUrl', adminUrl);
  project.provide('systemPostgresUrl', await systemPostgresUrl());
  return async () => {
    await embedded?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    embeddedPostgresUrl: string;
    systemPostgresUrl: string | null;
  }
}
