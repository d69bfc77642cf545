import pg from 'pg';
import { Kysely, PostgresDialect } from 'kysely';
import type { StoreSchema } from './schema.ts';

// bigint ids come back as strings by default; ids stay below 2^53 for any realistic deployment.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export interface Database {
  pool: pg.Pool;
  db: Kysely<StoreSchema>;
  url: string;
  close(): Promise<void>;
}

export function connect(url: string, poolSize: number, applicationName = 'carelane'): Database {
  const pool = new pg.Pool({ connectionString: url, max: poolSize, application_name: applicationName });
  // An idle client's error (server restart) must not crash the process; the pool replaces the client.
  pool.on('error', () => {});
  // pg-pool drops its own error listener while a client is checked out: without this one, the server closing the
  // connection between two statements of a transaction (restart, failover, shutdown) would be an unhandled
  // 'error' event and end the process. The failure still reaches the caller through its query.
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<StoreSchema>({ dialect: new PostgresDialect({ pool }) });
  let closed = false;
  return {
    pool,
    db,
    url,
    close: async () => {
      if (closed) return;
      closed = true;
      await db.destroy();
      // Kysely ends the pool only if it used it; a CLI command that only ran raw queries (audit verify) would
      // otherwise wait out pg's 10 s idle timeout before exiting
      if (!pool.ended) await pool.end();
    },
  };
}

/** Runs `work` in one transaction on one client; the client is released whatever happens. */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const result = await work(client);
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

export type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;
