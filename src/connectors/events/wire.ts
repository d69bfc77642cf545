import { transientError } from '../../contracts/errors.ts';
import type { BusEvent } from './bus.ts';

// How an event's fields travel besides its JSON body. The same names on every broker, so a consumer written for
// one reads the other, and so an event can be inspected with the brokers' own tools.
export const EVENT_HEADERS = {
  id: 'carelane-event-id',
  key: 'carelane-key',
  correlationId: 'carelane-correlation-id',
  createdAt: 'carelane-created-at',
} as const;

const RESERVED = new Set<string>(Object.values(EVENT_HEADERS));

export function encodeBody(event: BusEvent): Buffer {
  return Buffer.from(JSON.stringify(event.payload ?? null));
}

/** The headers to send: the caller's own, then Carelane's, which win over a caller's header of the same name. */
export function encodeHeaders(event: BusEvent): Record<string, string> {
  return {
    ...event.headers,
    [EVENT_HEADERS.id]: event.id,
    [EVENT_HEADERS.key]: event.key,
    [EVENT_HEADERS.correlationId]: event.correlationId,
    [EVENT_HEADERS.createdAt]: event.createdAt.toISOString(),
  };
}

/** Rebuilds an event from what a broker delivered; an event without an id cannot be deduplicated and is refused. */
export function decodeEvent(topic: string, body: Uint8Array, headers: Record<string, string>): BusEvent {
  const id = headers[EVENT_HEADERS.id];
  if (!id) throw new Error(`event on ${topic} has no ${EVENT_HEADERS.id} header`);
  const own = Object.fromEntries(Object.entries(headers).filter(([name]) => !RESERVED.has(name)));
  const text = Buffer.from(body).toString('utf8');
  return {
    id,
    topic,
    key: headers[EVENT_HEADERS.key] ?? '',
    payload: text === '' ? null : (JSON.parse(text) as unknown),
    headers: own,
    correlationId: headers[EVENT_HEADERS.correlationId] ?? id,
    createdAt: new Date(headers[EVENT_HEADERS.createdAt] ?? Date.now()),
  };
}

/** A broker that cannot be reached is a transient failure of a peer: retry later, count toward its circuit. */
export function brokerUnavailable(what: string, howToStart: string, cause: unknown) {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return transientError(`${what} is not reachable (${reason}); ${howToStart}`, { code: 'event_bus_unavailable', peerUnavailable: true, cause });
}

export function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(transientError(`${what} not confirmed within ${ms} ms`, { code: 'event_bus_timeout', peerUnavailable: true })), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
