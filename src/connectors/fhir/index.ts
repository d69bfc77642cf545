// The FHIR R4 connector's door. Pure parts today: validation, mapping to canonical demand, subscription
// notifications; the REST client and the notification listener come next (issue 4).
export { validateResource, assertValidResource, validationError } from './validate.ts';
export { loadR4Definitions, defaultR4Definitions, DEFAULT_R4_DIRECTORY } from './r4-definitions.ts';
export { mapFhirDemand, DEMAND_RESOURCE_TYPES, isDemandResource } from './map-demand.ts';
export { parseSubscriptionNotification, missedEventNumbers } from './subscription-notification.ts';
