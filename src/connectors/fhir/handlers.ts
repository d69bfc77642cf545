import type { CodeableConcept, Resource, SupplyDelivery, Task } from '@medplum/fhirtypes';
import { permanentError, transientError } from '../../contracts/errors.ts';
import type { ClaimedDelivery, DeliveryHandler, HandlerContext, StageRecord } from '../../engine/handlers.ts';
import type { FhirClient } from './client.ts';
import { FhirVersionConflictError } from './operation-outcome.ts';

/**
 * Status write-back to the EHR over FHIR R4 (issue 4: "status back as the resource's own status or a Task").
 * Two delivery actions a flow can enqueue:
 * - `fhir.update_status`: the demand resource's own status, by a version-aware update (http.html "Managing
 *   Resource Contention": If-Match on the versionId just read). A 412 means the EHR changed the resource in
 *   between: it is read again and the change reapplied if it still means something.
 * - `fhir.create_task`: a Task whose focus is the demand resource (task.html: Task.focus "what task is acting
 *   on"), with status and businessStatus saying reserved / partially reserved / backordered / released, made
 *   by conditional create (http.html "Conditional create", If-None-Exist) on an identifier built from the key,
 *   so a retry after a lost answer finds the Task instead of creating a second one.
 * Both have a `lookup` that reads the EHR to tell whether an ambiguous attempt landed.
 */

/** The FHIR server a delivery's endpoint names (carelane.yaml `fhir.servers`). */
export type FhirClientFor = (endpoint: string) => FhirClient;

/** Payload of `fhir.update_status`. */
export interface FhirStatusUpdate {
  /** the demand resource as `Type/id`, e.g. 'SupplyRequest/123' */
  resource: string;
  /** the new status, from the resource type's own value set (FHIR_STATUS_VALUES) */
  status: string;
  /**
   * Only reapply after a conflict (or apply at all) while the resource is in one of these statuses; default:
   * while it is not in a final status of its type (completed, cancelled, entered-in-error, ...).
   */
  onlyFrom?: string[];
}

/** Task.status (R4 valueset-task-status). */
export type FhirTaskStatus =
  | 'draft' | 'requested' | 'received' | 'accepted' | 'rejected' | 'ready' | 'cancelled' | 'in-progress' | 'on-hold' | 'failed' | 'completed' | 'entered-in-error';

/** Payload of `fhir.create_task`. */
export interface FhirTaskRequest {
  /** the demand resource the Task is about, as `Type/id` */
  focus: string;
  /** e.g. { code: 'reserved', display: 'Reserved' }, { code: 'backordered', display: 'Backordered' } */
  businessStatus: { code: string; display?: string; system?: string };
  status: FhirTaskStatus;
  /** free text for the EHR's users (Task.note); never patient data */
  note?: string;
  /**
   * One Task per demand rather than per delivery: when given, the Task's identifier is this key, and a later
   * delivery with the same taskKey updates that Task's status instead of creating another. Default: the
   * delivery's idempotency key.
   */
  taskKey?: string;
}

export interface FhirHandlerOptions {
  /** Task.identifier.system of Carelane's Tasks (default TASK_IDENTIFIER_SYSTEM) */
  taskIdentifierSystem?: (endpoint: string) => string;
}

export const TASK_IDENTIFIER_SYSTEM = 'urn:carelane:task-key';
/** The default system of Task.businessStatus codes Carelane writes (reserved, partially-reserved, backordered, released). */
export const BUSINESS_STATUS_SYSTEM = 'urn:carelane:fulfilment-status';

const TASK_STATUSES: readonly FhirTaskStatus[] = ['draft', 'requested', 'received', 'accepted', 'rejected', 'ready', 'cancelled', 'in-progress', 'on-hold', 'failed', 'completed', 'entered-in-error'];
const REQUEST_STATUS = ['draft', 'active', 'on-hold', 'revoked', 'completed', 'entered-in-error', 'unknown'];

/**
 * The status value set of each writable demand resource (R4): SupplyRequest (supplyrequest-status),
 * ServiceRequest and DeviceRequest (request-status), MedicationRequest (medicationrequest-status),
 * Appointment (appointmentstatus), SupplyDelivery (supplydelivery-status), Task (task-status).
 */
export const FHIR_STATUS_VALUES: Readonly<Record<string, { all: readonly string[]; final: readonly string[] }>> = {
  SupplyRequest: { all: ['draft', 'active', 'suspended', 'cancelled', 'completed', 'entered-in-error', 'unknown'], final: ['cancelled', 'completed', 'entered-in-error'] },
  ServiceRequest: { all: REQUEST_STATUS, final: ['revoked', 'completed', 'entered-in-error'] },
  DeviceRequest: { all: REQUEST_STATUS, final: ['revoked', 'completed', 'entered-in-error'] },
  MedicationRequest: { all: ['active', 'on-hold', 'cancelled', 'completed', 'entered-in-error', 'stopped', 'draft', 'unknown'], final: ['cancelled', 'completed', 'entered-in-error', 'stopped'] },
  Appointment: {
    all: ['proposed', 'pending', 'booked', 'arrived', 'fulfilled', 'cancelled', 'noshow', 'entered-in-error', 'checked-in', 'waitlist'],
    final: ['fulfilled', 'cancelled', 'noshow', 'entered-in-error'],
  },
  SupplyDelivery: { all: ['in-progress', 'completed', 'abandoned', 'entered-in-error'], final: ['completed', 'abandoned', 'entered-in-error'] },
  Task: { all: TASK_STATUSES, final: ['rejected', 'cancelled', 'failed', 'completed', 'entered-in-error'] },
};

/** Re-reads after 412 before giving up for now: each one means the EHR changed the resource under us again. */
const MAX_CONFLICT_ROUNDS = 3;

/** `fhir.update_status`: payload FhirStatusUpdate. Applied = the resource has that status. */
export function updateStatusHandler(clientFor: FhirClientFor): DeliveryHandler {
  return {
    action: 'fhir.update_status',
    async run(delivery, context) {
      const request = statusUpdateOf(delivery);
      const client = clientFor(delivery.endpoint);
      const [type, id] = splitReference(request.resource, 'payload.resource');
      for (let round = 1; ; round++) {
        const current = (await client.read(type as Resource['resourceType'], id, context.signal)) as Resource & { status?: string };
        const skip = reasonToSkip(request, current);
        if (skip) return { stages: [stage(delivery, skip.outcome, { resource: request.resource, status: current.status, wanted: request.status, reason: skip.reason })] };
        try {
          const result = await client.update({ ...current, status: request.status } as Resource, versionAware(current, context.signal));
          return { stages: [stage(delivery, 'ok', { resource: request.resource, from: current.status, status: request.status, versionId: result.versionId })] };
        } catch (error) {
          // http.html: 412 = our If-Match no longer names the current version. Read again and decide again.
          if (!(error instanceof FhirVersionConflictError)) throw error;
          if (round >= MAX_CONFLICT_ROUNDS) {
            throw transientError(`${request.resource} changed ${round} times while its status was being written; will try again`, { code: 'fhir_status_contention', cause: error });
          }
          context.log.debug({ resource: request.resource, round }, 'FHIR status update met a newer version; re-reading');
        }
      }
    },
    async lookup(delivery, context) {
      const request = statusUpdateOf(delivery);
      const [type, id] = splitReference(request.resource, 'payload.resource');
      const current = (await clientFor(delivery.endpoint).read(type as Resource['resourceType'], id, context.signal)) as Resource & { status?: string };
      return current.status === request.status ? 'applied' : 'not_applied';
    },
  };
}

/** `fhir.create_task`: payload FhirTaskRequest. Applied = a Task with our identifier has the requested status and businessStatus. */
export function createTaskHandler(clientFor: FhirClientFor, options: FhirHandlerOptions = {}): DeliveryHandler {
  const systemOf = options.taskIdentifierSystem ?? (() => TASK_IDENTIFIER_SYSTEM);
  return {
    action: 'fhir.create_task',
    async run(delivery, context) {
      const request = taskRequestOf(delivery);
      const client = clientFor(delivery.endpoint);
      const identifier = { system: systemOf(delivery.endpoint), value: request.taskKey ?? delivery.idempotencyKey };
      const wanted = taskFor(request, identifier);
      const { resource: task, created } = await createOnce(client, wanted, identifier, context.signal);
      if (created || sameStatus(task, wanted)) {
        return { stages: [stage(delivery, 'ok', { task: `Task/${task.id}`, created, focus: request.focus, status: request.status, businessStatus: request.businessStatus.code })] };
      }
      // The Task exists from an earlier delivery of the same taskKey: move it to the new status.
      const updated = await updateTask(client, task, wanted, context);
      return { stages: [stage(delivery, 'ok', { task: `Task/${updated.id}`, created: false, focus: request.focus, status: request.status, businessStatus: request.businessStatus.code })] };
    },
    async lookup(delivery, context) {
      const request = taskRequestOf(delivery);
      const identifier = { system: systemOf(delivery.endpoint), value: request.taskKey ?? delivery.idempotencyKey };
      const task = await findTask(clientFor(delivery.endpoint), identifier, context.signal);
      return task && sameStatus(task, taskFor(request, identifier)) ? 'applied' : 'not_applied';
    },
  };
}

/** Payload of `fhir.create_supply_delivery` (src/flows/supplier/supply-delivery.ts): received stock told to the EHR. */
export interface FhirSupplyDeliveryRequest {
  /** Carelane's key of this delivery: SupplyDelivery.identifier value, the conditional create's criterion */
  key: string;
  status: 'in-progress' | 'completed' | 'abandoned';
  /** the SupplyRequest it fulfils, as `SupplyRequest/id` (R4 SupplyDelivery.basedOn) */
  basedOn?: string;
  quantity: number;
  /** the EHR's code of the item (item crosswalk), or a text when it has none */
  item: { system: string; code: string } | { text: string };
  /** ISO 8601: when the goods were received */
  occurredAt: string;
}

export const SUPPLY_DELIVERY_IDENTIFIER_SYSTEM = 'urn:carelane:supply-delivery';

/**
 * `fhir.create_supply_delivery`: payload FhirSupplyDeliveryRequest. Made by conditional create on its identifier
 * (http.html "Conditional create", If-None-Exist), keyed like fhir.create_task, so a retry after a lost answer
 * finds the resource instead of making a second. Applied = a SupplyDelivery with our identifier exists.
 */
export function createSupplyDeliveryHandler(clientFor: FhirClientFor): DeliveryHandler {
  return {
    action: 'fhir.create_supply_delivery',
    async run(delivery, context) {
      const request = supplyDeliveryRequestOf(delivery);
      const identifier = { system: SUPPLY_DELIVERY_IDENTIFIER_SYSTEM, value: request.key };
      const { resource, created } = await clientFor(delivery.endpoint).create<SupplyDelivery>(supplyDeliveryFor(request, identifier), { ifNoneExist: { identifier: `${identifier.system}|${identifier.value}` }, signal: context.signal });
      return { stages: [stage(delivery, 'ok', { supplyDelivery: `SupplyDelivery/${resource.id}`, created, basedOn: request.basedOn, quantity: request.quantity })] };
    },
    async lookup(delivery, context) {
      const request = supplyDeliveryRequestOf(delivery);
      for await (const found of clientFor(delivery.endpoint).search<SupplyDelivery>('SupplyDelivery', { identifier: `${SUPPLY_DELIVERY_IDENTIFIER_SYSTEM}|${request.key}` }, context.signal)) return found ? 'applied' : 'not_applied';
      return 'not_applied';
    },
  };
}

function supplyDeliveryFor(request: FhirSupplyDeliveryRequest, identifier: { system: string; value: string }): SupplyDelivery {
  const item: CodeableConcept = 'code' in request.item ? { coding: [{ ...(request.item.system ? { system: request.item.system } : {}), code: request.item.code }] } : { text: request.item.text };
  return {
    resourceType: 'SupplyDelivery',
    identifier: [identifier],
    status: request.status,
    ...(request.basedOn ? { basedOn: [{ reference: request.basedOn }] } : {}),
    suppliedItem: { quantity: { value: request.quantity }, itemCodeableConcept: item },
    occurrenceDateTime: request.occurredAt,
  };
}

function supplyDeliveryRequestOf(delivery: ClaimedDelivery): FhirSupplyDeliveryRequest {
  const payload = objectPayload(delivery);
  if (typeof payload.key !== 'string' || !payload.key) throw permanentError('payload.key is missing', { code: 'fhir_bad_payload', where: { field: 'payload.key' } });
  if (!FHIR_STATUS_VALUES.SupplyDelivery!.all.includes(String(payload.status))) {
    throw permanentError(`${JSON.stringify(payload.status)} is not a SupplyDelivery.status`, { code: 'fhir_bad_status', where: { field: 'payload.status' } });
  }
  if (payload.basedOn !== undefined) splitReference(payload.basedOn, 'payload.basedOn');
  if (typeof payload.quantity !== 'number' || !(payload.quantity > 0)) throw permanentError('payload.quantity must be above 0', { code: 'fhir_bad_payload', where: { field: 'payload.quantity' } });
  if (typeof payload.item !== 'object' || payload.item === null) throw permanentError('payload.item is missing', { code: 'fhir_bad_payload', where: { field: 'payload.item' } });
  return payload as unknown as FhirSupplyDeliveryRequest;
}

export function fhirHandlers(clientFor: FhirClientFor, options: FhirHandlerOptions = {}): DeliveryHandler[] {
  return [updateStatusHandler(clientFor), createTaskHandler(clientFor, options), createSupplyDeliveryHandler(clientFor)];
}

/** Why a status write would be wrong or pointless now: already there, or the EHR has moved the resource on. */
function reasonToSkip(request: FhirStatusUpdate, current: Resource & { status?: string }): { outcome: 'ok' | 'skipped'; reason: string } | undefined {
  if (current.status === request.status) return { outcome: 'ok', reason: 'already has this status' };
  const from = current.status ?? '';
  if (request.onlyFrom) {
    return request.onlyFrom.includes(from) ? undefined : { outcome: 'skipped', reason: `status ${from} is not one the update applies to (${request.onlyFrom.join(', ')})` };
  }
  // The EHR owns the resource: a final status it set (cancelled, completed, ...) is not overwritten.
  return FHIR_STATUS_VALUES[current.resourceType]?.final.includes(from) ? { outcome: 'skipped', reason: `the EHR set the final status ${from}` } : undefined;
}

async function createOnce(client: FhirClient, wanted: Task, identifier: { system: string; value: string }, signal: AbortSignal): Promise<{ resource: Task; created: boolean }> {
  try {
    return await client.create(wanted, { ifNoneExist: { identifier: `${identifier.system}|${identifier.value}` }, signal });
  } catch (error) {
    // http.html "Conditional create": 412 = more than one resource matched; resending cannot change that.
    if (error instanceof FhirVersionConflictError) {
      throw permanentError(`several Tasks on the EHR carry identifier ${identifier.system}|${identifier.value}; resolve the duplicates there`, {
        code: 'fhir_task_duplicates',
        where: { field: 'Task.identifier' },
        cause: error,
      });
    }
    throw error;
  }
}

async function updateTask(client: FhirClient, existing: Task, wanted: Task, context: HandlerContext): Promise<Task> {
  let current = existing;
  for (let round = 1; ; round++) {
    try {
      const next: Task = { ...current, status: wanted.status, businessStatus: wanted.businessStatus, ...(wanted.note ? { note: wanted.note } : {}), lastModified: wanted.lastModified! };
      return (await client.update(next, versionAware(current, context.signal))).resource;
    } catch (error) {
      if (!(error instanceof FhirVersionConflictError) || round >= MAX_CONFLICT_ROUNDS) throw error;
      current = await client.read<Task>('Task', current.id!, context.signal);
      if (sameStatus(current, wanted)) return current;
    }
  }
}

async function findTask(client: FhirClient, identifier: { system: string; value: string }, signal: AbortSignal): Promise<Task | undefined> {
  for await (const task of client.search<Task>('Task', { identifier: `${identifier.system}|${identifier.value}` }, signal)) return task;
  return undefined;
}

function taskFor(request: FhirTaskRequest, identifier: { system: string; value: string }): Task {
  const businessStatus: CodeableConcept = {
    coding: [{ system: request.businessStatus.system ?? BUSINESS_STATUS_SYSTEM, code: request.businessStatus.code, ...(request.businessStatus.display ? { display: request.businessStatus.display } : {}) }],
    ...(request.businessStatus.display ? { text: request.businessStatus.display } : {}),
  };
  const now = new Date().toISOString();
  return {
    resourceType: 'Task',
    identifier: [identifier],
    status: request.status,
    businessStatus,
    // task.html: intent is required; a fulfilment task carried out on an order is an 'order'.
    intent: 'order',
    focus: { reference: request.focus },
    authoredOn: now,
    lastModified: now,
    ...(request.note ? { note: [{ text: request.note, time: now }] } : {}),
  };
}

function sameStatus(task: Task, wanted: Task): boolean {
  const code = (t: Task) => t.businessStatus?.coding?.[0]?.code;
  return task.status === wanted.status && code(task) === code(wanted);
}

/** If-Match on the version read; a server that keeps no versions gets a plain update (nothing to match). */
function versionAware(read: Resource, signal: AbortSignal): { ifMatch?: string; signal: AbortSignal } {
  return read.meta?.versionId ? { ifMatch: read.meta.versionId, signal } : { signal };
}

function stage(delivery: ClaimedDelivery, outcome: 'ok' | 'skipped', detail: Record<string, unknown>): StageRecord {
  return { stage: `${delivery.action} on ${delivery.endpoint}`, outcome, detail };
}

const REFERENCE = /^([A-Z][A-Za-z]{1,63})\/([A-Za-z0-9\-.]{1,64})$/;

function splitReference(reference: unknown, field: string): [string, string] {
  const match = typeof reference === 'string' ? REFERENCE.exec(reference) : null;
  if (!match) throw permanentError(`${field} must be a relative reference Type/id, got ${JSON.stringify(reference)}`, { code: 'fhir_bad_payload', where: { field } });
  return [match[1]!, match[2]!];
}

function objectPayload(delivery: ClaimedDelivery): Record<string, unknown> {
  const payload = delivery.payload;
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw permanentError(`${delivery.action}: payload must be an object`, { code: 'fhir_bad_payload', where: { field: 'payload' } });
  }
  return payload as Record<string, unknown>;
}

/** Payloads come from flows: a malformed one is a bug there, refused before any request with the field named. */
function statusUpdateOf(delivery: ClaimedDelivery): FhirStatusUpdate {
  const payload = objectPayload(delivery);
  const [type] = splitReference(payload.resource, 'payload.resource');
  const values = FHIR_STATUS_VALUES[type];
  if (!values) throw permanentError(`${type} has no status Carelane writes (writable: ${Object.keys(FHIR_STATUS_VALUES).join(', ')})`, { code: 'fhir_bad_payload', where: { field: 'payload.resource' } });
  if (typeof payload.status !== 'string' || !values.all.includes(payload.status)) {
    throw permanentError(`${JSON.stringify(payload.status)} is not a ${type}.status (allowed: ${values.all.join(', ')})`, { code: 'fhir_bad_status', where: { field: 'payload.status' } });
  }
  if (payload.onlyFrom !== undefined && !(Array.isArray(payload.onlyFrom) && payload.onlyFrom.every((s) => typeof s === 'string'))) {
    throw permanentError('payload.onlyFrom must be a list of statuses', { code: 'fhir_bad_payload', where: { field: 'payload.onlyFrom' } });
  }
  return payload as unknown as FhirStatusUpdate;
}

function taskRequestOf(delivery: ClaimedDelivery): FhirTaskRequest {
  const payload = objectPayload(delivery);
  splitReference(payload.focus, 'payload.focus');
  if (typeof payload.status !== 'string' || !TASK_STATUSES.includes(payload.status as FhirTaskStatus)) {
    throw permanentError(`${JSON.stringify(payload.status)} is not a Task.status (allowed: ${TASK_STATUSES.join(', ')})`, { code: 'fhir_bad_status', where: { field: 'payload.status' } });
  }
  const business = payload.businessStatus as { code?: unknown } | undefined;
  if (typeof business !== 'object' || business === null || typeof business.code !== 'string' || !business.code) {
    throw permanentError('payload.businessStatus.code is missing', { code: 'fhir_bad_payload', where: { field: 'payload.businessStatus.code' } });
  }
  if (payload.taskKey !== undefined && (typeof payload.taskKey !== 'string' || !payload.taskKey)) {
    throw permanentError('payload.taskKey must be a non-empty string', { code: 'fhir_bad_payload', where: { field: 'payload.taskKey' } });
  }
  return payload as unknown as FhirTaskRequest;
}
