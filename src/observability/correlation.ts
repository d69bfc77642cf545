import { randomUUID } from 'node:crypto';

// W3C Trace Context: traceparent = version-traceid-parentid-flags, e.g. 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;
const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The correlation id of an inbound request: X-Correlation-ID if the sender gave a usable one, else the
 * trace id of its traceparent, else a new id. Anything else is replaced, so a header can't inject into logs.
 */
export function correlationIdFrom(headers: { correlationId?: string | undefined; traceparent?: string | undefined }): string {
  const given = headers.correlationId?.trim();
  if (given && SAFE_ID.test(given)) return given;
  const trace = headers.traceparent?.trim().toLowerCase().match(TRACEPARENT)?.[1];
  if (trace && !/^0+$/.test(trace)) return trace;
  return newCorrelationId();
}

export function newCorrelationId(): string {
  return randomUUID();
}
