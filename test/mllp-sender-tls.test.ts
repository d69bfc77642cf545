import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarelaneError } from '../src/contracts/errors.ts';
import type { InboundMessage, InboundReceipt, InboundSink } from '../src/contracts/inbound.ts';
import type { ClaimedDelivery, HandlerContext } from '../src/engine/handlers.ts';
import { buildApplicationAck, hl7SendHandler, parseMessageHeader, startMllpListener, type Hl7DestinationSettings, type MllpListener } from '../src/connectors/hl7v2/index.ts';
import { controlIdFor } from '../src/connectors/hl7v2/order-status.ts';
import { createLogger } from '../src/observability/logger.ts';
import { hasOpenssl, makeTestCertificates, type CertificateSpec, type TestCertificates } from './support/test-certificates.ts';

// The outbound MLLP path over TLS (hl7v2.destinations.<name>.tls), which status write-back and enhanced-mode
// application acknowledgments to a return address both take: against Carelane's own MLLP listener with TLS and
// a required client certificate, so both ends are real TLS on real sockets with a throwaway CA made by openssl.

const CERTIFICATES: CertificateSpec[] = [
  { name: 'ehr', commonName: '127.0.0.1', issuer: 'ca', use: 'server' },
  { name: 'carelane', commonName: 'carelane', issuer: 'ca', use: 'client' },
];

/** What the receiving EHR stored, in memory: the MLLP listener answers only after accept resolves. */
class MemorySink implements InboundSink {
  readonly stored: InboundMessage[] = [];
  async accept(message: InboundMessage): Promise<InboundReceipt> {
    this.stored.push(message);
    return { messageId: this.stored.length, correlationId: message.correlationId, duplicate: false, ackPayload: message.ackPayload ?? null, status: 'received' };
  }
  acknowledge(): void {}
}

let deliveries = 0;
function delivery(payload: unknown, idempotencyKey: string): ClaimedDelivery {
  const now = new Date();
  return { id: ++deliveries, messageId: null, correlationId: 'c-tls', lane: 'standard', action: 'hl7v2.send', endpoint: 'ehr-tls', orderingKey: null, idempotencyKey, payload, attempts: 1, needsLookup: false, createdAt: now, claimedAt: now, endpointFailures: 0, endpointClosedAt: null };
}
const context = (): HandlerContext => ({ pool: undefined as never, log: createLogger('silent'), signal: new AbortController().signal });

async function failure(promise: Promise<unknown>): Promise<CarelaneError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof CarelaneError) return error;
    throw error;
  }
  throw new Error('expected a failure');
}

describe.skipIf(!hasOpenssl)('MLLP sender over TLS (hl7v2.destinations.*.tls)', () => {
  let certificates: TestCertificates;
  let listener: MllpListener;
  const sink = new MemorySink();
  const file = (name: string) => certificates.file(name);
  const destination = (tls: Hl7DestinationSettings['tls']): Hl7DestinationSettings => ({
    host: '127.0.0.1',
    port: listener.port,
    sendingApplication: 'CARELANE',
    sendingFacility: 'NET',
    receivingApplication: 'SCHED',
    receivingFacility: 'NORTH',
    acknowledgment: 'enhanced',
    responseTimeoutMs: 2000,
    connectTimeoutMs: 2000,
    tls,
  });

  beforeAll(async () => {
    certificates = makeTestCertificates('carelane-mllp-tls-', CERTIFICATES);
    listener = await startMllpListener({
      host: '127.0.0.1',
      port: 0,
      source: 'ehr-tls',
      maxMessageBytes: 1024 * 1024,
      idleTimeoutMs: 10_000,
      ingest: sink,
      log: createLogger('silent'),
      tls: { cert: file('ehr.crt'), key: file('ehr.key'), ca: file('ca.crt'), requestClientCert: true },
    });
  });
  afterAll(async () => {
    await listener?.close();
    certificates?.remove();
  });

  it('sends an application ACK over mutual TLS and is done on the receiver CA', async () => {
    const handler = hl7SendHandler({ 'ehr-tls': destination({ ca: file('ca.crt'), cert: file('carelane.crt'), key: file('carelane.key') }) });
    try {
      const original = parseMessageHeader('MSH|^~\\&|SCHED|NORTH|CARELANE|NET|20261124080000||SIU^S12^SIU_S12|TLS-1|P|2.5.1|||AL|AL\r');
      const key = 'hl7-app-ack:1:AA';
      const ack = buildApplicationAck(original, 'AA', [], { controlId: controlIdFor(key) });
      const result = await handler.run(delivery({ message: ack }, key), context());
      expect(result).toMatchObject({ stages: [{ outcome: 'ok', detail: { ack: 'CA', controlId: controlIdFor(key) } }] });
      expect(sink.stored.map((m) => m.payload.toString('utf8'))).toEqual([ack]);
    } finally {
      await handler.close();
    }
  });

  it('sends nothing to a receiver whose certificate the configured CA did not sign (transient: fix the config, it goes)', async () => {
    const before = sink.stored.length;
    const handler = hl7SendHandler({ 'ehr-tls': destination({ ca: file('rogue-ca.crt'), cert: file('carelane.crt'), key: file('carelane.key') }) });
    try {
      const error = await failure(handler.run(delivery({ orderStatus: { placerOrderNumber: 'P-1', orderStatus: 'IP' } }, 'tls-rogue'), context()));
      expect(error).toMatchObject({ failureClass: 'transient', code: 'mllp_connect_failed' });
      expect(sink.stored.length).toBe(before);
    } finally {
      await handler.close();
    }
  });

  it('is refused by a receiver that requires a client certificate when none is configured', async () => {
    const before = sink.stored.length;
    const handler = hl7SendHandler({ 'ehr-tls': destination({ ca: file('ca.crt') }) });
    try {
      const error = await failure(handler.run(delivery({ orderStatus: { placerOrderNumber: 'P-2', orderStatus: 'IP' } }, 'tls-no-cert'), context()));
      // TLS 1.3 reports the missing certificate after the handshake: the message may have been written, so
      // whichever way the refusal comes, it is never taken as delivered.
      expect(['transient', 'ambiguous']).toContain(error.failureClass);
      expect(sink.stored.length).toBe(before);
    } finally {
      await handler.close();
    }
  });

  // Last: it closes the listener. A peer that connects and never completes (or abandons) its TLS handshake is no
  // MLLP connection yet; close() must not wait for its handshake to time out.
  it('close() ends a connection stuck in its TLS handshake at once', async () => {
    const stuck = net.connect({ host: '127.0.0.1', port: listener.port });
    stuck.on('error', () => {});
    await new Promise<void>((resolve) => stuck.once('connect', () => resolve()));
    const started = Date.now();
    await listener.close();
    expect(Date.now() - started).toBeLessThan(2000);
    await new Promise<void>((resolve) => (stuck.destroyed ? resolve() : stuck.once('close', () => resolve())));
  });
});
