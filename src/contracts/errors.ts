/**
 * The one error type of Carelane (CONVENTIONS.md: "one error type that carries its class").
 * Every connector classifies its failures into these classes; the engine acts on the class alone
 * (DESIGN.md principle 3): transient → retry with backoff; ambiguous → look at the receiver, then retry;
 * permanent → exception at once; business → a typed exception with a playbook.
 */
export type FailureClass = 'transient' | 'ambiguous' | 'permanent' | 'business';

export interface ErrorLocation {
  /** dotted path of a field, e.g. 'MSH.9' or 'engine.lanes.bulk.concurrency' */
  field?: string;
  segment?: string;
  line?: number;
  position?: number;
}

export interface CarelaneErrorOptions {
  /** short machine-readable code: 'peer_unavailable', 'http_400', 'mllp_oversize', ... */
  code: string;
  where?: ErrorLocation;
  /** the business exception type to open (mapping_failure, price_variance, ...) for class 'business' */
  exceptionType?: string;
  /** true when the peer itself is unreachable or overloaded: counts toward its circuit breaker */
  peerUnavailable?: boolean;
  /** earliest sensible retry, e.g. from a Retry-After header */
  retryAfterMs?: number;
  /** facts for the exception a person works on (e.g. the unmapped values of a mapping_failure); no PHI */
  detail?: Record<string, unknown>;
  cause?: unknown;
}

export class CarelaneError extends Error {
  readonly failureClass: FailureClass;
  readonly code: string;
  readonly where: ErrorLocation | undefined;
  readonly exceptionType: string | undefined;
  readonly peerUnavailable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly detail: Record<string, unknown> | undefined;

  constructor(failureClass: FailureClass, message: string, options: CarelaneErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CarelaneError';
    this.failureClass = failureClass;
    this.code = options.code;
    this.where = options.where;
    this.exceptionType = options.exceptionType;
    this.peerUnavailable = options.peerUnavailable ?? false;
    this.retryAfterMs = options.retryAfterMs;
    this.detail = options.detail;
  }

  get retryable(): boolean {
    return this.failureClass === 'transient' || this.failureClass === 'ambiguous';
  }
}

export const transientError = (message: string, options: CarelaneErrorOptions) => new CarelaneError('transient', message, options);
export const ambiguousError = (message: string, options: CarelaneErrorOptions) => new CarelaneError('ambiguous', message, options);
export const permanentError = (message: string, options: CarelaneErrorOptions) => new CarelaneError('permanent', message, options);
export const businessError = (exceptionType: string, message: string, options: Omit<CarelaneErrorOptions, 'exceptionType'>) =>
  new CarelaneError('business', message, { ...options, exceptionType });

/**
 * Anything thrown that is not a CarelaneError is a bug or an unforeseen failure: treat it as permanent so it
 * reaches a person instead of being retried forever.
 */
export function classify(error: unknown): CarelaneError {
  if (error instanceof CarelaneError) return error;
  // PostgreSQL serialization failures and deadlocks (SQLSTATE 40001, 40P01) succeed when simply retried.
  const sqlState = (error as { code?: unknown }).code;
  if (sqlState === '40001' || sqlState === '40P01') {
    return new CarelaneError('transient', (error as Error).message, { code: `postgres_${sqlState}`, cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new CarelaneError('permanent', message, { code: 'unexpected_error', cause: error });
}

/** Describes where an error happened in the words a user reads: "segment MSH, field MSH.9, line 1". */
export function describeLocation(where: ErrorLocation | undefined): string {
  if (!where) return '';
  const parts: string[] = [];
  if (where.segment) parts.push(`segment ${where.segment}`);
  if (where.field) parts.push(`field ${where.field}`);
  if (where.line !== undefined) parts.push(`line ${where.line}`);
  if (where.position !== undefined) parts.push(`position ${where.position}`);
  return parts.join(', ');
}
