import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sendMllp } from '../src/connectors/hl7v2/index.ts';

const root = process.cwd();
const cli = path.join(root, 'src/cli/main.ts');

/** `carelane start` exactly as a user runs it: demo profile, embedded PostgreSQL under ./var of its folder. */
describe('carelane start (demo profile, embedded PostgreSQL)', () => {
  const workDir = mkdtempSync(path.join(root, 'var', 'e2e-start-'));
  // As root PostgreSQL runs as the 'postgres' user, which must be able to enter this folder.
  chmodSync(workDir, 0o755);
  afterAll(() => rmSync(workDir, { recursive: true, force: true }));

  it('starts, serves HTTP and MLLP, runs the demo network, and stops cleanly on Ctrl-C with no PostgreSQL left behind', { timeout: 240_000 }, async () => {
    const child = spawn(process.execPath, [cli, 'start'], {
      cwd: workDir,
      env: { ...process.env, PORT: '0', MLLP_PORT: '0', CARELANE_DEMO_X12_PORT: '0', CARELANE_DEMO_FHIR_PORT: '0', CARELANE_DEMO_INTERVAL_MS: '300', DATABASE_URL: '', CARELANE_ADMIN_TOKEN: '', CARELANE_CONFIG: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const started = await new Promise<{ http: string; mllp: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not started in time:\n${output}`)), 90_000);
      child.stdout.on('data', () => {
        const line = /"http":"([^"]+)","mllpPort":(\d+)/.exec(output);
        if (line) {
          clearTimeout(timer);
          resolve({ http: line[1]!, mllp: Number(line[2]) });
        }
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}:\n${output}`)));
    });

    const token = /Admin API token \(shown once, keep it\): (\S+)/.exec(output)?.[1];
    expect(token).toBeDefined();
    expect((await fetch(`${started.http}/readyz`)).status).toBe(200);
    const [ack] = await sendMllp('127.0.0.1', started.mllp, ['MSH|^~\\&|EHR|HOSP|CARELANE|HOSP|20261124101500||ADT^A01^ADT_A01|E2E-0001|P|2.5\rEVN|A01|20261124101500\r']);
    expect(ack).toContain('MSA|AA|E2E-0001');
    const listed = (await (await fetch(`${started.http}/api/v1/messages?externalId=E2E-0001`, { headers: { authorization: `Bearer ${token}` } })).json()) as { messages: unknown[] };
    expect(listed.messages).toHaveLength(1);

    // The demo network at work within a minute: procedures booked over MLLP and FHIR are reserved, shortfalls
    // become purchase orders, the supplier simulator answers the 850 with an 855, and exceptions appear.
    const api = async <T>(query: string): Promise<T> => (await fetch(`${started.http}${query}`, { headers: { authorization: `Bearer ${token}` } })).json() as Promise<T>;
    const deadline = Date.now() + 60_000;
    let seen = { bookings: 0, fhir: 0, acks: 0, exceptions: 0 };
    while (Date.now() < deadline) {
      const [bookings, fhir, acks, exceptions] = await Promise.all([
        api<{ messages: unknown[] }>('/api/v1/messages?source=mllp&type=SIU%5ES12&status=processed'),
        api<{ messages: unknown[] }>('/api/v1/messages?source=fhir:ehr-clinics&status=processed'),
        api<{ messages: unknown[] }>('/api/v1/messages?source=x12:medsupply&type=X12_855'),
        api<{ exceptions: unknown[] }>('/api/v1/exceptions?status=open'),
      ]);
      seen = { bookings: bookings.messages.length, fhir: fhir.messages.length, acks: acks.messages.length, exceptions: exceptions.exceptions.length };
      if (seen.bookings > 0 && seen.fhir > 0 && seen.acks > 0 && seen.exceptions > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    expect(seen, output.slice(-2000)).toEqual({ bookings: expect.any(Number), fhir: expect.any(Number), acks: expect.any(Number), exceptions: expect.any(Number) });
    for (const [what, count] of Object.entries(seen)) expect(count, what).toBeGreaterThan(0);

    const dataDir = path.join(workDir, 'var', 'postgres');
    const postmasterPid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const exitCode = await new Promise<number | null>((resolve) => {
      child.on('exit', (code) => resolve(code));
      child.kill('SIGINT');
    });
    expect(exitCode, output.slice(-3000)).toBe(0);
    expect(isAlive(postmasterPid)).toBe(false);
    expect(existsSync(path.join(dataDir, 'postmaster.pid'))).toBe(false);
  });

  it('prints its subcommands with --help', () => {
    const help = execFileSync(process.execPath, [path.join(root, 'bin/carelane.js'), '--help'], { encoding: 'utf8' });
    for (const command of ['start', 'migrate', 'messages', 'replay', 'exceptions', 'config']) expect(help).toMatch(new RegExp(`^\\s+${command}\\b`, 'm'));
    const messagesHelp = execFileSync(process.execPath, [cli, 'messages', '--help'], { encoding: 'utf8' });
    expect(messagesHelp).toMatch(/list/);
    expect(messagesHelp).toMatch(/show/);
  });

  it('config check names the wrong key and what was expected', () => {
    const bad = path.join(workDir, 'bad.yaml');
    execFileSync('sh', ['-c', `printf 'engine:\\n  lanes:\\n    critical: { concurrency: lots }\\nserver: { prot: 1 }\\n' > ${bad}`]);
    let stderr = '';
    try {
      execFileSync(process.execPath, [cli, '--config', bad, 'config', 'check'], { encoding: 'utf8', stdio: 'pipe' });
    } catch (error) {
      stderr = String((error as { stderr: string }).stderr);
    }
    expect(stderr).toContain('engine.lanes.critical.concurrency: must be integer');
    expect(stderr).toContain('server.prot: unknown key');
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
