import { classifyOdooException } from './errors.ts';
import { exchange, httpFailure, parseJson } from './http.ts';
import { joinUrl, majorVersion, type CallOptions, type OdooTransport, type TransportSettings } from './transport.ts';
import type { OdooCall, OdooVersion } from './types.ts';

/**
 * JSON-2 (Odoo 19+, reference/odoo.md §1.4, Odoo docs "External JSON-2 API"): POST /json/2/<model>/<method>,
 * `Authorization: bearer <key>`, every argument named, `ids` and `context` in the body; the answer is the bare
 * return value, errors are 4xx/5xx with {name, message, arguments, context, debug}.
 */
export class Json2Transport implements OdooTransport {
  readonly name = 'json2' as const;
  private readonly settings: TransportSettings;

  constructor(settings: TransportSettings) {
    this.settings = settings;
  }

  async call(call: OdooCall, options: CallOptions = {}): Promise<unknown> {
    const where = `${call.model}.${call.method}`;
    const body: Record<string, unknown> = { ...call.kwargs };
    if (call.ids !== undefined) body.ids = call.ids;
    if (call.context !== undefined) body.context = call.context;
    const answer = await exchange(
      joinUrl(this.settings.url, `/json/2/${call.model}/${call.method}`),
      {
        method: 'POST',
        headers: {
          authorization: `bearer ${this.settings.apiKey}`,
          'content-type': 'application/json',
          // Only needed when one server hosts several databases (§1.4); harmless otherwise.
          'x-odoo-database': this.settings.database,
          'user-agent': 'carelane-odoo-connector',
        },
        body: JSON.stringify(body),
      },
      { timeoutMs: this.settings.timeoutMs, signal: options.signal, where },
    );
    if (answer.status === 200) return parseJson(answer.text, where);
    // A proxy or Odoo's own 503 while workers restart: the peer is unavailable whatever the body says.
    if (answer.status === 429 || answer.status === 502 || answer.status === 503 || answer.status === 504) throw httpFailure(answer, where);
    const error = tryJson(answer.text);
    if (error && typeof error.name === 'string') {
      throw classifyOdooException({ name: error.name, message: String(error.message ?? ''), httpStatus: answer.status }, where);
    }
    throw httpFailure(answer, where);
  }

  /** GET /web/version needs no authentication (§1.4). */
  static async detectVersion(settings: TransportSettings, options: CallOptions = {}): Promise<OdooVersion | undefined> {
    const answer = await exchange(joinUrl(settings.url, '/web/version'), { method: 'GET', headers: {} }, { timeoutMs: settings.timeoutMs, signal: options.signal, where: 'GET /web/version' });
    if (answer.status !== 200) return undefined;
    const body = tryJson(answer.text);
    return body ? majorVersion(body.version_info) : undefined;
  }
}

function tryJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
