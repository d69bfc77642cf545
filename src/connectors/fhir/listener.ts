import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CarelaneError, permanentError } from '../../contracts/errors.ts';
import type { InboundMessage, InboundSink } from '../../contracts/inbound.ts';
import { correlationIdFrom } from '../../observability/correlation.ts';
import { operationOutcome } from './operation-outcome.ts';
import type { R4Definitions } from './r4-definitions.ts';
import { parseSubscriptionNotification, type SubscriptionNotification } from './subscription-notification.ts';
import { invalidResource, readResourceValue, type Refusal } from './inbound-resource.ts';
import { validateResource } from './validate.ts';

/**
 * FHIR inbound over HTTP, persist-then-answer like the X12 listener (DESIGN.md principle 1):
 *
 * - `POST /fhir/notify/:source`: REST-hook notifications of the Subscriptions R5 Backport IG (a `history`
 *   Bundle whose first entry is the subscription status). Handshakes and heartbeats are stored and answered
 *   200 like events; they get their own message types (FHIR_notification_handshake/heartbeat) so routes that
 *   name the event types leave them unrouted: no work beyond the stored message.
 * - `POST /fhir/:source/:type`: a plain webhook carrying one resource of that type.
 *
 * Answers: 200 once stored (a duplicate too: it was stored the first time); 400 with an OperationOutcome
 * naming the path for input that is not JSON, not a notification or not a valid R4 resource — stored as
 * rejected first, as evidence; 401 for a missing or wrong secret (not stored: anyone could fill the store);
 * 413 for a body over the limit; 503 with Retry-After when the store is unavailable — never a 2xx for
 * something not committed. Per the IG ("Error Handling") a non-2xx makes the EHR retry or mark the
 * subscription in error, which is what we want when we could not store.
 * A source called `notify` cannot take plain webhooks: its path is the notification route.
 */

export interface FhirSharedSecret {
  /** the request header carrying it, e.g. `authorization` (Subscription.channel.header `Authorization: Bearer …`) */
  header: string;
  /** accepted values, compared whole (several during a rotation) */
  values: readonly string[];
}

export interface FhirListenerOptions {
  sink: InboundSink;
  /** `none` only where the network already authenticates the sender (and in tests) */
  authentication: FhirSharedSecret | 'none';
  /** sources that may post; default: any matching the path pattern */
  sources?: readonly string[];
  /** default 10 MiB */
  maxBodyBytes?: number;
  definitions?: R4Definitions;
}

const FHIR_JSON = 'application/fhir+json';
const NOTIFY_ROUTE = /^\/fhir\/notify\/([a-z0-9][a-z0-9_-]{0,62})\/?$/;
const RESOURCE_ROUTE = /^\/fhir\/([a-z0-9][a-z0-9_-]{0,62})\/([A-Z][A-Za-z]{1,63})\/?$/;
const RETRY_AFTER_SECONDS = '30';

type Route = { kind: 'notification'; source: string } | { kind: 'resource'; source: string; type: string };

function route(url: string | undefined): Route | undefined {
  const path = new URL(url ?? '/', 'http://x').pathname;
  const notify = NOTIFY_ROUTE.exec(path);
  if (notify) return { kind: 'notification', source: notify[1]! };
  const resource = RESOURCE_ROUTE.exec(path);
  if (resource) return { kind: 'resource', source: resource[1]!, type: resource[2]! };
  return undefined;
}

/** A node:http request listener; mount it in any server (or use startFhirListener). */
export function fhirRequestListener(options: FhirListenerOptions): http.RequestListener {
  const maxBodyBytes = options.maxBodyBytes ?? 10 * 1024 * 1024;
  const secrets = options.authentication === 'none' ? undefined : { header: options.authentication.header.toLowerCase(), digests: options.authentication.values.map(digest) };
  return (req, res) => {
    const target = route(req.url);
    if (!target || (options.sources && !options.sources.includes(target.source))) {
      return void reply(res, 404, outcomeOf('not-found', 'not found: POST /fhir/notify/<source> or /fhir/<source>/<ResourceType>'));
    }
    if (req.method !== 'POST') return void reply(res, 405, outcomeOf('not-supported', 'method not allowed: POST only'), { allow: 'POST' });
    // Checked before the body is read: an unauthenticated sender costs us neither memory nor a row.
    if (secrets && !secretMatches(req.headers[secrets.header], secrets.digests)) {
      req.resume();
      return void reply(res, 401, outcomeOf('security', `missing or wrong ${secrets.header} header`));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBodyBytes) chunks.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const correlationId = correlationIdFrom({ correlationId: header(req, 'x-correlation-id'), traceparent: header(req, 'traceparent') });
      void receive(Buffer.concat(chunks), size > maxBodyBytes, target, correlationId, options, res);
    });
  };
}

const header = (req: http.IncomingMessage, name: string): string | undefined => {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/** Digests have one length whatever was sent, so timingSafeEqual compares in constant time without leaking lengths. */
const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

function secretMatches(given: string | string[] | undefined, accepted: readonly Buffer[]): boolean {
  if (typeof given !== 'string') return false;
  const presented = digest(given);
  let matched = false;
  for (const expected of accepted) matched = timingSafeEqual(presented, expected) || matched;
  return matched;
}

async function receive(body: Buffer, oversize: boolean, target: Route, correlationId: string, options: FhirListenerOptions, res: http.ServerResponse): Promise<void> {
  const source = `fhir:${target.source}`;
  const read = oversize ? oversizeRefusal(target, options) : readBody(body, target, options.definitions);
  const message: InboundMessage =
    'refusal' in read
      ? { source, messageType: read.refusal.messageType, payload: body, contentType: FHIR_JSON, correlationId, rejectedReason: read.refusal.reason, ...(oversize ? { truncated: true } : {}) }
      : { source, payload: body, contentType: FHIR_JSON, correlationId, ...read.message };
  let messageId: number;
  try {
    messageId = (await options.sink.accept(message)).messageId;
  } catch {
    // Not stored, so not ours: the sender must send again (no 2xx, and no 4xx that would make it give up).
    return void reply(res, 503, outcomeOf('transient', 'not stored, send again'), { 'retry-after': RETRY_AFTER_SECONDS });
  }
  res.once('finish', () => options.sink.acknowledge(messageId));
  if ('refusal' in read) return void reply(res, oversize ? 413 : 400, outcomeOf(read.refusal.code, read.refusal.diagnostics, read.refusal.expression));
  reply(res, 200, operationOutcome([{ severity: 'information', code: 'informational', diagnostics: `stored as message ${messageId}` }]));
}

const fallbackType = (target: Route): string => (target.kind === 'notification' ? 'FHIR_notification' : `FHIR_${target.type}`);

function oversizeRefusal(target: Route, options: FhirListenerOptions): Read {
  const limit = options.maxBodyBytes ?? 10 * 1024 * 1024;
  return { refusal: { messageType: fallbackType(target), reason: `fhir_oversize: body exceeds ${limit} bytes`, code: 'too-long', diagnostics: `the body exceeds ${limit} bytes` } };
}

/** Never throws: whatever the input, it is stored (accepted or rejected) and answered. */
function readBody(body: Buffer, target: Route, definitions: R4Definitions | undefined): Read {
  try {
    const read = target.kind === 'notification' ? readNotification(body, definitions) : readResource(body, target.type, definitions);
    if ('refusal' in read && !read.refusal.messageType) read.refusal.messageType = fallbackType(target);
    return read;
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return { refusal: { messageType: fallbackType(target), reason: `fhir_unreadable: ${detail}`, code: 'processing', diagnostics: `the input could not be read: ${detail}` } };
  }
}

type Read = { message: Pick<InboundMessage, 'messageType' | 'externalId' | 'dedupeScope' | 'orderingKey'> } | { refusal: Refusal };

function parseJson(body: Buffer): { value: unknown } | { refusal: Refusal } {
  try {
    return { value: JSON.parse(body.toString('utf8')) };
  } catch (error) {
    const detail = (error as Error).message;
    return { refusal: { messageType: '', reason: `fhir_invalid_json: ${detail}`, code: 'structure', diagnostics: `the body is not JSON: ${detail}` } };
  }
}

function readNotification(body: Buffer, definitions: R4Definitions | undefined): Read {
  const parsed = parseJson(body);
  if ('refusal' in parsed) return parsed;
  let notification: SubscriptionNotification;
  try {
    notification = parseSubscriptionNotification(parsed.value);
  } catch (error) {
    if (!(error instanceof CarelaneError)) throw error;
    const path = error.where?.field;
    return { refusal: { messageType: '', reason: `${error.code}: ${error.message}`, code: 'invalid', diagnostics: error.message, ...(path ? { expression: path } : {}) } };
  }
  const messageType = `FHIR_notification_${notification.type}`;
  // The resources carried with a full-resource notification are validated like a webhook's; the status
  // entry is not (an R4B SubscriptionStatus is not an R4 resource type).
  const entries = (parsed.value as { entry?: Array<{ resource?: unknown }> }).entry ?? [];
  for (const [index, entry] of entries.entries()) {
    if (index === 0 || entry.resource === undefined) continue;
    const issues = validateResource(entry.resource, definitions).issues;
    if (issues.length) return { refusal: invalidResource(messageType, issues, `Bundle.entry[${index}].resource`) };
  }
  const count = notification.eventsSinceSubscriptionStart;
  return {
    message: {
      messageType,
      // IG "Notifications": events-since-subscription-start numbers the subscription's notifications; a
      // redelivered event carries the same number. The type keeps a heartbeat (which repeats the count of
      // the last event) from being taken for that event.
      ...(count === undefined ? {} : { externalId: `${notification.subscription}#${count}`, dedupeScope: notification.type }),
      // One subscription's events are processed in their order: event numbers reveal gaps only in order.
      orderingKey: `notification:${notification.subscription}`,
    },
  };
}

function readResource(body: Buffer, type: string, definitions: R4Definitions | undefined): Read {
  const parsed = parseJson(body);
  if ('refusal' in parsed) return { refusal: { ...parsed.refusal, messageType: `FHIR_${type}` } };
  return readResourceValue(parsed.value, type, definitions);
}

function outcomeOf(code: Parameters<typeof operationOutcome>[0][number]['code'], diagnostics: string, expression?: string) {
  return operationOutcome([{ code, diagnostics, ...(expression ? { expression } : {}) }]);
}

function reply(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': FHIR_JSON, ...headers }).end(JSON.stringify(body));
}

export interface FhirListener {
  host: string;
  port: number;
  /** base URL; EHRs post to `${url}/fhir/notify/<source>` and `${url}/fhir/<source>/<Type>` */
  url: string;
  close(): Promise<void>;
}

/** A standalone listener bound to one interface (DESIGN.md: never all interfaces by default). */
export async function startFhirListener(options: FhirListenerOptions & { host: string; port: number }): Promise<FhirListener> {
  if (!options.host.trim()) throw permanentError('fhir listener host is empty: the listener binds to one configured interface only', { code: 'fhir_no_host', where: { field: 'fhir.listener.host' } });
  const server = http.createServer(fhirRequestListener(options));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host, port: options.port, exclusive: true }, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    host: address.address,
    port: address.port,
    url: `http://${address.address}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
