import type { Bundle, BundleEntry, CodeableConcept, Parameters, ParametersParameter, Reference, Resource } from '@medplum/fhirtypes';
import { CarelaneError, permanentError } from '../../contracts/errors.ts';

/**
 * Reads a REST-hook notification of the Subscriptions R5 Backport IG (hl7.org/fhir/uv/subscriptions-backport,
 * STU 1.1, "Notifications"): a Bundle of type `history` whose first entry is the subscription status —
 * in R4 a `Parameters` resource with the profile backport-subscription-status-r4, in R4B a `SubscriptionStatus`.
 * The remaining entries carry the changed resources for `id-only`/`full-resource` payloads; an `empty`
 * payload carries only the status. Pure: parsed JSON in, a typed notification out.
 */

/** backport-notification-type (IG value set): handshake on subscription start, heartbeat when idle, event-notification, query results. */
export type NotificationType = 'handshake' | 'heartbeat' | 'event-notification' | 'query-status' | 'query-event';
const NOTIFICATION_TYPES: readonly string[] = ['handshake', 'heartbeat', 'event-notification', 'query-status', 'query-event'];

/** Subscription.status in R4 (subscription-status): requested | active | error | off; entered-in-error in R4B. */
export type SubscriptionState = 'requested' | 'active' | 'error' | 'off' | 'entered-in-error';
const SUBSCRIPTION_STATES: readonly string[] = ['requested', 'active', 'error', 'off', 'entered-in-error'];

export interface NotificationEvent {
  /** the event's number in the subscription's sequence; gaps reveal missed notifications (IG "Error Handling") */
  eventNumber?: number;
  timestamp?: string;
  /** reference to the resource the event is about (absent with an `empty` payload) */
  focus?: string;
  additionalContext: string[];
  /** the focus resource when the bundle carries it (`full-resource` payload) */
  resource?: Resource;
}

export interface SubscriptionNotification {
  format: 'r4-parameters' | 'r4b-subscription-status';
  /** reference to the Subscription (Parameters `subscription`, SubscriptionStatus.subscription) */
  subscription: string;
  topic?: string;
  status: SubscriptionState;
  type: NotificationType;
  /** events since the subscription started, including this notification's; a string in R4 (no integer64) */
  eventsSinceSubscriptionStart?: number;
  events: NotificationEvent[];
  errors: CodeableConcept[];
  /** the bundle's other entries: resources sent with the notification */
  resources: Resource[];
}

function invalid(message: string, field: string): CarelaneError {
  return permanentError(`invalid subscription notification: ${message}`, { code: 'fhir_invalid_notification', where: { field } });
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A non-negative whole number written as a string or a number (event counts are strings in R4, integer64 in R5). */
function eventCount(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string' || !/^\d+$/.test(text)) throw invalid(`${JSON.stringify(value)} is not an event count`, field);
  const count = Number(text);
  if (!Number.isSafeInteger(count)) throw invalid(`${text} is beyond the counts this engine tracks`, field);
  return count;
}

const referenceText = (reference: Reference | undefined): string | undefined => reference?.reference ?? reference?.identifier?.value;

/** Parses a notification bundle; throws a permanent CarelaneError (code 'fhir_invalid_notification') naming the path. */
export function parseSubscriptionNotification(input: unknown): SubscriptionNotification {
  try {
    return parseNotification(input);
  } catch (error) {
    if (error instanceof CarelaneError) throw error;
    // The body is untrusted JSON and the checks above name the paths they know; a value of a wrong JSON type
    // anywhere else (found by fuzzing: a numeric fullUrl, a non-array additionalContext) is refused as a whole.
    throw invalid(`an element has the wrong JSON type (${(error as Error).message})`, 'Bundle');
  }
}

function parseNotification(input: unknown): SubscriptionNotification {
  if (!isObject(input) || input.resourceType !== 'Bundle') throw invalid('the body is not a FHIR Bundle', 'Bundle.resourceType');
  const bundle = input as unknown as Bundle;
  // IG "Notifications": notification bundles are of type `history` (R4/R4B; R5 adds `subscription-notification`).
  if (bundle.type !== 'history' && bundle.type !== ('subscription-notification' as Bundle['type'])) {
    throw invalid(`Bundle.type is ${JSON.stringify(bundle.type ?? null)}, a notification is 'history'`, 'Bundle.type');
  }
  const entries: BundleEntry[] = Array.isArray(bundle.entry) ? bundle.entry : [];
  const status = entries[0]?.resource;
  if (!status) throw invalid('the first entry holds no subscription status', 'Bundle.entry[0].resource');
  const others = entries.slice(1);
  const resources = others.map((entry) => entry.resource).filter((resource): resource is Resource => resource !== undefined);
  let notification: SubscriptionNotification;
  if (status.resourceType === 'Parameters') notification = fromParameters(status);
  else if ((status.resourceType as string) === 'SubscriptionStatus') notification = fromSubscriptionStatus(status as unknown as R4BSubscriptionStatus);
  else throw invalid(`the first entry is a ${status.resourceType}, not Parameters or SubscriptionStatus`, 'Bundle.entry[0].resource.resourceType');
  notification.resources = resources;
  for (const event of notification.events) {
    const found = event.focus ? findEntry(others, event.focus) : undefined;
    if (found) event.resource = found;
  }
  return notification;
}

/** An entry whose fullUrl is the focus reference, or ends with it when the reference is relative (`Patient/1`). */
function findEntry(entries: BundleEntry[], reference: string): Resource | undefined {
  for (const entry of entries) {
    const resource = entry.resource;
    if (!resource) continue;
    if (entry.fullUrl === reference || entry.fullUrl?.endsWith(`/${reference}`)) return resource;
    if (resource.id && `${resource.resourceType}/${resource.id}` === reference) return resource;
  }
  return undefined;
}

function checkState(status: unknown, type: unknown, base: string): { status: SubscriptionState; type: NotificationType } {
  if (typeof status !== 'string' || !SUBSCRIPTION_STATES.includes(status)) throw invalid(`status ${JSON.stringify(status ?? null)} is not a subscription status`, `${base}.status`);
  if (typeof type !== 'string' || !NOTIFICATION_TYPES.includes(type)) throw invalid(`type ${JSON.stringify(type ?? null)} is not a notification type`, `${base}.type`);
  return { status: status as SubscriptionState, type: type as NotificationType };
}

const STATUS_PATH = 'Bundle.entry[0].resource';

/**
 * The input is untrusted JSON: a list element must be an array of objects, else the notification is invalid
 * at that path (found by fuzzing: `parameter: 'x'` and `parameter: [null]` used to throw a TypeError).
 */
function objectList<T>(value: unknown, at: string): T[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalid('must be an array', at);
  value.forEach((item, index) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw invalid('must be an object', `${at}[${index}]`);
  });
  return value as T[];
}

/** The R4 profile backport-subscription-status-r4: parameters subscription (1..1), topic, status (1..1), type (1..1), events-since-subscription-start, notification-event (parts event-number, timestamp, focus, additional-context), error. */
function fromParameters(parameters: Parameters): SubscriptionNotification {
  const list = objectList<ParametersParameter>(parameters.parameter, `${STATUS_PATH}.parameter`);
  const path = (name: string): string => `${STATUS_PATH}.parameter.where(name='${name}')`;
  const one = (name: string): ParametersParameter | undefined => list.find((p) => p.name === name);
  const subscription = referenceText(one('subscription')?.valueReference);
  if (!subscription) throw invalid('the subscription parameter is missing', path('subscription'));
  const state = checkState(one('status')?.valueCode, one('type')?.valueCode, STATUS_PATH);
  const notification: SubscriptionNotification = { format: 'r4-parameters', subscription, ...state, events: [], errors: [], resources: [] };
  const topic = one('topic')?.valueCanonical ?? one('topic')?.valueUri;
  if (topic) notification.topic = topic;
  const since = one('events-since-subscription-start');
  const count = eventCount(since?.valueString ?? since?.valueInteger ?? since?.valueUnsignedInt, path('events-since-subscription-start'));
  if (count !== undefined) notification.eventsSinceSubscriptionStart = count;
  list.forEach((parameter, index) => {
    if (parameter.name === 'error' && parameter.valueCodeableConcept) notification.errors.push(parameter.valueCodeableConcept);
    if (parameter.name !== 'notification-event') return;
    const parts = objectList<ParametersParameter>(parameter.part, `${STATUS_PATH}.parameter[${index}].part`);
    const part = (name: string): ParametersParameter | undefined => parts.find((p) => p.name === name);
    const event: NotificationEvent = { additionalContext: [] };
    const number = eventCount(part('event-number')?.valueString ?? part('event-number')?.valueInteger, `${STATUS_PATH}.parameter[${index}].part.where(name='event-number')`);
    if (number !== undefined) event.eventNumber = number;
    const timestamp = part('timestamp')?.valueInstant;
    if (timestamp) event.timestamp = timestamp;
    const focus = referenceText(part('focus')?.valueReference);
    if (focus) event.focus = focus;
    for (const context of parts.filter((p) => p.name === 'additional-context')) {
      const reference = referenceText(context.valueReference);
      if (reference) event.additionalContext.push(reference);
    }
    notification.events.push(event);
  });
  return notification;
}

/** R4B SubscriptionStatus (hl7.org/fhir/R4B/subscriptionstatus.html): eventNumber and eventsSinceSubscriptionStart are strings there. */
interface R4BSubscriptionStatus {
  resourceType: 'SubscriptionStatus';
  status?: string;
  type?: string;
  eventsSinceSubscriptionStart?: string | number;
  notificationEvent?: Array<{ eventNumber?: string | number; timestamp?: string; focus?: Reference; additionalContext?: Reference[] }>;
  subscription?: Reference;
  topic?: string;
  error?: CodeableConcept[];
}

function fromSubscriptionStatus(status: R4BSubscriptionStatus): SubscriptionNotification {
  const subscription = referenceText(status.subscription);
  if (!subscription) throw invalid('SubscriptionStatus.subscription is missing', `${STATUS_PATH}.subscription`);
  const state = checkState(status.status, status.type, STATUS_PATH);
  const notification: SubscriptionNotification = { format: 'r4b-subscription-status', subscription, ...state, events: [], errors: status.error ?? [], resources: [] };
  if (status.topic) notification.topic = status.topic;
  const count = eventCount(status.eventsSinceSubscriptionStart, `${STATUS_PATH}.eventsSinceSubscriptionStart`);
  if (count !== undefined) notification.eventsSinceSubscriptionStart = count;
  objectList<NonNullable<R4BSubscriptionStatus['notificationEvent']>[number]>(status.notificationEvent, `${STATUS_PATH}.notificationEvent`).forEach((source, index) => {
    const event: NotificationEvent = { additionalContext: (source.additionalContext ?? []).map(referenceText).filter((r): r is string => !!r) };
    const number = eventCount(source.eventNumber, `${STATUS_PATH}.notificationEvent[${index}].eventNumber`);
    if (number !== undefined) event.eventNumber = number;
    if (source.timestamp) event.timestamp = source.timestamp;
    const focus = referenceText(source.focus);
    if (focus) event.focus = focus;
    notification.events.push(event);
  });
  return notification;
}

/**
 * Event numbers this notification should have followed but did not: the IG ("Error Handling") has the
 * subscriber detect gaps and recover them with $events or a search. `lastSeen` is the last event number processed.
 */
export function missedEventNumbers(notification: SubscriptionNotification, lastSeen: number): number[] {
  const numbers = notification.events.map((e) => e.eventNumber).filter((n): n is number => n !== undefined);
  const count = notification.eventsSinceSubscriptionStart;
  let firstUnseen: number; // the first event number this notification accounts for
  if (numbers.length > 0) firstUnseen = Math.min(...numbers);
  // an `empty` event-notification is one event, numbered by the count (which includes it)
  else if (notification.type === 'event-notification' && count !== undefined) firstUnseen = count;
  // a heartbeat carries no event: every event up to the count should have arrived already
  else if (notification.type === 'heartbeat' && count !== undefined) firstUnseen = count + 1;
  else return [];
  const missed: number[] = [];
  for (let n = lastSeen + 1; n < firstUnseen && missed.length < 1000; n++) missed.push(n);
  return missed;
}
