import type { Registry } from 'prom-client';
import { CarelaneError, permanentError } from '../../contracts/errors.ts';
import { classifyAbort } from './errors.ts';
import { RoundTripLimiter } from './limiter.ts';
import { odooMetrics, type OdooMetrics } from './metrics.ts';
import type { CallOptions, OdooTransport, TransportSettings } from './transport.ts';
import { Json2Transport } from './transport-json2.ts';
import { JsonRpcTransport } from './transport-jsonrpc.ts';
import { XmlRpcTransport } from './transport-xmlrpc.ts';
import type { Domain, OdooCall, OdooConnectionConfig, OdooRecord, OdooTransportName, OdooVersion } from './types.ts';

export interface OdooClientOptions {
  /** prom-client registry for carelane_odoo_round_trips_total; none → not counted */
  registry?: Registry;
}

export interface SearchReadOptions {
  fields: string[];
  limit?: number;
  offset?: number;
  order?: string;
  context?: Record<string, unknown>;
}

/**
 * The Odoo connection: one transport, a version, a concurrency and rate limit, and a counter of round trips.
 * Every method below is exactly one round trip; batching (search_read with field lists, read of many ids,
 * create with a list of values) is how callers keep the count low.
 */
export class OdooClient {
  readonly version: OdooVersion;
  readonly transportName: OdooTransportName;
  private readonly transport: OdooTransport;
  private readonly limiter: RoundTripLimiter;
  private readonly metrics: OdooMetrics | undefined;
  /** aborts every call of this client view (see withSignal) */
  private readonly signal: AbortSignal | undefined;

  private constructor(transport: OdooTransport, version: OdooVersion, limiter: RoundTripLimiter, metrics: OdooMetrics | undefined, signal?: AbortSignal) {
    this.transport = transport;
    this.transportName = transport.name;
    this.version = version;
    this.limiter = limiter;
    this.metrics = metrics;
    this.signal = signal;
  }

  /**
   * The same connection (transport, limits, metrics) whose calls all end when `signal` aborts, e.g. the engine's
   * HandlerContext.signal. Gateways built on it stop mid-saga without any signal plumbing of their own.
   */
  withSignal(signal: AbortSignal | undefined): OdooClient {
    if (!signal || signal === this.signal) return this;
    return new OdooClient(this.transport, this.version, this.limiter, this.metrics, this.signal ? AbortSignal.any([this.signal, signal]) : signal);
  }

  /**
   * Resolves version and transport (config first; otherwise GET /web/version, which exists on 19 [D1], then
   * common.version over JSON-RPC) and returns a ready client. JSON-2 needs 19+ (reference/odoo.md §1.4).
   */
  static async connect(config: OdooConnectionConfig, options: OdooClientOptions = {}): Promise<OdooClient> {
    const settings: TransportSettings = {
      url: config.url,
      database: config.database,
      login: config.login,
      apiKey: config.apiKey,
      timeoutMs: config.timeoutMs ?? 30_000,
    };
    const limiter = new RoundTripLimiter({
      ...(config.maxConcurrency === undefined ? {} : { maxConcurrency: config.maxConcurrency }),
      ...(config.ratePerSecond === undefined ? {} : { ratePerSecond: config.ratePerSecond }),
      ...(config.burst === undefined ? {} : { burst: config.burst }),
    });
    const metrics = options.registry ? odooMetrics(options.registry) : undefined;
    const version = config.version ?? (await detectVersion(settings, config.transport, limiter, metrics));
    const transportName = config.transport ?? (version >= 19 ? 'json2' : 'jsonrpc');
    if (transportName === 'json2' && version < 19) {
      throw permanentError(`Odoo ${version} has no JSON-2 API (new in 19.0); use jsonrpc or xmlrpc`, { code: 'odoo_transport_unsupported', where: { field: 'transport' } });
    }
    return new OdooClient(makeTransport(transportName, settings), version, limiter, metrics);
  }

  /** One round trip: the raw model method call. */
  async call<T = unknown>(call: OdooCall, options: CallOptions = {}): Promise<T> {
    const signal = options.signal && this.signal ? AbortSignal.any([options.signal, this.signal]) : (options.signal ?? this.signal);
    return (await countedCall(this.transport, call, this.limiter, this.metrics, { ...options, signal })) as T;
  }

  searchRead<T extends OdooRecord = OdooRecord>(model: string, domain: Domain, options: SearchReadOptions, call: CallOptions = {}): Promise<T[]> {
    const kwargs: Record<string, unknown> = { domain, fields: options.fields };
    if (options.limit !== undefined) kwargs.limit = options.limit;
    if (options.offset !== undefined) kwargs.offset = options.offset;
    if (options.order !== undefined) kwargs.order = options.order;
    return this.call<T[]>({ model, method: 'search_read', kwargs, ...(options.context ? { context: options.context } : {}) }, call);
  }

  /** read of many ids in one call; an id that no longer exists raises MissingError in Odoo. */
  read<T extends OdooRecord = OdooRecord>(model: string, ids: number[], fields: string[], call: CallOptions = {}): Promise<T[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.call<T[]>({ model, method: 'read', ids, kwargs: { fields } }, call);
  }

  search(model: string, domain: Domain, options: { limit?: number; order?: string } = {}, call: CallOptions = {}): Promise<number[]> {
    return this.call<number[]>({ model, method: 'search', kwargs: { domain, ...options } }, call);
  }

  searchCount(model: string, domain: Domain, call: CallOptions = {}): Promise<number> {
    return this.call<number>({ model, method: 'search_count', kwargs: { domain } }, call);
  }

  /** create with a list of values: one round trip for many records (`@api.model_create_multi`). */
  async create(model: string, valsList: Array<Record<string, unknown>>, options: { context?: Record<string, unknown> } & CallOptions = {}): Promise<number[]> {
    if (valsList.length === 0) return [];
    const result = await this.call<number[] | number>({ model, method: 'create', kwargs: { vals_list: valsList }, ...(options.context ? { context: options.context } : {}) }, options);
    return Array.isArray(result) ? result : [result];
  }

  write(model: string, ids: number[], vals: Record<string, unknown>, call: CallOptions = {}): Promise<boolean> {
    return this.call<boolean>({ model, method: 'write', ids, kwargs: { vals } }, call);
  }

  /** A button/action method on records (action_confirm, button_validate …). */
  action(model: string, method: string, ids: number[], options: { context?: Record<string, unknown> } & CallOptions = {}): Promise<unknown> {
    return this.call({ model, method, ids, ...(options.context ? { context: options.context } : {}) }, options);
  }
}

function makeTransport(name: OdooTransportName, settings: TransportSettings): OdooTransport {
  if (name === 'json2') return new Json2Transport(settings);
  if (name === 'xmlrpc') return new XmlRpcTransport(settings);
  return new JsonRpcTransport(settings);
}

async function countedCall(transport: OdooTransport, call: OdooCall, limiter: RoundTripLimiter, metrics: OdooMetrics | undefined, options: CallOptions): Promise<unknown> {
  let started = false;
  try {
    return await limiter.run(async () => {
      started = true;
      try {
        const result = await transport.call(call, options);
        metrics?.roundTrips.inc({ transport: transport.name, model: call.model, method: call.method, outcome: 'ok' });
        return result;
      } catch (error) {
        metrics?.roundTrips.inc({ transport: transport.name, model: call.model, method: call.method, outcome: 'error' });
        throw error;
      }
    }, options.signal);
  } catch (error) {
    // Aborted while queued behind the concurrency/rate limit: nothing was sent.
    if (!started) throw classifyAbort(options.signal?.reason, false, `${call.model}.${call.method}`);
    throw error;
  }
}

async function detectVersion(settings: TransportSettings, preferred: OdooTransportName | undefined, limiter: RoundTripLimiter, metrics: OdooMetrics | undefined): Promise<OdooVersion> {
  const count = (transport: string, method: string) => metrics?.roundTrips.inc({ transport, model: 'common', method, outcome: 'ok' });
  let version: OdooVersion | undefined;
  if (preferred === undefined || preferred === 'json2') {
    version = await limiter.run(() => Json2Transport.detectVersion(settings));
    count('json2', 'web_version');
  }
  // No /web/version (16–18): ask common.version, even when JSON-2 was configured, to say why it cannot work.
  if (version === undefined) {
    const rpc = preferred === 'xmlrpc' ? new XmlRpcTransport(settings) : new JsonRpcTransport(settings);
    version = await limiter.run(() => rpc.serverVersion());
    count(rpc.name, 'version');
  }
  if (version === undefined) {
    throw new CarelaneError('permanent', `could not tell which Odoo version runs at ${settings.url} (Carelane supports 16–19)`, { code: 'odoo_version_unknown' });
  }
  return version;
}
