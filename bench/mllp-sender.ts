import net from 'node:net';

// MLLP framing (HL7 v2.x, Appendix C "Minimal Lower Layer Protocol"): <VT> message <FS><CR>.
const VT = 0x0b;
const FS = 0x1c;
const CR = 0x0d;

/**
 * The sender side of one MLLP connection, as a bench needs it: send a message, wait for its ACK, repeat.
 * Kept here rather than borrowing the connector's client so the bench measures the listener alone,
 * with nothing on the sending side but framing.
 */
export class MllpSender {
  private readonly socket: net.Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private pending: { resolve: (ack: string) => void; reject: (error: Error) => void } | undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('MLLP connection closed by the listener')));
  }

  static connect(host: string, port: number): Promise<MllpSender> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port }, () => {
        socket.off('error', reject);
        resolve(new MllpSender(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Sends one message and resolves with the ACK's text (segments separated by CR, framing removed). */
  send(message: string, timeoutMs = 30_000): Promise<string> {
    if (this.pending) return Promise.reject(new Error('MLLP is one message at a time per connection'));
    return new Promise((resolve, reject) => {
      // A listener that never answers must fail the bench, not hang it.
      const timer = setTimeout(() => this.fail(new Error(`no MLLP ACK within ${timeoutMs} ms`)), timeoutMs);
      this.pending = {
        resolve: (ack) => {
          clearTimeout(timer);
          resolve(ack);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const body = Buffer.from(message, 'utf8');
      const frame = Buffer.allocUnsafe(body.length + 3);
      frame[0] = VT;
      body.copy(frame, 1);
      frame[body.length + 1] = FS;
      frame[body.length + 2] = CR;
      this.socket.write(frame);
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.socket.removeAllListeners('close');
      this.socket.end(() => resolve());
    });
  }

  private receive(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const end = this.buffer.indexOf(FS);
    if (end < 0 || end + 1 >= this.buffer.length) return;
    const start = this.buffer.indexOf(VT);
    const ack = this.buffer.subarray(start + 1, end).toString('utf8');
    this.buffer = this.buffer.subarray(end + 2);
    const pending = this.pending;
    this.pending = undefined;
    pending?.resolve(ack);
  }

  private fail(error: Error): void {
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(error);
  }
}
