import { CarelaneError } from '../../contracts/errors.ts';

// How Odoo's failures map to the engine's classes (DESIGN.md principle 3). Odoo reports the same exception
// three ways (reference/odoo.md §1): JSON-RPC as HTTP 200 with error.data.name (§1.2), XML-RPC as a fault with
// code 1 (other), 2 (UserError and subclasses), 3 (AccessDenied), 4 (AccessError) (§1.1), JSON-2 as a 4xx/5xx
// with {name, message} (§1.4). Everything is funnelled through classifyOdooException by exception name.

export interface OdooFault {
  /** Python exception name, e.g. 'odoo.exceptions.ValidationError' */
  name: string;
  message: string;
  httpStatus?: number;
}

const USER_ERRORS = new Set(['UserError', 'ValidationError', 'RedirectWarning', 'Warning', 'except_orm']);
// Concurrency failures that survived Odoo's own 5 retries (§1.6): a later attempt may well succeed.
const CONCURRENCY = /SerializationFailure|DeadlockDetected|LockNotAvailable|TransactionRollbackError/;
// Programming errors raised by bad arguments (unknown field, wrong parameter): repeating cannot help.
const PROGRAMMING = new Set(['ValueError', 'TypeError', 'KeyError', 'AttributeError', 'NotImplementedError', 'IndexError']);

const shortName = (name: string): string => name.split('.').at(-1) ?? name;

export function classifyOdooException(fault: OdooFault, where: string): CarelaneError {
  const kind = shortName(fault.name);
  const message = `Odoo ${where}: ${fault.message}`;
  const details = { where: { field: where } };
  if (kind === 'AccessDenied' || kind === 'Unauthorized') {
    return new CarelaneError('permanent', message, { code: 'odoo_access_denied', ...details });
  }
  if (kind === 'AccessError' || kind === 'Forbidden') return new CarelaneError('permanent', message, { code: 'odoo_access_error', ...details });
  if (kind === 'MissingError') return new CarelaneError('permanent', message, { code: 'odoo_missing_record', ...details });
  if (USER_ERRORS.has(kind)) {
    // Odoo refused the values or the state transition; a person fixes the data and replays (business playbook).
    return new CarelaneError('business', message, {
      code: kind === 'ValidationError' ? 'odoo_validation_error' : 'odoo_user_error',
      exceptionType: 'delivery_failed',
      ...details,
    });
  }
  if (CONCURRENCY.test(fault.name)) return new CarelaneError('transient', message, { code: 'odoo_concurrency', ...details });
  if (kind === 'NotFound') return new CarelaneError('permanent', message, { code: 'odoo_not_found', ...details });
  if (PROGRAMMING.has(kind)) return new CarelaneError('permanent', message, { code: 'odoo_bad_request', ...details });
  if (fault.httpStatus !== undefined && fault.httpStatus >= 400 && fault.httpStatus < 500 && fault.httpStatus !== 408 && fault.httpStatus !== 429) {
    return new CarelaneError('permanent', message, { code: `odoo_http_${fault.httpStatus}`, ...details });
  }
  // Unknown server errors: 5xx, or XML-RPC fault 1 with a traceback. Odoo already retried concurrency
  // failures; other crashes may be a worker restart or a deploy, so the engine retries with backoff.
  return new CarelaneError('transient', message, { code: 'odoo_server_error', ...details });
}

/** XML-RPC fault codes on /xmlrpc/2 (reference/odoo.md §1.1, odoo/addons/base/controllers/rpc.py). */
export function faultFromXmlRpc(faultCode: unknown, faultString: string): OdooFault {
  switch (faultCode) {
    case 2:
      // UserError and its subclasses share code 2; MissingError's message is the only way to tell it apart [K].
      return { name: /does not exist or has been deleted/i.test(faultString) ? 'MissingError' : 'UserError', message: faultString };
    case 3:
      return { name: 'AccessDenied', message: faultString };
    case 4:
      return { name: 'AccessError', message: faultString };
    default:
      return { name: lastExceptionName(faultString) ?? 'ServerError', message: lastLine(faultString) };
  }
}

// Code 1 carries the whole traceback; its last line is "module.ExceptionName: message".
function lastExceptionName(traceback: string): string | undefined {
  return /([A-Za-z_][\w.]*(?:Error|Exception|Failure|Detected|Available))\b:?[^\n]*\s*$/.exec(traceback.trim())?.[1];
}

function lastLine(text: string): string {
  return text.trim().split('\n').at(-1) ?? text;
}

const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * A transport failure. `requestSent` says whether Odoo may have received the call: a refused connection did
 * not reach it (transient); a timeout or reset afterwards may have committed (ambiguous: look up before retrying).
 */
export function classifyTransportFailure(error: unknown, requestSent: boolean, where: string): CarelaneError {
  const code = errorCode(error);
  if (CONNECT_FAILURES.has(code) || !requestSent) {
    return new CarelaneError('transient', `Odoo unreachable at ${where} (${code})`, { code: 'peer_unavailable', peerUnavailable: true, cause: error });
  }
  return new CarelaneError('ambiguous', `no answer from Odoo after ${where} was sent (${code}); it may have been applied`, {
    code: 'no_response',
    peerUnavailable: true,
    cause: error,
  });
}

/**
 * The caller (the engine's attempt deadline or shutdown, HandlerContext.signal) gave up on the call. Same rule as
 * above: before the request left Odoo cannot have seen it (transient); after, it may have committed (ambiguous).
 * Not the peer's fault, so it does not count toward the endpoint's circuit breaker.
 */
export function classifyAbort(reason: unknown, requestSent: boolean, where: string): CarelaneError {
  const why = reason instanceof Error ? reason.message : 'aborted';
  if (!requestSent) return new CarelaneError('transient', `call to Odoo ${where} aborted before it was sent (${why})`, { code: 'aborted_before_send', cause: reason });
  return new CarelaneError('ambiguous', `call to Odoo ${where} aborted after it was sent (${why}); it may have been applied`, { code: 'aborted_after_send', cause: reason });
}

export function errorCode(error: unknown): string {
  const withCause = error as { cause?: { code?: string; name?: string }; code?: string; name?: string };
  return withCause.cause?.code ?? withCause.code ?? withCause.cause?.name ?? withCause.name ?? 'unknown';
}

/** Proxies in front of Odoo answer 502/503/504 while it restarts; 429 if they throttle (§1.7). */
export function classifyHttpFailure(status: number, body: string, where: string, retryAfter: string | null): CarelaneError {
  const seconds = retryAfter === null ? Number.NaN : Number(retryAfter);
  return new CarelaneError(status >= 500 || status === 429 || status === 408 ? 'transient' : 'permanent', `Odoo ${where}: HTTP ${status} ${body.slice(0, 200)}`, {
    code: `odoo_http_${status}`,
    peerUnavailable: status === 429 || status === 502 || status === 503 || status === 504,
    ...(Number.isFinite(seconds) ? { retryAfterMs: seconds * 1000 } : {}),
  });
}
