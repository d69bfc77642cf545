import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';
import { CarelaneError, type FailureClass } from '../../contracts/errors.ts';
import { classifyHttpStatus } from '../webhook/errors.ts';

/**
 * OperationOutcome both ways: reading a FHIR server's error answers into CarelaneErrors (FHIR R4 http.html
 * "Error handling": servers SHOULD return an OperationOutcome with 4xx/5xx), and writing our own answers
 * to senders (operationoutcome.html: issue.expression is the FHIRPath of the element at fault).
 */

export interface FhirIssue {
  severity: string;
  /** IssueType code (valueset-issue-type): invalid, required, conflict, not-found, processing, ... */
  code: string;
  diagnostics?: string;
  /** FHIRPath expressions (or the deprecated `location` XPath when a server sends only that) */
  expression: string[];
}

/** A FHIR server refused or failed a request; `issues` are its OperationOutcome's, when it sent one. */
export class FhirRequestError extends CarelaneError {
  readonly status: number;
  readonly issues: FhirIssue[];

  constructor(failureClass: FailureClass, message: string, status: number, issues: FhirIssue[], from: CarelaneError) {
    super(failureClass, message, {
      code: from.code,
      peerUnavailable: from.peerUnavailable,
      ...(from.retryAfterMs === undefined ? {} : { retryAfterMs: from.retryAfterMs }),
      ...(from.exceptionType === undefined ? {} : { exceptionType: from.exceptionType }),
      ...(issues[0]?.expression[0] ? { where: { field: issues[0].expression[0] } } : {}),
    });
    this.name = 'FhirRequestError';
    this.status = status;
    this.issues = issues;
  }
}

/**
 * 409/412 on a write: the resource changed since the version we read (http.html "Managing Resource
 * Contention": If-Match with a stale version → 412; servers enforcing version-aware updates may answer 409).
 * Classed `business` (exception delivery_failed), not `permanent`: the request was sound, the EHR — the owner
 * of the resource — moved on. Resending it unchanged can never succeed, so it is not transient either; the
 * caller re-reads, decides whether its change still applies, and writes against the new version.
 */
export class FhirVersionConflictError extends FhirRequestError {
  constructor(message: string, status: number, issues: FhirIssue[]) {
    super('business', message, status, issues, new CarelaneError('business', message, { code: 'fhir_version_conflict', exceptionType: 'delivery_failed' }));
    this.name = 'FhirVersionConflictError';
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The issues of an OperationOutcome body; [] when the body is not one (HTML error pages, empty bodies). */
export function readOperationOutcome(body: string): FhirIssue[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return [];
  }
  if (!isObject(parsed) || parsed.resourceType !== 'OperationOutcome' || !Array.isArray(parsed.issue)) return [];
  return (parsed.issue as unknown[]).filter(isObject).map((raw) => {
    const issue = raw as unknown as OperationOutcomeIssue;
    const paths = [...(issue.expression ?? []), ...(issue.expression?.length ? [] : (issue.location ?? []))];
    const diagnostics = issue.diagnostics ?? issue.details?.text;
    return {
      severity: String(issue.severity ?? 'error'),
      code: String(issue.code ?? 'unknown'),
      ...(diagnostics ? { diagnostics } : {}),
      expression: paths.filter((p): p is string => typeof p === 'string'),
    };
  });
}

/**
 * A non-2xx answer → its CarelaneError. Classes follow the engine's HTTP rule (webhook/errors.ts, RFC 9110):
 * 408/429/5xx transient, other 4xx permanent — 401/403 (credentials or scopes), 404/410 (http.html: 410 is a
 * deleted resource), 422 (http.html: the content broke a profile or business rule) will not change on resend.
 * 409/412 are version conflicts (FhirVersionConflictError).
 */
export function fhirResponseError(status: number, body: string, retryAfter: string | null, what: string): FhirRequestError {
  const issues = readOperationOutcome(body);
  const summary = issues.length
    ? issues
        .slice(0, 5)
        .map((i) => `[${i.code}]${i.expression.length ? ` ${i.expression.join(', ')}` : ''}${i.diagnostics ? `: ${i.diagnostics}` : ''}`)
        .join('; ')
    : body.slice(0, 200);
  const message = `FHIR server answered ${what} with HTTP ${status}: ${summary}`;
  if (status === 409 || status === 412) return new FhirVersionConflictError(message, status, issues);
  const classified = classifyHttpStatus(status, body, retryAfter);
  return new FhirRequestError(classified.failureClass, message, status, issues, classified);
}

/** An OperationOutcome for an answer we send; `expression` names the element at fault. */
export function operationOutcome(issues: ReadonlyArray<{ severity?: OperationOutcomeIssue['severity']; code: OperationOutcomeIssue['code']; diagnostics: string; expression?: string }>): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: issues.map((issue) => ({
      severity: issue.severity ?? 'error',
      code: issue.code,
      diagnostics: issue.diagnostics,
      ...(issue.expression ? { expression: [issue.expression] } : {}),
    })),
  };
}
