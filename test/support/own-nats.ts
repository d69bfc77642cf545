import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './free-port.ts';

/**
 * A nats-server of one's own (JetStream on, its own store directory and port, loopback), so a test can restart
 * the broker without touching the machine's NATS on 4222 that other tests use. The binary is
 * CARELANE_NATS_SERVER or /usr/sbin/nats-server (Debian/Ubuntu package nats-server).
 */
export const NATS_SERVER_BINARY = process.env.CARELANE_NATS_SERVER ?? '/usr/sbin/nats-server';

export function natsServerMissing(): string | undefined {
  return existsSync(NATS_SERVER_BINARY)
    ? undefined
    : `nats-server not found at ${NATS_SERVER_BINARY}: install it (apt-get install nats-server) or set CARELANE_NATS_SERVER to its path`;
}

export interface OwnNats {
  url: string;
  port: number;
  /** SIGTERM (JetStream flushes its store), then the same server again on the same port and store */
  restart(downMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startOwnNats(): Promise<OwnNats> {
  const missing = natsServerMissing();
  if (missing) throw new Error(missing);
  const store = mkdtempSync(path.join(tmpdir(), 'carelane-nats-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(NATS_SERVER_BINARY, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store], { stdio: 'ignore' });
    await waitForPort(port, 10_000);
  };
  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve());
      running.kill('SIGTERM');
    });
  };
  await start();
  return {
    url: `127.0.0.1:${port}`,
    port,
    restart: async (downMs = 0) => {
      await stop();
      if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
      await start();
    },
    close: async () => {
      await stop();
      rmSync(store, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nats-server did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
