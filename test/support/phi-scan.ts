import net from 'node:net';
import type { RunningCarelane } from '../../src/app.ts';

// Issue 8: "a test scans everything leaving Carelane during the end-to-end suite for the patient identifiers
// that went in". The end-to-end suites run Carelane in the test's own process, so every byte it sends goes
// through net.Socket#write (plain TCP and, before encryption, TLS). The tap below keeps what is written on the
// sockets that matter, by port:
//   out of Carelane — written to a peer's port (Odoo, supplier, EHR FHIR server, HL7 receiver, broker) and
//                     Carelane's answers on its own listeners (MLLP ACKs, FHIR/X12 replies, API answers);
//   into Carelane   — written to Carelane's listeners, and the peers' answers to Carelane's calls.
// Nothing is inferred from what a flow is meant to send: a new Odoo model, header or log field is scanned too.
// The database connection is neither: storing the payload is the point of the message store.

type Direction = 'out' | 'in';

interface SocketStream {
  direction: Direction;
  where: string;
  chunks: Buffer[];
}

export interface WireTap {
  /** ports of the peers Carelane calls: what is written to them leaves Carelane */
  peers(...ports: Array<number | undefined>): void;
  /** ports Carelane listens on: what is written to them comes in, what they answer leaves */
  carelane(...ports: Array<number | undefined>): void;
  /** every stream that left Carelane, one text per socket */
  sent(): ScanText[];
  /** everything that came into Carelane, as one text (to prove the identifiers went in) */
  received(): string;
  /** puts net.Socket#write back */
  stop(): void;
}

export interface ScanText {
  where: string;
  text: string;
}

export interface Leak {
  where: string;
  value: string;
  /** the text around the value, to find the code that wrote it */
  context: string;
}

type Write = (this: net.Socket, chunk: unknown, ...rest: unknown[]) => boolean;

export function startWireTap(): WireTap {
  const peerPorts = new Set<number>();
  const carelanePorts = new Set<number>();
  const streams = new Map<net.Socket, SocketStream | null>();
  const pending = new Map<net.Socket, Buffer[]>();
  const prototype = net.Socket.prototype as unknown as { write: Write };
  const original = prototype.write;

  const classify = (socket: net.Socket): SocketStream | null => {
    const { localPort, remotePort } = socket;
    if (remotePort !== undefined && peerPorts.has(remotePort)) return { direction: 'out', where: `to peer :${remotePort}`, chunks: [] };
    if (localPort !== undefined && carelanePorts.has(localPort)) return { direction: 'out', where: `answer from Carelane :${localPort}`, chunks: [] };
    if (remotePort !== undefined && carelanePorts.has(remotePort)) return { direction: 'in', where: `to Carelane :${remotePort}`, chunks: [] };
    if (localPort !== undefined && peerPorts.has(localPort)) return { direction: 'in', where: `answer from peer :${localPort}`, chunks: [] };
    return null;
  };
  const record = (socket: net.Socket, bytes: Buffer) => {
    let stream = streams.get(socket);
    if (stream === undefined) {
      stream = classify(socket);
      streams.set(socket, stream);
    }
    stream?.chunks.push(bytes);
  };

  prototype.write = function tappedWrite(this: net.Socket, chunk: unknown, ...rest: unknown[]): boolean {
    const bytes = toBuffer(chunk, typeof rest[0] === 'string' ? (rest[0] as BufferEncoding) : 'utf8');
    if (bytes) {
      if (this.remotePort === undefined && this.connecting) {
        // written before the connection is up (Node buffers it): classified once the ports are known
        const queued = pending.get(this);
        if (queued) queued.push(bytes);
        else {
          pending.set(this, [bytes]);
          this.once('connect', () => {
            for (const early of pending.get(this) ?? []) record(this, early);
            pending.delete(this);
          });
        }
      } else if (pending.has(this)) pending.get(this)!.push(bytes);
      else record(this, bytes);
    }
    return original.call(this, chunk, ...rest);
  };

  const add = (set: Set<number>, ports: Array<number | undefined>) => {
    for (const port of ports) if (port) set.add(port);
  };
  const texts = (direction: Direction): ScanText[] =>
    [...streams.values()].filter((stream): stream is SocketStream => stream?.direction === direction).map((stream) => ({ where: stream.where, text: Buffer.concat(stream.chunks).toString('utf8') }));

  return {
    peers: (...ports) => add(peerPorts, ports),
    carelane: (...ports) => add(carelanePorts, ports),
    sent: () => texts('out'),
    received: () => texts('in').map((t) => t.text).join('\n'),
    stop: () => {
      prototype.write = original;
    },
  };
}

function toBuffer(chunk: unknown, encoding: BufferEncoding): Buffer | undefined {
  if (typeof chunk === 'string') return Buffer.from(chunk, Buffer.isEncoding(encoding) ? encoding : 'utf8');
  if (chunk instanceof Uint8Array) return Buffer.from(chunk);
  return undefined;
}

/** The ports of Carelane's own listeners (API, MLLP, FHIR, X12 over HTTP). */
export function carelanePorts(app: RunningCarelane): number[] {
  return [app.httpUrl, app.fhirUrl, app.x12Url].flatMap((url) => (url ? [Number(new URL(url).port)] : [])).concat(app.mllpPort ?? []);
}

/**
 * Everything that left Carelane or would: the tapped sockets, the log lines, the metrics scrape (labels) and
 * the event outbox (what the bus relay publishes, whether or not a broker is configured).
 */
export async function everythingSent(app: RunningCarelane, tap: WireTap, logLines: readonly string[]): Promise<ScanText[]> {
  const metrics = await (await fetch(`${app.httpUrl}/metrics`)).text();
  const { rows } = await app.database.pool.query<{ event: string }>(`select json_build_object('topic', topic, 'key', key, 'headers', headers, 'payload', payload)::text as event from carelane.event_outbox order by id`);
  return [
    ...tap.sent(),
    { where: 'log', text: logLines.join('\n') },
    { where: 'metrics', text: metrics },
    { where: 'event outbox', text: rows.map((row) => row.event).join('\n') },
  ];
}

/**
 * Where each identifier occurs. A value matches as a whole word of its kind (digits not inside a longer
 * number, letters not inside a longer word) and in any case, in the text as written and percent-decoded (a
 * value in a query string), so `DOE^JANE`, `Doe`, `MRN555666` and `?identifier=555666` are found while a
 * token's base64 (`…xDOEq…`) is not.
 */
export function findIdentifiers(texts: readonly ScanText[], identifiers: readonly string[]): Leak[] {
  const leaks: Leak[] = [];
  for (const value of new Set(identifiers.filter((identifier) => identifier.length > 0))) {
    const pattern = wholeValue(value);
    for (const { where, text } of texts) {
      for (const variant of new Set([text, percentDecoded(text)])) {
        const match = pattern.exec(variant);
        if (match) {
          leaks.push({ where, value, context: variant.slice(Math.max(0, match.index - 80), match.index + value.length + 80) });
          break;
        }
      }
    }
  }
  return leaks;
}

function wholeValue(value: string): RegExp {
  const escaped = value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const edge = (char: string) => (/\d/.test(char) ? '\\d' : /[A-Za-z]/.test(char) ? 'A-Za-z' : '');
  const before = edge(value[0]!);
  const after = edge(value.at(-1)!);
  return new RegExp(`${before ? `(?<![${before}])` : ''}${escaped}${after ? `(?![${after}])` : ''}`, 'i');
}

function percentDecoded(text: string): string {
  return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}
