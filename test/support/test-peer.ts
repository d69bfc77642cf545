import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  key: string;
  body: unknown;
  at: number;
}

/**
 * A real HTTP peer for engine tests. It honours Idempotency-Key like a well-behaved API: a repeated key is
 * answered with the first result and not applied again, and it counts both, so a test can tell "applied
 * twice" (a bug) from "sent twice after a crash" (allowed, deduplicated here).
 */
export class TestPeer {
  readonly applied = new Map<string, ReceivedRequest>();
  readonly order: string[] = [];
  requests = 0;
  duplicates = 0;
  /** status to answer instead of applying (e.g. 503), or undefined for normal service */
  failWith: number | undefined;
  delayMs = 0;
  private server: http.Server | undefined;
  private sockets = new Set<import('node:net').Socket>();
  port = 0;

  async start(port = 0): Promise<this> {
    this.server = http.createServer((req, res) => {
      let data = '';
      req.on('data', (chunk: Buffer) => (data += chunk.toString()));
      req.on('end', () => {
        this.requests++;
        const respond = () => {
          if (this.failWith) {
            res.writeHead(this.failWith, { 'content-type': 'application/json' }).end('{"error":"unavailable"}');
            return;
          }
          const key = String(req.headers['idempotency-key'] ?? '');
          if (this.applied.has(key)) {
            this.duplicates++;
          } else {
            this.applied.set(key, { key, body: data ? (JSON.parse(data) as unknown) : null, at: Date.now() });
            this.order.push(key);
          }
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        };
        if (this.delayMs > 0) setTimeout(respond, this.delayMs);
        else respond();
      });
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/effects`;
  }

  /** Stops answering at all: connections are refused, as when the peer is down. */
  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }
}
