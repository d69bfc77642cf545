import { CarelaneError, permanentError } from '../../contracts/errors.ts';
import { classifyOdooException, faultFromXmlRpc } from './errors.ts';
import { exchange, httpFailure } from './http.ts';
import { joinUrl, majorVersion, type CallOptions, type OdooTransport, type TransportSettings } from './transport.ts';
import type { OdooCall, OdooVersion } from './types.ts';
import { decodeResponse, encodeCall, toXmlRpcValue } from './xmlrpc-codec.ts';

/**
 * XML-RPC on /xmlrpc/2/common and /xmlrpc/2/object (Odoo 16–18; deprecated from 19, reference/odoo.md §1.1,
 * §1.5). Faults carry int codes 1–4 on /xmlrpc/2. The server marshals with allow_none=False, so a method that
 * returns None yields fault 1 "cannot marshal None" AFTER its transaction committed (§1.1, rpc.py `dumps`).
 */
export class XmlRpcTransport implements OdooTransport {
  readonly name = 'xmlrpc' as const;
  private readonly settings: TransportSettings;
  private uid: Promise<number> | undefined;

  constructor(settings: TransportSettings) {
    this.settings = settings;
  }

  async call(call: OdooCall, options: CallOptions = {}): Promise<unknown> {
    const uid = await this.authenticate(options);
    const kwargs = call.context === undefined ? { ...call.kwargs } : { ...call.kwargs, context: call.context };
    const args = call.ids === undefined ? [] : [call.ids];
    const where = `${call.model}.${call.method}`;
    try {
      return await this.rpc('object', 'execute_kw', [this.settings.database, uid, this.settings.apiKey, call.model, call.method, args, kwargs], where, options);
    } catch (error) {
      // The call ran and committed; only its None answer could not be encoded (see class comment).
      if (error instanceof CarelaneError && /cannot marshal None/i.test(error.message)) return null;
      throw error;
    }
  }

  async serverVersion(options: CallOptions = {}): Promise<OdooVersion | undefined> {
    const info = (await this.rpc('common', 'version', [], 'common.version', options)) as { server_version_info?: unknown };
    return majorVersion(info.server_version_info);
  }

  private authenticate(options: CallOptions): Promise<number> {
    this.uid ??= (async () => {
      const uid = await this.rpc('common', 'authenticate', [this.settings.database, this.settings.login, this.settings.apiKey, {}], 'common.authenticate', options);
      if (typeof uid !== 'number') throw permanentError(`Odoo refused login "${this.settings.login}" with the configured API key`, { code: 'odoo_access_denied' });
      return uid;
    })().catch((error: unknown) => {
      this.uid = undefined;
      throw error;
    });
    return this.uid;
  }

  private async rpc(service: 'common' | 'object', method: string, params: unknown[], where: string, options: CallOptions): Promise<unknown> {
    const answer = await exchange(
      joinUrl(this.settings.url, `/xmlrpc/2/${service}`),
      { method: 'POST', headers: { 'content-type': 'text/xml' }, body: encodeCall(method, params.map(toXmlRpcValue)) },
      { timeoutMs: this.settings.timeoutMs, signal: options.signal, where },
    );
    if (answer.status !== 200) throw httpFailure(answer, where);
    const decoded = await decodeResponse(answer.text);
    if (decoded.ok) return decoded.value;
    if ('malformed' in decoded) {
      throw new CarelaneError('transient', `Odoo ${where}: unreadable XML-RPC answer (${decoded.malformed})`, { code: 'odoo_bad_response', peerUnavailable: true });
    }
    throw classifyOdooException(faultFromXmlRpc(decoded.faultCode, decoded.faultString), where);
  }
}
