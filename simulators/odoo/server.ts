import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type pg from 'pg';
import { FaultPlan } from './faults.ts';
import { bindArguments, findMethod } from './methods.ts';
import type { ModelDef, SimVersion } from './models.ts';
import { Env, OdooError, accessError, type Rights } from './orm.ts';
import { faultXml, parseCall, responseXml } from './xmlrpc.ts';

export interface SimUser {
  uid: number;
  login: string;
  apiKey: string;
  rights: Rights;
}

export interface SimSettings {
  pool: pg.Pool;
  schema: string;
  version: SimVersion;
  database: string;
  models: Map<string, ModelDef>;
  users: SimUser[];
  latencyMs: number;
  /** XML-RPC and JSON-RPC: present on 16–19 (deprecated from 19, removed in Odoo 22 / Online 21.1, §1.5) */
  legacyRpc: boolean;
}

class HttpStatusError extends Error {
  readonly status: number;
  readonly odooName: string;
  constructor(status: number, odooName: string, message: string) {
    super(message);
    this.status = status;
    this.odooName = odooName;
  }
}

/** Marker thrown when the answer must never be sent (timeout after commit, reset). */
class Silence extends Error {}

/**
 * The HTTP face of the simulator: /jsonrpc, /xmlrpc/2/{common,object} and, on 19, /json/2/<model>/<method> and
 * GET /web/version, each with Odoo's error shapes (reference/odoo.md §1.1, §1.2, §1.4).
 */
export class SimServer {
  readonly faults = new FaultPlan();
  private readonly settings: SimSettings;
  private readonly http: Server;
  private readonly sockets = new Set<Socket>();
  private port = 0;
  private calls = 0;

  constructor(settings: SimSettings) {
    this.settings = settings;
    this.http = createServer((req, res) => void this.handle(req, res));
    this.http.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  get callCount(): number {
    return this.calls;
  }

  async listen(port: number, host: string): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => resolve());
    });
    const address = this.http.address();
    this.port = typeof address === 'object' && address ? address.port : port;
    return this.port;
  }

  /** down: stop listening (connections are refused), as when Odoo is stopped; up: listen on the same port. */
  async setDown(down: boolean): Promise<void> {
    if (down) {
      for (const socket of this.sockets) socket.destroy();
      await new Promise<void>((resolve) => this.http.close(() => resolve()));
      // Let clients see their kept-alive sockets close, so the next call is refused rather than cut mid-way.
      await delay(50);
    } else {
      await this.listen(this.port, '127.0.0.1');
    }
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.http.listening ? this.http.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    if (this.settings.latencyMs > 0) await delay(this.settings.latencyMs);
    const url = new URL(req.url ?? '/', 'http://sim');
    try {
      if (req.method === 'GET' && url.pathname === '/web/version' && this.settings.version >= 19) {
        return send(res, 200, 'application/json', JSON.stringify({ version_info: versionInfo(this.settings.version), version: `${this.settings.version}.0` }));
      }
      if (req.method === 'POST' && url.pathname.startsWith('/json/2/') && this.settings.version >= 19) return await this.json2(req, res, url.pathname, body);
      if (req.method === 'POST' && url.pathname === '/jsonrpc' && this.settings.legacyRpc) return await this.jsonRpc(res, body);
      if (req.method === 'POST' && /^\/xmlrpc\/2\/(common|object)$/.test(url.pathname) && this.settings.legacyRpc) return await this.xmlRpc(res, url.pathname.slice(10), body);
      send(res, 404, 'text/html', '<h1>Not Found</h1>');
    } catch (error) {
      if (error instanceof Silence) return;
      send(res, 500, 'text/plain', String(error));
    }
  }

  // ---- JSON-2 (§1.4): named arguments only, bearer key, bare result, errors as 4xx/5xx {name, message, …}
  private async json2(req: IncomingMessage, res: ServerResponse, path: string, body: string): Promise<void> {
    const reply = (status: number, payload: unknown) => send(res, status, 'application/json', JSON.stringify(payload));
    const fail = (status: number, name: string, message: string) => reply(status, { name, message, arguments: [message], context: {}, debug: '' });
    const [, , , model, method] = path.split('/');
    if (!model || !method) return fail(404, 'werkzeug.exceptions.NotFound', `Did you mean POST /json/2/<model>/<method>?`);
    const key = /^bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const user = this.settings.users.find((u) => u.apiKey === key);
    // The documented example: 401 {"name": "werkzeug.exceptions.Unauthorized", "message": "Invalid apikey"} (D1).
    if (!user) return fail(401, 'werkzeug.exceptions.Unauthorized', 'Invalid apikey');
    const database = req.headers['x-odoo-database'];
    if (database !== undefined && database !== this.settings.database) return fail(404, 'werkzeug.exceptions.NotFound', `database ${String(database)} not found`);
    let named: Record<string, unknown>;
    try {
      named = JSON.parse(body || '{}') as Record<string, unknown>;
    } catch {
      return fail(400, 'werkzeug.exceptions.BadRequest', 'Invalid JSON body');
    }
    if (!this.settings.models.has(model)) return fail(404, 'werkzeug.exceptions.NotFound', `The model '${model}' does not exist.`);
    const spec = findMethod(model, method);
    if (!spec) return fail(404, 'werkzeug.exceptions.NotFound', `The method '${method}' does not exist on the model '${model}'.`);
    const { ids, context, ...kwargs } = named;
    if (spec.model && Array.isArray(ids) && ids.length > 0) return fail(422, 'werkzeug.exceptions.UnprocessableEntity', `cannot call ${model}.${method} with ids`);
    try {
      const result = await this.execute(user, model, method, spec.model ? [] : [Array.isArray(ids) ? ids : []], context === undefined ? kwargs : { ...kwargs, context }, res);
      reply(200, result ?? null);
    } catch (error) {
      if (error instanceof Silence) throw error;
      if (error instanceof HttpStatusError) return fail(error.status, error.odooName, error.message);
      const { name, message } = asOdoo(error);
      fail(json2Status(name), name, message);
    }
  }

  // ---- JSON-RPC (§1.2): HTTP 200 always, error object with data.name
  private async jsonRpc(res: ServerResponse, body: string): Promise<void> {
    let request: { id?: unknown; params?: { service?: string; method?: string; args?: unknown[] } };
    try {
      request = JSON.parse(body) as typeof request;
    } catch {
      return send(res, 400, 'text/plain', 'Invalid JSON');
    }
    const reply = (payload: Record<string, unknown>) => send(res, 200, 'application/json', JSON.stringify({ jsonrpc: '2.0', id: request.id ?? null, ...payload }));
    try {
      const { service, method, args } = request.params ?? {};
      const result = await this.dispatch(String(service), String(method), args ?? [], res);
      reply({ result: result ?? null });
    } catch (error) {
      if (error instanceof Silence) throw error;
      if (error instanceof HttpStatusError) return send(res, error.status, 'text/html', `<h1>${error.message}</h1>`);
      const { name, message } = asOdoo(error);
      // JsonRPCDispatcher.handle_error + serialize_exception (C1): code 0 except session expiry/404.
      reply({ error: { code: 0, message: 'Odoo Server Error', data: { name, debug: traceback(name, message), message, arguments: [message], context: {} } } });
    }
  }

  // ---- XML-RPC (§1.1): faults 1 (other, traceback), 2 (UserError family), 3 (AccessDenied), 4 (AccessError)
  private async xmlRpc(res: ServerResponse, service: string, body: string): Promise<void> {
    const reply = (xml: string) => send(res, 200, 'text/xml', xml);
    let call: { method: string; params: unknown[] };
    try {
      call = await parseCall(body);
    } catch (error) {
      return reply(faultXml(1, traceback('xml.parsers.expat.ExpatError', String(error))));
    }
    try {
      const result = await this.dispatch(service, call.method, call.params, res);
      // dumps(..., allow_none=False) after the call committed (C3): None cannot be marshalled.
      if (result === null || result === undefined) return reply(faultXml(1, traceback('TypeError', 'cannot marshal None unless allow_none is enabled')));
      reply(responseXml(result));
    } catch (error) {
      if (error instanceof Silence) throw error;
      if (error instanceof HttpStatusError) return send(res, error.status, 'text/html', `<h1>${error.message}</h1>`);
      const { name, message } = asOdoo(error);
      reply(faultXml(xmlFaultCode(name), xmlFaultCode(name) === 1 ? traceback(name, message) : message));
    }
  }

  /** common / object services shared by JSON-RPC and XML-RPC (odoo/service/common.py, model.py). */
  private async dispatch(service: string, method: string, args: unknown[], res: ServerResponse): Promise<unknown> {
    if (service === 'common') {
      if (method === 'version') return { server_version: `${this.settings.version}.0`, server_version_info: versionInfo(this.settings.version), server_serie: `${this.settings.version}.0`, protocol_version: 1 };
      if (method === 'authenticate' || method === 'login') {
        const [db, login, key] = args as [string, string, string];
        const user = this.settings.users.find((u) => u.login === login && u.apiKey === key);
        // authenticate answers False for bad credentials instead of raising.
        return db === this.settings.database && user ? user.uid : false;
      }
      throw new OdooError('builtins.NameError', `method ${method} is not available on service common`);
    }
    if (service !== 'object' || (method !== 'execute_kw' && method !== 'execute')) throw new OdooError('builtins.NameError', `${service}.${method} is not available`);
    const [db, uid, key, model, modelMethod, ...rest] = args as [string, number, string, string, string, ...unknown[]];
    const user = this.settings.users.find((u) => u.uid === uid && u.apiKey === key);
    if (db !== this.settings.database || !user) throw new OdooError('odoo.exceptions.AccessDenied', 'Access Denied');
    const positional = method === 'execute_kw' ? ((rest[0] as unknown[] | undefined) ?? []) : rest;
    const named = method === 'execute_kw' ? ((rest[1] as Record<string, unknown> | undefined) ?? {}) : {};
    return this.execute(user, model, modelMethod, positional, named, res);
  }

  private async execute(user: SimUser, model: string, method: string, positional: unknown[], named: Record<string, unknown>, res: ServerResponse): Promise<unknown> {
    this.calls += 1;
    const before = this.faults.take(['slow', 'http_502', 'http_503', 'reset_before', 'concurrency'], model, method);
    if (before?.kind === 'slow') await delay(before.delayMs ?? 1000);
    if (before?.kind === 'http_502' || before?.kind === 'http_503') throw new HttpStatusError(before.kind === 'http_502' ? 502 : 503, 'werkzeug.exceptions.ServiceUnavailable', 'Service Unavailable');
    if (before?.kind === 'reset_before') {
      res.socket?.destroy();
      throw new Silence();
    }
    if (before?.kind === 'concurrency') throw new OdooError('psycopg2.errors.SerializationFailure', 'could not serialize access due to concurrent update');
    const def = this.settings.models.get(model);
    if (!def) throw new OdooError('odoo.exceptions.UserError', `Object ${model} doesn't exist`);
    const spec = findMethod(model, method);
    if (!spec) throw new OdooError('builtins.AttributeError', `The method '${method}' does not exist on the model '${model}'`);
    checkRights(user, def, spec.readOnly);
    const { ids, args } = bindArguments(spec, method, positional, named);
    const client = await this.settings.pool.connect();
    let result: unknown;
    try {
      if (spec.readOnly) {
        // Reads run side by side, as in Odoo's worker processes, each on its own snapshot (Odoo's cursors are
        // REPEATABLE READ: odoo/sql_db.py), so a long read (a sync page) never holds up a reservation.
        await client.query('begin isolation level repeatable read read only');
      } else {
        await client.query('begin');
        // One call = one transaction (D1); concurrent writes queue here instead of Odoo's retry-on-conflict (§1.6).
        await client.query('select pg_advisory_xact_lock(hashtext($1))', [this.settings.schema]);
      }
      const env = new Env(client, this.settings.schema, this.settings.version, this.settings.models);
      const context = typeof named.context === 'object' && named.context !== null ? (named.context as Record<string, unknown>) : {};
      result = await spec.run(env, model, ids, args, context);
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
    const after = this.faults.take(['timeout_after_commit'], model, method);
    if (after) {
      // Committed, and the answer never comes: hold the connection until the client gives up.
      await new Promise<void>((resolve) => {
        res.socket?.once('close', () => resolve());
        setTimeout(() => {
          res.socket?.destroy();
          resolve();
        }, after.delayMs ?? 30_000).unref();
      });
      throw new Silence();
    }
    return result;
  }
}

function checkRights(user: SimUser, def: ModelDef, readOnly: boolean): void {
  if (user.rights === 'all') return;
  if (readOnly && user.rights.read.includes(def.name)) return;
  // ir_model.py check access [K wording]: "You are not allowed to access/modify '<description>' (<model>) records."
  throw accessError(`You are not allowed to ${readOnly ? 'access' : 'modify'} '${def.description}' (${def.name}) records.\n\nThis operation is allowed for the following groups:\n\t- Inventory/Administrator\n\nContact your administrator to request access if necessary.`);
}

function asOdoo(error: unknown): { name: string; message: string } {
  if (error instanceof OdooError) return { name: error.odooName, message: error.message };
  return { name: 'builtins.Exception', message: error instanceof Error ? error.message : String(error) };
}

// JSON-2 statuses: UserError family 422, AccessDenied 403 (dispatcher excerpt, §1.4); AccessError 403 and
// MissingError 404 are [K]; anything else 500.
function json2Status(name: string): number {
  const kind = name.split('.').at(-1);
  if (kind === 'MissingError') return 404;
  if (kind === 'AccessError' || kind === 'AccessDenied') return 403;
  if (kind === 'UserError' || kind === 'ValidationError' || kind === 'RedirectWarning') return 422;
  if (kind === 'TypeError') return 422; // signature bind failure (§1.4)
  return 500;
}

function xmlFaultCode(name: string): number {
  const kind = name.split('.').at(-1);
  if (kind === 'AccessDenied') return 3;
  if (kind === 'AccessError') return 4;
  if (kind === 'UserError' || kind === 'ValidationError' || kind === 'MissingError' || kind === 'RedirectWarning') return 2;
  return 1;
}

const traceback = (name: string, message: string) => `Traceback (most recent call last):\n  File "/odoo/odoo/service/model.py", line 1, in retrying\n${name}: ${message}`;
const versionInfo = (version: SimVersion) => [version, 0, 0, 'final', 0, ''];
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function send(res: ServerResponse, status: number, type: string, body: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
