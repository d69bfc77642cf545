import type { OdooCall, OdooTransportName, OdooVersion } from './types.ts';

export interface CallOptions {
  signal?: AbortSignal | undefined;
}

/** One way of reaching Odoo's model methods; the client above it does limits, metrics and retries-by-lookup. */
export interface OdooTransport {
  readonly name: OdooTransportName;
  call(call: OdooCall, options?: CallOptions): Promise<unknown>;
}

export interface TransportSettings {
  url: string;
  database: string;
  login: string;
  apiKey: string;
  timeoutMs: number;
}

/** 'server_version_info' of common.version / 'version_info' of GET /web/version → a supported major version. */
export function majorVersion(info: unknown): OdooVersion | undefined {
  const first = Array.isArray(info) ? info[0] : undefined;
  // Odoo Online reports e.g. 'saas~18.2'; its major is the number before the dot.
  const major = typeof first === 'number' ? first : typeof first === 'string' ? Number(/(\d+)/.exec(first)?.[1]) : Number.NaN;
  return major === 16 || major === 17 || major === 18 || major === 19 ? major : major > 19 ? 19 : undefined;
}

export const joinUrl = (base: string, path: string): string => `${base.replace(/\/+$/, '')}${path}`;
