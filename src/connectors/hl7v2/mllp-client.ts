import net from 'node:net';
import tls from 'node:tls';
import { ambiguousError, permanentError, transientError, type CarelaneError } from '../../contracts/errors.ts';
import { MllpDecoder, frame } from './mllp-framing.ts';

/**
 * A small MLLP sender (MLLP Release 1, HL7 v2.5.1 Appendix C): frames messages, writes them on one connection
 * and reads the framed responses, matched to the messages in order (MLLP has no other correlation: a
 * receiver answers one block per block, in order). Used by tests, the benchmark and the outbound HL7 path.
 */

export interface MllpClientOptions {
  /** how long to wait for each response; after it the connection is closed (default 30 s) */
  responseTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** largest response accepted (default 10 MiB) */
  maxResponseBytes?: number;
  /** how response bytes are decoded (default UTF-8; 'latin1' for 8859/1 peers) */
  encoding?: 'utf8' | 'latin1';
  /** MLLP inside TLS: the CAs the peer's certificate must chain to, and our client certificate for mutual TLS */
  tls?: { ca?: Buffer | string | undefined; cert?: Buffer | string | undefined; key?: Buffer | string | undefined; servername?: string | undefined } | undefined;
}

interface Waiter {
  resolve(response: string): void;
  reject(error: CarelaneError): void;
}

export class MllpClient {
  private readonly socket: net.Socket;
  private readonly options: Required<Omit<MllpClientOptions, 'tls'>>;
  private readonly decoder: MllpDecoder;
  private readonly waiters: Waiter[] = [];
  /** responses that arrived before anyone asked for them */
  private readonly unclaimed: string[] = [];
  private failure: CarelaneError | undefined;
  private timer: NodeJS.Timeout | undefined;

  private constructor(socket: net.Socket, options: Required<Omit<MllpClientOptions, 'tls'>>) {
    this.socket = socket;
    this.options = options;
    this.decoder = new MllpDecoder({ maxMessageBytes: options.maxResponseBytes });
    socket.on('data', (chunk: Buffer) => {
      for (const event of this.decoder.push(chunk)) {
        if (event.type === 'frame') this.deliver(event.payload.toString(this.options.encoding));
        else if (event.type === 'oversize') {
          this.fail(permanentError(`MLLP response of ${event.size} bytes exceeds ${options.maxResponseBytes} bytes`, { code: 'mllp_oversize' }));
          socket.destroy();
        }
        // Stray bytes between responses carry no answer; the next framed response is still matched in order.
      }
    });
    socket.on('error', (error) => this.fail(ambiguousError(`MLLP connection failed: ${error.message}`, { code: 'mllp_connection_failed', peerUnavailable: true, cause: error })));
    socket.on('close', () => this.fail(ambiguousError('MLLP connection closed before the response arrived', { code: 'mllp_connection_closed' })));
  }

  static connect(host: string, port: number, options: MllpClientOptions = {}): Promise<MllpClient> {
    const settings: Required<Omit<MllpClientOptions, 'tls'>> = {
      responseTimeoutMs: options.responseTimeoutMs ?? 30_000,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      maxResponseBytes: options.maxResponseBytes ?? 10 * 1024 * 1024,
      encoding: options.encoding ?? 'utf8',
    };
    return new Promise((resolve, reject) => {
      const secure = options.tls;
      const socket: net.Socket = secure
        ? tls.connect({ host, port, ca: secure.ca, cert: secure.cert, key: secure.key, minVersion: 'TLSv1.2', ...(secure.servername ?? (net.isIP(host) ? undefined : host) ? { servername: secure.servername ?? host } : {}) }).setNoDelay(true)
        : net.connect({ host, port, noDelay: true });
      // Nothing was sent yet: a failure to connect is safe to retry.
      const timer = setTimeout(() => {
        socket.destroy();
        reject(transientError(`MLLP connect to ${host}:${port} timed out`, { code: 'mllp_connect_timeout', peerUnavailable: true }));
      }, settings.connectTimeoutMs);
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(transientError(`MLLP connect to ${host}:${port} failed: ${error.message}`, { code: 'mllp_connect_failed', peerUnavailable: true, cause: error }));
      });
      socket.once(secure ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new MllpClient(socket, settings));
      });
    });
  }

  /** false once the connection failed or was closed: nothing more can be sent on it */
  get isOpen(): boolean {
    return this.failure === undefined && !this.socket.destroyed;
  }

  /** Frames and writes one message and resolves with its response (the next framed block from the peer). */
  send(message: string | Buffer): Promise<string> {
    const response = this.nextResponse();
    if (!this.failure) this.socket.write(frame(typeof message === 'string' ? Buffer.from(message, this.options.encoding) : message));
    return response;
  }

  /** Writes bytes as they are, unframed (tests of a receiver's handling of broken framing). */
  writeRaw(bytes: Buffer): void {
    if (!this.failure) this.socket.write(bytes);
  }

  /** The next framed response from the peer. */
  nextResponse(): Promise<string> {
    const ready = this.unclaimed.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.armTimer();
    });
  }

  async close(): Promise<void> {
    if (this.socket.destroyed) return;
    await new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.end();
      // A peer that never closes its side must not hold us.
      setTimeout(() => this.socket.destroy(), 1000).unref();
    });
  }

  private deliver(response: string): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve(response);
    else this.unclaimed.push(response);
    this.armTimer();
  }

  private armTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.waiters.length === 0) return;
    this.timer = setTimeout(() => {
      // A late response would be paired with the wrong message: the connection is closed instead. The
      // message may have been received: the outcome is ambiguous, look before resending.
      this.fail(ambiguousError(`no MLLP response within ${this.options.responseTimeoutMs} ms`, { code: 'mllp_ack_timeout' }));
      this.socket.destroy();
    }, this.options.responseTimeoutMs);
  }

  private fail(error: CarelaneError): void {
    clearTimeout(this.timer);
    this.failure ??= error;
    for (const waiter of this.waiters.splice(0)) waiter.reject(this.failure);
  }
}

/** Sends messages one after the other on one connection, each after the previous one's response; returns the responses. */
export async function sendMllp(host: string, port: number, messages: Array<string | Buffer>, options: MllpClientOptions = {}): Promise<string[]> {
  const client = await MllpClient.connect(host, port, options);
  try {
    const responses: string[] = [];
    for (const message of messages) responses.push(await client.send(message));
    return responses;
  } finally {
    await client.close();
  }
}
