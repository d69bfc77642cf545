import type { Resource } from '@medplum/fhirtypes';
import type { InboundMessage } from '../../contracts/inbound.ts';
import type { R4Definitions } from './r4-definitions.ts';
import { validateResource, type ValidationIssue } from './validate.ts';

/**
 * One FHIR resource as an inbound message, the same whichever way it came (a webhook POST or a search page of
 * the poller): message type `FHIR_<Type>`, a version key as external id so a second copy of the same version
 * is a duplicate, one ordering key per resource, and a refusal naming the path when it is not valid R4.
 */

export interface Refusal {
  messageType: string;
  reason: string;
  code: 'invalid' | 'structure' | 'required' | 'value' | 'too-long' | 'processing';
  diagnostics: string;
  expression?: string;
}

export type ResourceMessage = Pick<InboundMessage, 'messageType' | 'externalId' | 'dedupeScope' | 'orderingKey'>;

export type ResourceReading = { message: ResourceMessage } | { refusal: Refusal };

export interface VersionKeyOptions {
  /**
   * Without a versionId, `<Type>/<id>@<lastUpdated>` names the version. Right for resources read from the server
   * that stamps lastUpdated (the poller); a webhook sender's lastUpdated may not change with the content, so
   * there the content hash decides instead.
   */
  lastUpdatedFallback?: boolean;
}

/**
 * The key of one version of one resource: `<Type>/<id>/_history/<versionId>` (http.html "vread"), else, when
 * asked for, `<Type>/<id>@<lastUpdated>`; undefined when neither names a version.
 */
export function resourceVersionKey(resource: Partial<Resource>, options: VersionKeyOptions = {}): string | undefined {
  const { resourceType: type, id } = resource;
  if (!type || !id) return undefined;
  const versionId = resource.meta?.versionId;
  if (versionId) return `${type}/${id}/_history/${versionId}`;
  const lastUpdated = resource.meta?.lastUpdated;
  if (options.lastUpdatedFallback && lastUpdated) return `${type}/${id}@${lastUpdated}`;
  return undefined;
}

/** Reads a parsed JSON value that should be one `type` resource; never throws. */
export function readResourceValue(value: unknown, type: string, definitions: R4Definitions | undefined, options: VersionKeyOptions = {}): ResourceReading {
  const messageType = `FHIR_${type}`;
  const resource = value as Partial<Resource> | null;
  if (typeof resource !== 'object' || resource === null || resource.resourceType !== type) {
    const given = typeof resource === 'object' && resource !== null ? resource.resourceType : undefined;
    const diagnostics = `the body is a ${JSON.stringify(given ?? null)}, this endpoint takes ${type}`;
    return { refusal: { messageType, reason: `fhir_wrong_type: ${diagnostics}`, code: 'invalid', diagnostics, expression: 'resourceType' } };
  }
  const issues = validateResource(resource, definitions).issues;
  if (issues.length) return { refusal: invalidResource(messageType, issues) };
  const externalId = resourceVersionKey(resource, options);
  return {
    message: {
      messageType,
      // A resend of one version is a duplicate, a new version is new. Without a key the content hash decides.
      ...(externalId ? { externalId } : {}),
      // Versions of one resource are processed in order; different resources need not wait for each other.
      orderingKey: resource.id ? `${type}/${resource.id}` : null,
    },
  };
}

export function invalidResource(messageType: string, issues: ValidationIssue[], prefix?: string): Refusal {
  // Validation paths start with the resource type (`SupplyRequest.quantity`); inside a Bundle the element
  // is `Bundle.entry[1].resource.quantity` (FHIRPath).
  const at = (path: string) => (prefix ? `${prefix}${path.includes('.') ? path.slice(path.indexOf('.')) : ''}` : path);
  const first = issues[0]!;
  const listed = issues.slice(0, 10).map((i) => `${at(i.path)}: ${i.message}`).join('; ');
  const code = first.code === 'required' ? 'required' : first.code === 'value' ? 'value' : 'structure';
  return { messageType, reason: `fhir_invalid_resource: ${listed}`, code, diagnostics: listed, expression: at(first.path) };
}
