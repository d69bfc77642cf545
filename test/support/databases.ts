import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { connect, type Database } from '../../src/store/database.ts';
import { migrate } from '../../src/store/migrate.ts';

export interface DatabaseTarget {
  /** 'embedded' or 'system' */
  name: string;
  adminUrl: string;
}

/** The PostgreSQL servers this run tests against: always the embedded one, the system one when present. */
export function databaseTargets(): DatabaseTarget[] {
  const targets: DatabaseTarget[] = [{ name: 'embedded', adminUrl: inject('embeddedPostgresUrl') }];
  const system = inject('systemPostgresUrl');
  if (system) targets.push({ name: 'system', adminUrl: system });
  return targets;
}

export function embeddedTarget(): DatabaseTarget {
  return databaseTargets()[0]!;
}

export interface TestDatabase extends Database {
  drop(): Promise<void>;
}

/** A new, migrated database of its own for one test file, dropped afterwards. */
export async function createTestDatabase(target: DatabaseTarget, poolSize = 10): Promise<TestDatabase> {
  const name = `carelane_test_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: target.adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = withDatabase(target.adminUrl, name);
  const database = connect(url, poolSize, 'carelane-test');
  await migrate(database.pool);
  return {
    ...database,
    drop: async () => {
      await database.close();
      const cleanup = new pg.Client({ connectionString: target.adminUrl });
      await cleanup.connect();
      await cleanup.query(`drop database if exists ${name} with (force)`);
      await cleanup.end();
    },
  };
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
