import { createRequire } from 'node:module';
import { Readable } from 'node:stream';

// The `xmlrpc` package's own client opens its own sockets without deadlines or abort signals; Carelane needs
// both (an ambiguous timeout must be detectable), so only its serializer and deserializer are used here and
// the bytes travel over fetch. The package ships no typings for these internal modules: the shapes below are
// what its lib/serializer.js and lib/deserializer.js export.
const require = createRequire(import.meta.url);
const serializer = require('xmlrpc/lib/serializer.js') as {
  serializeMethodCall(method: string, params: unknown[], encoding?: string): string;
  serializeMethodResponse(result: unknown): string;
  serializeFault(fault: { faultCode: number; faultString: string }): string;
};
const DeserializerClass = require('xmlrpc/lib/deserializer.js') as new (encoding?: string) => {
  deserializeMethodResponse(stream: Readable, callback: (error: XmlRpcFaultError | null, result: unknown) => void): void;
  deserializeMethodCall(stream: Readable, callback: (error: Error | null, method: string, params: unknown[]) => void): void;
};

export interface XmlRpcFaultError extends Error {
  faultCode?: unknown;
  faultString?: string;
}

export const encodeCall = (method: string, params: unknown[]): string => serializer.serializeMethodCall(method, params);
export const encodeResponse = (result: unknown): string => serializer.serializeMethodResponse(result);
export const encodeFault = (faultCode: number, faultString: string): string => serializer.serializeFault({ faultCode, faultString });

export type DecodedResponse = { ok: true; value: unknown } | { ok: false; faultCode: unknown; faultString: string } | { ok: false; malformed: string };

export function decodeResponse(xml: string): Promise<DecodedResponse> {
  return new Promise((resolve) => {
    new DeserializerClass().deserializeMethodResponse(Readable.from([xml]), (error, value) => {
      if (!error) resolve({ ok: true, value });
      else if (error.faultCode !== undefined) resolve({ ok: false, faultCode: error.faultCode, faultString: error.faultString ?? '' });
      else resolve({ ok: false, malformed: error.message });
    });
  });
}

export function decodeCall(xml: string): Promise<{ method: string; params: unknown[] }> {
  return new Promise((resolve, reject) => {
    new DeserializerClass().deserializeMethodCall(Readable.from([xml]), (error, method, params) => (error ? reject(error) : resolve({ method, params })));
  });
}

/** XML-RPC has no null: drop undefined members and turn null into false, as Odoo itself returns false. */
export function toXmlRpcValue(value: unknown): unknown {
  if (value === null || value === undefined) return false;
  if (Array.isArray(value)) return value.map(toXmlRpcValue);
  if (typeof value === 'object' && !(value instanceof Date) && !Buffer.isBuffer(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, member] of Object.entries(value)) if (member !== undefined) out[key] = toXmlRpcValue(member);
    return out;
  }
  return value;
}
