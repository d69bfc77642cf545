import { createRequire } from 'node:module';
import { Readable } from 'node:stream';

// The simulator's own use of the `xmlrpc` package's serializer and deserializer (it ships no typings for these
// modules; the shapes are those of its lib/serializer.js and lib/deserializer.js).
const require = createRequire(import.meta.url);
const serializer = require('xmlrpc/lib/serializer.js') as {
  serializeMethodResponse(result: unknown): string;
  serializeFault(fault: { faultCode: number; faultString: string }): string;
};
const Deserializer = require('xmlrpc/lib/deserializer.js') as new () => {
  deserializeMethodCall(stream: Readable, callback: (error: Error | null, method: string, params: unknown[]) => void): void;
};

export function parseCall(xml: string): Promise<{ method: string; params: unknown[] }> {
  return new Promise((resolve, reject) => {
    new Deserializer().deserializeMethodCall(Readable.from([xml]), (error, method, params) => (error ? reject(error) : resolve({ method, params })));
  });
}

export const responseXml = (value: unknown): string => serializer.serializeMethodResponse(value);
export const faultXml = (faultCode: number, faultString: string): string => serializer.serializeFault({ faultCode, faultString });
