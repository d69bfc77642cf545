// The FHIR R4 connector's door: validation, mapping to canonical demand, subscription notifications, the
// REST client (with its authentication) and the inbound HTTP listener (issue 4).
export { validateResource, assertValidResource, validationError } from './validate.ts';
export { loadR4Definitions, defaultR4Definitions, DEFAULT_R4_DIRECTORY } from './r4-definitions.ts';
export { mapFhirDemand, DEMAND_RESOURCE_TYPES, isDemandResource } from './map-demand.ts';
export { parseSubscriptionNotification, missedEventNumbers } from './subscription-notification.ts';
export { FhirClient, versionFromETag, type FhirClientOptions, type SearchParams, type SearchPage, type UpdateResult, type CreateResult } from './client.ts';
export { staticBearerToken, smartBackendServices, type FhirAuth, type SmartBackendServicesOptions } from './auth.ts';
export { FhirRequestError, FhirVersionConflictError, fhirResponseError, readOperationOutcome, operationOutcome, type FhirIssue } from './operation-outcome.ts';
export { fhirRequestListener, startFhirListener, type FhirListener, type FhirListenerOptions, type FhirSharedSecret } from './listener.ts';
export {
  fhirHandlers, updateStatusHandler, createTaskHandler, FHIR_STATUS_VALUES, TASK_IDENTIFIER_SYSTEM, BUSINESS_STATUS_SYSTEM,
  type FhirClientFor, type FhirStatusUpdate, type FhirTaskRequest, type FhirTaskStatus, type FhirHandlerOptions,
} from './handlers.ts';
export { fhirServers, fhirAuthFor, type FhirServerSettings } from './servers.ts';
export {
  mapFhirReference, REFERENCE_RESOURCE_TYPES,
  type ReferenceRecord, type LocationRecord, type OrganizationRecord, type DeviceRecord, type ReferenceLocationKind, type ReferenceMappingContext,
} from './map-reference.ts';
export { startFhirPolling, pollCursorLags, type FhirPolling, type FhirPollingOptions } from './polling.ts';
export { startFhirPoller, pollResourceType, pollServer, type FhirPoller, type FhirPollerOptions, type PollRun, type PollStop } from './poller.ts';
export { FhirPollSchema, pollSettingsProblems, type FhirPollSettings } from './poll-settings.ts';
export { readCursors } from './poll-store.ts';
