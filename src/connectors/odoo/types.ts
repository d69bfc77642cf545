/** Odoo major versions Carelane supports (reference/odoo.md §2 lists the 16 → 19 model differences). */
export type OdooVersion = 16 | 17 | 18 | 19;
export const SUPPORTED_VERSIONS: readonly OdooVersion[] = [16, 17, 18, 19];

/**
 * The three external APIs (reference/odoo.md §1): JSON-2 exists from 19.0 only; JSON-RPC and XML-RPC exist on
 * every supported version but are deprecated since 19.0 (§1.5).
 */
export type OdooTransportName = 'json2' | 'jsonrpc' | 'xmlrpc';

export interface OdooConnectionConfig {
  /** connection name from carelane.yaml, used in error messages only */
  name?: string;
  /** base URL, e.g. https://erp.example.org */
  url: string;
  database: string;
  /** the login of the API user (JSON-RPC/XML-RPC authenticate with login + API key; JSON-2 needs the key only) */
  login: string;
  /** an API key, never a password or session cookie (reference/odoo.md §1.3) */
  apiKey: string;
  /** taken from common.version / GET /web/version when absent */
  version?: OdooVersion;
  /** default: json2 on 19+, jsonrpc before */
  transport?: OdooTransportName;
  /** per round trip; a timeout after the request left is ambiguous */
  timeoutMs?: number;
  /** round trips in flight at once on this connection (Odoo worker capacity is the real limit, §1.7) */
  maxConcurrency?: number;
  /** token bucket: sustained round trips per second; Odoo documents none, §1.7 suggests throttling */
  ratePerSecond?: number;
  burst?: number;
}

/**
 * One call of a model method, in the shape JSON-2 requires (§1.4: all arguments named, `ids` and `context` in
 * the body). The RPC transports turn `ids` into the first positional argument and pass `kwargs` as execute_kw's
 * keyword arguments, which Python binds by name the same way.
 */
export interface OdooCall {
  model: string;
  method: string;
  ids?: number[];
  kwargs?: Record<string, unknown>;
  context?: Record<string, unknown>;
}

export type Domain = Array<string | [string, string, unknown]>;

/** A many2one value as Odoo's read returns it: [id, display name] or false. */
export type Many2one = [number, string] | false;

export interface OdooRecord {
  id: number;
  [field: string]: unknown;
}

export const many2oneId = (value: unknown): number | undefined =>
  Array.isArray(value) && typeof value[0] === 'number' ? value[0] : typeof value === 'number' ? value : undefined;
