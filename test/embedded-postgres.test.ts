import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../src/store/embedded.ts';

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('embedded PostgreSQL', () => {
  const dir = mkdtempSync(path.join(process.cwd(), 'var', 'embedded-test-'));
  chmodSync(dir, 0o755);
  const dataDir = path.join(dir, 'postgres');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('replaces the server orphaned by a process killed with -9, keeping its data', async () => {
    // A process starts the server, stores a row, and is killed with -9 before it can stop the server.
    const script = path.join(dir, 'owner.ts');
    writeFileSync(
      script,
      `import pg from 'pg';
import { startEmbeddedPostgres } from ${JSON.stringify(path.join(process.cwd(), 'src/store/embedded.ts'))};
const server = await startEmbeddedPostgres(${JSON.stringify(dataDir)});
const client = new pg.Client({ connectionString: server.url });
await client.connect();
await client.query('create table kept (v text)');
await client.query("insert into kept values ('survives')");
await client.end();
console.log('ready');
setInterval(() => {}, 1000);`,
    );
    const owner = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      owner.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
      owner.on('exit', (code) => reject(new Error(`owner exited ${code}`)));
    });
    const orphanPid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    owner.kill('SIGKILL');
    await new Promise((r) => owner.once('exit', r));
    expect(isAlive(orphanPid)).toBe(true); // orphaned, as after a real kill -9

    const server = await startEmbeddedPostgres(dataDir);
    try {
      expect(isAlive(orphanPid)).toBe(false);
      const client = new pg.Client({ connectionString: server.url });
      await client.connect();
      const { rows } = await client.query('select v from kept');
      await client.end();
      expect(rows).toEqual([{ v: 'survives' }]);

      // A second user of the same data directory borrows the running server instead of starting another.
      const borrowed = await startEmbeddedPostgres(dataDir);
      expect(borrowed.url).toBe(server.url);
      await borrowed.stop();
      const stillUp = new pg.Client({ connectionString: server.url });
      await stillUp.connect();
      await stillUp.end();
    } finally {
      await server.stop();
    }
  });
});
