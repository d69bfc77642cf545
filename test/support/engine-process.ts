import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A real `carelane start` process on a test database, for crash and scale-out tests. */
export interface EngineProcess {
  child: ChildProcess;
  httpUrl: Promise<string>;
  output: () => string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export function writeConfig(yaml: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'carelane-test-'));
  const file = path.join(dir, 'carelane.yaml');
  writeFileSync(file, yaml);
  return file;
}

export function startEngineProcess(configFile: string, databaseUrl: string, nodeId: string): EngineProcess {
  const child = spawn(process.execPath, ['src/cli/main.ts', '--config', configFile, 'start'], {
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: '0', CARELANE_NODE_ID: nodeId, CARELANE_ADMIN_TOKEN: 'test-admin-token-not-secret' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let resolveUrl: (url: string) => void;
  let rejectUrl: (error: Error) => void;
  const httpUrl = new Promise<string>((resolve, reject) => {
    resolveUrl = resolve;
    rejectUrl = reject;
  });
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    const started = /"http":"(http:\/\/[^"]+)"[^\n]*Carelane started/.exec(output);
    if (started) resolveUrl(started[1]!);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  child.on('exit', (code) => rejectUrl(new Error(`engine ${nodeId} exited with ${code} before starting:\n${output.slice(-2000)}`)));
  return {
    child,
    httpUrl,
    output: () => output,
    kill: (signal = 'SIGTERM') =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill(signal);
      }),
  };
}
