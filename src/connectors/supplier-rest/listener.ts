import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CarelaneError, permanentError } from '../../contracts/errors.ts';
import type { InboundSink } from '../../contracts/inbound.ts';
import { newCorrelationId } from '../../observability/correlation.ts';
import { CANONICAL_JSON, messageTypeOfEvent, parseSupplierEvent } from './events.ts';
import { webhookSecretsOf, type SupplierRestProfile } from './profile.ts';
import { SIGNATURE_HEADER, verifySignature } from './signature.ts';

/**
 * Supplier webhooks: `POST /supplier-rest/<profile id>/events` with one signed JSON event (events.ts).
 * 1. The signature is checked first (Carelane-Signature, the profile's webhook secret): an unsigned or forged
 *    body is answered 401 and not stored: nothing from it can be trusted, not even its size.
 * 2. The event is stored before any 2xx (DESIGN.md principle 1): valid → as the canonical document
 *    (CANONICAL_JSON, message type SUPPLIER_855/856/810, external id = eventId, so a re-sent event is a
 *    duplicate); invalid → stored as rejected with the reason and answered 422 naming the field.
 * 3. Not stored (database down) → 503 with Retry-After: the supplier sends again.
 */
export interface SupplierRestListenerOptions {
  profiles: readonly SupplierRestProfile[];
  sink: InboundSink;
  /** default 5 MiB */
  maxBodyBytes?: number;
  now?: () => Date;
}

const ROUTE = /^\/supplier-rest\/([a-z][a-z0-9_.-]{0,62})\/events\/?$/;

export function supplierRestRequestListener(options: SupplierRestListenerOptions): http.RequestListener {
  const maxBodyBytes = options.maxBodyBytes ?? 5 * 1024 * 1024;
  return (req, res) => {
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
    const match = ROUTE.exec(new URL(req.url ?? '/', 'http://x').pathname);
    if (!match) return void json(404, { error: 'not_found', message: 'POST /supplier-rest/<supplier>/events' });
    if (req.method !== 'POST') return void json(405, { error: 'method_not_allowed' }, { allow: 'POST' });
    const profile = options.profiles.find((p) => p.id === match[1]);
    if (!profile) return void json(404, { error: 'unknown_supplier' });
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBodyBytes) chunks.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      if (size > maxBodyBytes) return void json(413, { error: 'too_large', limit: maxBodyBytes });
      const body = Buffer.concat(chunks);
      const header = req.headers[SIGNATURE_HEADER];
      try {
        verifySignature(Array.isArray(header) ? header[0] : header, body, webhookSecretsOf(profile), { ...(options.now ? { now: options.now() } : {}), ...(profile.toleranceSeconds ? { toleranceSeconds: profile.toleranceSeconds } : {}) });
      } catch (error) {
        return void json(401, { error: (error as CarelaneError).code ?? 'signature_invalid', message: (error as Error).message });
      }
      void store(body, profile, options, json, res);
    });
  };
}

async function store(body: Buffer, profile: SupplierRestProfile, options: SupplierRestListenerOptions, json: (status: number, body: unknown, headers?: Record<string, string>) => void, res: http.ServerResponse): Promise<void> {
  const correlationId = newCorrelationId();
  const source = `supplier_rest:${profile.id}`;
  let parsed: ReturnType<typeof parseSupplierEvent> | undefined;
  let problem: CarelaneError | undefined;
  try {
    parsed = parseSupplierEvent(body);
  } catch (error) {
    problem = error instanceof CarelaneError ? error : permanentError(String(error), { code: 'supplier_event_invalid' });
  }
  try {
    if (!parsed) {
      const receipt = await options.sink.accept({ source, messageType: 'SUPPLIER_unknown', payload: body, contentType: 'application/json', correlationId, rejectedReason: `${problem!.code}: ${problem!.message}` });
      res.once('finish', () => options.sink.acknowledge(receipt.messageId));
      return json(422, { error: problem!.code, message: problem!.message, field: problem!.where?.field, messageId: receipt.messageId });
    }
    const answer = { status: 'stored', eventId: parsed.event.eventId };
    const receipt = await options.sink.accept({
      source,
      messageType: messageTypeOfEvent(parsed.event.type),
      externalId: parsed.event.eventId,
      payload: Buffer.from(JSON.stringify(parsed.document)),
      contentType: CANONICAL_JSON,
      correlationId,
      ackPayload: JSON.stringify(answer),
    });
    res.once('finish', () => options.sink.acknowledge(receipt.messageId));
    json(receipt.duplicate ? 200 : 202, { ...answer, messageId: receipt.messageId, duplicate: receipt.duplicate });
  } catch {
    json(503, { error: 'not_stored', message: 'not stored, send again' }, { 'retry-after': '30' });
  }
}

export interface SupplierRestListener {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** A standalone listener bound to one interface. */
export async function startSupplierRestListener(options: SupplierRestListenerOptions & { host: string; port: number }): Promise<SupplierRestListener> {
  const server = http.createServer(supplierRestRequestListener(options));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host, port: options.port, exclusive: true }, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${address.address}:${address.port}`,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
