import type { InboundMessage, InboundSink } from '../../contracts/inbound.ts';
import net from 'node:net';
import tls from 'node:tls';
import { permanentError, type CarelaneError } from '../../contracts/errors.ts';
import type { Logger } from '../../observability/logger.ts';
import { newCorrelationId } from '../../observability/correlation.ts';
import { ackErrorFrom, buildAck, type AckOutcome } from './ack.ts';
import { buildBatchAck, splitBatch, type SplitBatch } from './batch.ts';
import { decodeMessage, readMessageHeader, type Hl7TextEncoding, type MessageHeader, type PartialMessageHeader } from './message-header.ts';
import { MllpDecoder, frame, type MllpEvent } from './mllp-framing.ts';
import { Hl7Message, type TruncatedValue } from './hl7-message.ts';

/**
 * The inbound HL7 v2 path: MLLP over TCP (HL7 v2.5.1 Appendix C, MLLP Release 1), persist then acknowledge
 * (DESIGN.md principle 1). Every frame, good or bad, is stored before it is answered; nothing that was not
 * stored is ever answered AA/CA.
 */

export const HL7_V2_CONTENT_TYPE = 'application/hl7-v2';

/** Kept as the listener's own name for what it hands to the engine. */
export type Hl7InboundMessage = InboundMessage;

export interface MllpListenerOptions {
  /** the interface to bind, e.g. '127.0.0.1' (config `mllp.host`); required: never all interfaces by default */
  host: string;
  /** 0 = any free port (tests) */
  port: number;
  /** recorded as the messages' source */
  source: string;
  maxMessageBytes: number;
  idleTimeoutMs: number;
  ingest: InboundSink;
  log: Logger;
  /** bytes sent without MLLP framing are answered once the line has been quiet this long; default 200 ms */
  unframedQuietMs?: number;
  /** MSH-3 of ACKs to messages that name no receiving application; default 'CARELANE' */
  applicationName?: string;
  /** MLLP over TLS (config `mllp.tls`): same framing inside the TLS stream; with requestClientCert, only peers
   * whose certificate `ca` signed get through the handshake */
  tls?: { cert: Buffer | string; key: Buffer | string; ca?: Buffer | string | undefined; requestClientCert?: boolean | undefined } | undefined;
  /** writes a stage on a stored message's timeline (parse warnings: values the sender marked as truncated) */
  recordStage?: (messageId: number, stage: string, outcome: 'ok' | 'error' | 'skipped', detail: Record<string, unknown>) => Promise<void>;
}

export interface MllpListener {
  host: string;
  port: number;
  /** stops accepting, closes open connections, and waits for frames already received to be stored */
  close(): Promise<void>;
}

/** Frames queued on one connection before it stops reading: a sender pipelining faster than we store waits in TCP. */
const MAX_QUEUED_FRAMES = 64;

export async function startMllpListener(options: MllpListenerOptions): Promise<MllpListener> {
  if (!options.host || !options.host.trim()) {
    // node:net listens on every interface when no host is given: refuse rather than expose PHI by accident.
    throw permanentError('mllp.host is empty: the MLLP listener binds to one configured interface only', { code: 'mllp_no_host', where: { field: 'mllp.host' } });
  }
  const log = options.log.child({ component: 'mllp-listener', source: options.source });
  if (options.host === '0.0.0.0' || options.host === '::') {
    log.warn({ host: options.host }, 'MLLP listener bound to all interfaces as configured');
  }
  const connections = new Set<MllpConnection>();
  const onConnection = (socket: net.Socket) => {
    const connection = new MllpConnection(socket, options, log);
    connections.add(connection);
    socket.once('close', () => {
      void connection.settled().then(() => connections.delete(connection));
    });
  };
  const socketOptions = { allowHalfOpen: true, noDelay: true, keepAlive: true, keepAliveInitialDelay: 60_000 };
  // With TLS, a connection reaches MllpConnection only after its handshake ('secureConnection'), so a frame is
  // never read from, nor an ACK written to, a peer that has not proven itself when a client certificate is required.
  const server: net.Server = options.tls
    ? tls.createServer(
        {
          ...socketOptions,
          cert: options.tls.cert,
          key: options.tls.key,
          ca: options.tls.ca,
          requestCert: options.tls.requestClientCert === true,
          rejectUnauthorized: options.tls.requestClientCert === true,
          minVersion: 'TLSv1.2',
          // A peer that stops half-way through the handshake (allowHalfOpen keeps its socket) holds it this long, not Node's 120 s.
          handshakeTimeout: 10_000,
        },
        onConnection,
      )
    : net.createServer(socketOptions, onConnection);
  // Every TCP socket, the ones still in their TLS handshake included (they reach MllpConnection only after it),
  // so close() ends those too instead of waiting for their handshake to time out.
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('error', (error) => log.error({ err: error }, 'MLLP listener error'));
  server.on('tlsClientError', (error: Error, socket: tls.TLSSocket) => log.warn({ err: error.message, remote: socket.remoteAddress }, 'MLLP TLS handshake failed'));

  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => {
      reject(
        permanentError(`MLLP listener cannot listen on ${options.host}:${options.port}: ${error.message}`, {
          code: 'mllp_listen_failed',
          where: { field: 'mllp.port' },
          cause: error,
        }),
      );
    };
    server.once('error', onError);
    server.listen({ host: options.host, port: options.port, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address() as net.AddressInfo;
  log.info({ host: address.address, port: address.port, tls: options.tls !== undefined }, 'MLLP listener started');

  let closing: Promise<void> | undefined;
  return {
    host: address.address,
    port: address.port,
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const connection of connections) connection.destroy();
        for (const socket of sockets) socket.destroy();
        await Promise.all([...connections].map((c) => c.settled()));
        await closed;
        log.info('MLLP listener stopped');
      })();
      return closing;
    },
  };
}

/** What a frame turned out to be, before it is stored. */
interface Assessment {
  payload: Buffer;
  truncated: boolean;
  encoding: Hl7TextEncoding;
  header: MessageHeader | PartialMessageHeader | null;
  outcome: AckOutcome;
  problem: CarelaneError | undefined;
  /** set for a well-formed FHS/BHS batch: its messages are stored and acknowledged one by one */
  batch?: SplitBatch;
  /** values the sender marked as truncated (v2.7 truncation character), kept as sent */
  truncatedValues?: TruncatedValue[];
}

/** One sender's connection: frames are stored and answered strictly in arrival order, one at a time. */
class MllpConnection {
  private readonly socket: net.Socket;
  private readonly options: MllpListenerOptions;
  private readonly log: Logger;
  private readonly decoder: MllpDecoder;
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;
  private unframedTimer: NodeJS.Timeout | undefined;
  private readonly closed: Promise<void>;

  constructor(socket: net.Socket, options: MllpListenerOptions, log: Logger) {
    this.socket = socket;
    this.options = options;
    this.log = log.child({ remote: `${socket.remoteAddress}:${socket.remotePort}` });
    this.decoder = new MllpDecoder({ maxMessageBytes: options.maxMessageBytes });
    this.log.debug('MLLP connection opened');
    let markClosed = () => {};
    this.closed = new Promise<void>((resolve) => (markClosed = resolve));

    socket.setTimeout(options.idleTimeoutMs);
    socket.on('timeout', () => {
      // Idle means no traffic and nothing of this sender's still being stored or answered.
      if (this.queued > 0) return;
      this.log.debug('MLLP connection idle, closing');
      socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => {
      this.enqueue(this.decoder.push(chunk));
      this.watchUnframed();
    });
    socket.on('end', () => {
      // The sender half-closed: store what is left, answer what can be answered, then close our side.
      clearTimeout(this.unframedTimer);
      this.enqueue(this.decoder.end());
      void this.chain.then(() => socket.end());
    });
    socket.on('error', (error) => this.log.debug({ err: error }, 'MLLP connection error'));
    socket.on('close', () => {
      clearTimeout(this.unframedTimer);
      // A block cut off by the connection's end is stored as evidence; there is no one left to answer.
      this.enqueue(this.decoder.end());
      markClosed();
      this.log.debug('MLLP connection closed');
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** resolves once the connection is closed and every frame received on it has been handled */
  async settled(): Promise<void> {
    await this.closed;
    await this.chain;
  }

  private enqueue(events: MllpEvent[]): void {
    for (const event of events) {
      this.queued++;
      if (this.queued >= MAX_QUEUED_FRAMES && !this.socket.isPaused()) this.socket.pause();
      this.chain = this.chain.then(() =>
        this.handle(event).finally(() => {
          this.queued--;
          if (this.queued < MAX_QUEUED_FRAMES / 4 && this.socket.isPaused() && !this.socket.destroyed) this.socket.resume();
        }),
      );
    }
  }

  /**
   * A sender that does not frame never sends a start block, so its bytes would wait forever: once the line
   * has been quiet for a moment, they are reported and answered.
   */
  private watchUnframed(): void {
    clearTimeout(this.unframedTimer);
    this.unframedTimer = undefined;
    if (!this.decoder.hasPendingOutside) return;
    this.unframedTimer = setTimeout(() => {
      this.unframedTimer = undefined;
      this.enqueue(this.decoder.flushOutside());
    }, this.options.unframedQuietMs ?? 200);
  }

  private async handle(event: MllpEvent): Promise<void> {
    const { ingest, source } = this.options;
    const assessment = assess(event, this.options.maxMessageBytes);
    if (assessment.batch) return this.handleBatch(assessment.batch, assessment.encoding);
    const { header, outcome, problem } = assessment;
    const applicationName = this.options.applicationName;
    const ack = buildAck(header, outcome, problem && ackErrorFrom(problem), applicationName ? { applicationName } : {});
    const controlId = header?.controlId || null;
    let result: { messageId: number; duplicate: boolean; ackPayload: string | null };
    try {
      result = await ingest.accept({
        source,
        messageType: header?.messageType || 'unknown',
        externalId: controlId,
        dedupeScope: header ? `${header.sendingApplication}^${header.sendingFacility}` : null,
        payload: assessment.payload,
        contentType: HL7_V2_CONTENT_TYPE,
        correlationId: newCorrelationId(),
        ackPayload: ack.send ? ack.text : null,
        ...(problem ? { rejectedReason: rejectedReason(problem) } : {}),
        ...(assessment.truncated ? { truncated: true } : {}),
      });
    } catch (error) {
      // Not stored (database down, ...): never a positive ACK. AE/CE tells the sender to send it again.
      this.log.error({ err: error, controlId, messageType: header?.messageType }, 'MLLP message not stored; answered with an error');
      const failure = buildAck(header, 'error', { hl7ErrorCode: 207, text: 'message not stored, resend' }, applicationName ? { applicationName } : {});
      if (failure.send) this.write(failure.text, assessment.encoding);
      // The sender asked for no error ACK (MSH-15 NE/SU): closing the connection is the only way to say it failed.
      else this.socket.destroy();
      return;
    }
    // A duplicate gets exactly what its first copy got, so the sender sees one consistent answer.
    const answer = result.duplicate ? result.ackPayload : ack.send ? ack.text : null;
    this.log[problem ? 'warn' : 'debug'](
      {
        messageId: result.messageId,
        controlId,
        messageType: header?.messageType,
        ack: result.duplicate ? 'resent' : ack.send ? ack.code : 'not requested',
        duplicate: result.duplicate,
        ...(problem ? { code: problem.code, reason: problem.message } : {}),
      },
      problem ? 'MLLP message rejected' : 'MLLP message stored',
    );
    if (!result.duplicate) await this.warnTruncated(result.messageId, header, assessment.truncatedValues);
    if (answer !== null && this.write(answer, assessment.encoding)) ingest.acknowledge(result.messageId);
  }

  /**
   * A parse warning on the message's timeline (and in the log) naming the positions of the values the sender
   * marked as truncated: positions only, never the values. Recorded before the answer (only such messages pay
   * for it), so an acknowledged message shows its warning; a failure to record it loses the warning, not the
   * message or its answer.
   */
  private async warnTruncated(messageId: number, header: MessageHeader | PartialMessageHeader | null, values: TruncatedValue[] | undefined): Promise<void> {
    if (!values?.length) return;
    const positions = values.map((v) => v.position);
    const listed = positions.length > 10 ? `${positions.slice(0, 10).join(', ')}, … (${positions.length})` : positions.join(', ');
    this.log.warn({ messageId, controlId: header?.controlId, messageType: header?.messageType, truncated: positions }, 'HL7 message has values marked as truncated by the sender');
    await this.options
      .recordStage?.(messageId, `hl7v2 parse warning: ${values.length} value(s) truncated by the sender (${listed})`, 'ok', {
        warning: 'hl7_truncated_value',
        truncationCharacter: header && 'delimiters' in header ? header.delimiters.truncation : undefined,
        positions: values.map(({ position, line, field, repetition, component, subcomponent }) => ({ position, line, field, repetition, component, subcomponent })),
      })
      .catch((error: unknown) => this.log.warn({ messageId, err: (error as Error).message }, 'could not record the truncation warning'));
  }

  /**
   * A batch: each message is assessed, stored and given its own ACK exactly as if it had come alone (so a resent
   * message is a duplicate whichever way it comes), then the ACKs go back in one batch (batch.ts). A message
   * that could not be stored gets AE; the others keep what they got.
   */
  private async handleBatch(batch: SplitBatch, encoding: Hl7TextEncoding): Promise<void> {
    const { ingest, source } = this.options;
    const applicationName = this.options.applicationName;
    const acks: string[] = [];
    const stored: number[] = [];
    // A message not stored whose sender asked for no error ACK (MSH-15 NE/SU) cannot be named in the answer.
    let unanswerable = false;
    const warnings: Array<{ messageId: number; header: MessageHeader | PartialMessageHeader | null; values: TruncatedValue[] }> = [];
    for (const text of batch.messages) {
      const assessment = assess({ type: 'frame', payload: Buffer.from(text, encoding) }, this.options.maxMessageBytes);
      const { header, outcome, problem } = assessment;
      const ack = buildAck(header, outcome, problem && ackErrorFrom(problem), applicationName ? { applicationName } : {});
      try {
        const result = await ingest.accept({
          source,
          messageType: header?.messageType || 'unknown',
          externalId: header?.controlId || null,
          dedupeScope: header ? `${header.sendingApplication}^${header.sendingFacility}` : null,
          payload: assessment.payload,
          contentType: HL7_V2_CONTENT_TYPE,
          correlationId: newCorrelationId(),
          ackPayload: ack.send ? ack.text : null,
          ...(problem ? { rejectedReason: rejectedReason(problem) } : {}),
        });
        const answer = result.duplicate ? result.ackPayload : ack.send ? ack.text : null;
        if (answer !== null) acks.push(answer);
        stored.push(result.messageId);
        if (!result.duplicate && assessment.truncatedValues?.length) warnings.push({ messageId: result.messageId, header, values: assessment.truncatedValues });
        this.log[problem ? 'warn' : 'debug']({ messageId: result.messageId, controlId: header?.controlId, messageType: header?.messageType, duplicate: result.duplicate, batch: true, ...(problem ? { code: problem.code } : {}) }, problem ? 'MLLP batch message rejected' : 'MLLP batch message stored');
      } catch (error) {
        this.log.error({ err: error, controlId: header?.controlId, messageType: header?.messageType }, 'MLLP batch message not stored; answered with an error');
        const failure = buildAck(header, 'error', { hl7ErrorCode: 207, text: 'message not stored, resend' }, applicationName ? { applicationName } : {});
        if (failure.send) acks.push(failure.text);
        else unanswerable = true;
      }
    }
    // The stored messages get their warnings whether or not the batch can be answered (a resent batch is duplicates).
    for (const warning of warnings) await this.warnTruncated(warning.messageId, warning.header, warning.values);
    if (unanswerable) {
      // A batch ACK without it would read as the whole batch answered: as for a single message, closing the
      // connection is the only way to say it failed. The stored messages stay unacknowledged; a resent batch
      // finds them as duplicates.
      this.socket.destroy();
      return;
    }
    if (this.write(buildBatchAck(batch.envelope, acks), encoding)) for (const id of stored) ingest.acknowledge(id);
  }

  private write(text: string, encoding: Hl7TextEncoding): boolean {
    if (this.socket.destroyed || !this.socket.writable) return false;
    this.socket.write(frame(Buffer.from(text, encoding)));
    return true;
  }
}

function rejectedReason(problem: CarelaneError): string {
  const where = problem.where;
  const location = [where?.field ?? where?.segment, where?.line === undefined ? undefined : `line ${where.line}`].filter(Boolean).join(', ');
  return `${problem.code}: ${problem.message}${location ? ` (${location})` : ''}`;
}

/** Whatever header can be read from some bytes (unframed or truncated input may still name its message). */
function headerOf(bytes: Buffer): { header: MessageHeader | PartialMessageHeader | null; encoding: Hl7TextEncoding } {
  const { text, encoding } = decodeMessage(bytes);
  const reading = readMessageHeader(text);
  return { header: reading.ok ? reading.header : reading.partial, encoding };
}

function assess(event: MllpEvent, maxMessageBytes: number): Assessment {
  if (event.type === 'oversize') {
    const { header, encoding } = headerOf(event.payload);
    return {
      payload: event.payload,
      truncated: true,
      encoding,
      header,
      outcome: 'reject',
      problem: permanentError(`message of ${event.size} bytes exceeds this listener's limit of ${maxMessageBytes} bytes`, { code: 'mllp_oversize' }),
    };
  }
  if (event.type === 'framing_error') {
    const { header, encoding } = headerOf(event.bytes);
    const message =
      event.reason === 'outside_frame'
        ? `${event.size} bytes received outside an MLLP frame: each message must start with 0x0B and end with 0x1C 0x0D`
        : `MLLP frame of ${event.size} bytes has no end block 0x1C 0x0D before the next start block`;
    return { payload: event.bytes, truncated: event.truncated, encoding, header, outcome: 'reject', problem: permanentError(message, { code: 'mllp_framing' }) };
  }

  const payload = event.payload;
  if (payload.toString('latin1').trim() === '') {
    return {
      payload,
      truncated: false,
      encoding: 'utf8',
      header: null,
      outcome: 'reject',
      problem: permanentError('empty MLLP frame: no HL7 message between start block and end block', { code: 'mllp_empty_frame', where: { segment: 'MSH', line: 1 } }),
    };
  }
  const { text, encoding } = decodeMessage(payload);
  const reading = readMessageHeader(text);
  if (!reading.ok) return { payload, truncated: false, encoding, header: reading.partial, outcome: 'reject', problem: reading.error };
  const header = reading.header;
  const where = { segment: 'MSH', line: header.line };
  if (!header.version.startsWith('2.')) {
    // Section 2.9: a receiver rejects (AR) a version it does not support; this path reads HL7 version 2 only.
    return {
      payload,
      truncated: false,
      encoding,
      header,
      outcome: 'reject',
      problem: permanentError(`MSH-12 version id '${header.version}' is not an HL7 version 2 version`, { code: 'hl7_unsupported_version', where: { ...where, field: 'MSH.12' } }),
    };
  }
  if (header.batch) {
    // A batch (section 2.10.3): split and handled message by message (handleBatch); a malformed envelope is rejected whole.
    const split = splitBatch(text);
    if (!split.ok) return { payload, truncated: false, encoding, header, outcome: 'reject', problem: split.error };
    return { payload, truncated: false, encoding, header, outcome: 'accept', problem: undefined, batch: split.batch };
  }
  return { payload, truncated: false, encoding, header, outcome: 'accept', problem: undefined, truncatedValues: truncatedValuesOf(text, header) };
}

/** HL7 v2.7 2.5.5.2: only a message whose MSH-2 declares a truncation character can mark values as truncated. */
export function truncatedValuesOf(text: string, header: MessageHeader): TruncatedValue[] {
  const mark = header.delimiters.truncation;
  // Most v2.7+ messages declare the character and never use it: only MSH-2's own occurrence means no second parse.
  if (!mark || text.indexOf(mark) === text.lastIndexOf(mark)) return [];
  try {
    return Hl7Message.parse(text).truncatedValues();
  } catch {
    return [];
  }
}
