import { permanentError } from '../../contracts/errors.ts';
import { classifyOdooException } from './errors.ts';
import { exchange, httpFailure, parseJson } from './http.ts';
import { joinUrl, majorVersion, type CallOptions, type OdooTransport, type TransportSettings } from './transport.ts';
import type { OdooCall, OdooVersion } from './types.ts';

interface JsonRpcAnswer {
  result?: unknown;
  error?: { code?: number; message?: string; data?: { name?: string; message?: string; exception_type?: string } };
}

/**
 * JSON-RPC on /jsonrpc (Odoo 16–18; deprecated from 19, reference/odoo.md §1.2, §1.5): service `common` or
 * `object`, `execute_kw(db, uid, key, model, method, args, kwargs)`. Errors arrive as HTTP 200 with an `error`
 * object whose data.name is the Python exception.
 */
export class JsonRpcTransport implements OdooTransport {
  readonly name = 'jsonrpc' as const;
  private readonly settings: TransportSettings;
  private uid: Promise<number> | undefined;
  private sequence = 0;

  constructor(settings: TransportSettings) {
    this.settings = settings;
  }

  async call(call: OdooCall, options: CallOptions = {}): Promise<unknown> {
    const uid = await this.authenticate(options);
    const kwargs = call.context === undefined ? { ...call.kwargs } : { ...call.kwargs, context: call.context };
    // Ids travel as the first positional argument (§1.1: "Record ids are taken from the first positional arg").
    const args = call.ids === undefined ? [] : [call.ids];
    return this.rpc('object', 'execute_kw', [this.settings.database, uid, this.settings.apiKey, call.model, call.method, args, kwargs], `${call.model}.${call.method}`, options);
  }

  async serverVersion(options: CallOptions = {}): Promise<OdooVersion | undefined> {
    const info = (await this.rpc('common', 'version', [], 'common.version', options)) as { server_version_info?: unknown };
    return majorVersion(info.server_version_info);
  }

  private authenticate(options: CallOptions): Promise<number> {
    this.uid ??= (async () => {
      const uid = await this.rpc('common', 'authenticate', [this.settings.database, this.settings.login, this.settings.apiKey, {}], 'common.authenticate', options);
      // authenticate answers False, not an error, for a wrong login or key.
      if (typeof uid !== 'number') throw permanentError(`Odoo refused login "${this.settings.login}" with the configured API key`, { code: 'odoo_access_denied' });
      return uid;
    })().catch((error: unknown) => {
      this.uid = undefined;
      throw error;
    });
    return this.uid;
  }

  private async rpc(service: string, method: string, args: unknown[], where: string, options: CallOptions): Promise<unknown> {
    const answer = await exchange(
      joinUrl(this.settings.url, '/jsonrpc'),
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', method: 'call', id: ++this.sequence, params: { service, method, args } }),
      },
      { timeoutMs: this.settings.timeoutMs, signal: options.signal, where },
    );
    if (answer.status !== 200) throw httpFailure(answer, where);
    const body = parseJson(answer.text, where) as JsonRpcAnswer;
    if (body.error) {
      const data = body.error.data ?? {};
      // ≤15 servers put the type in exception_type (§1.2 [K]); name is authoritative when present.
      const name = data.name ?? data.exception_type ?? (body.error.code === 404 ? 'NotFound' : 'ServerError');
      throw classifyOdooException({ name, message: data.message ?? body.error.message ?? 'Odoo Server Error' }, where);
    }
    return body.result;
  }
}
