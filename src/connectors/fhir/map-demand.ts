import type {
  Appointment,
  CodeableConcept,
  DeviceRequest,
  Identifier,
  MedicationRequest,
  Procedure,
  Quantity,
  Reference,
  Resource,
  ServiceRequest,
  SupplyDelivery,
  SupplyRequest,
} from '@medplum/fhirtypes';
import { businessError, type CarelaneError } from '../../contracts/errors.ts';
import {
  DEMAND_CONTRACT_VERSION,
  type DemandAction,
  type DemandKind,
  type DemandLocation,
  type DemandSignal,
  type DemandStatus,
  type RequestedItem,
  type SourceCode,
  type Tokenize,
} from '../../contracts/demand.ts';

/**
 * FHIR R4 resources → canonical DemandSignal. Pure: resource in, signals out. The patient reference is
 * replaced by a keyed token through the injected `tokenize`; nothing else about the patient (name, display,
 * identifier value) is copied, and reference `display` texts are only read for locations and items.
 */

export interface FhirMappingContext {
  /** the configured name of the EHR this came from (DemandSource.system) */
  sourceSystem: string;
  tokenize: Tokenize;
  /** the version of the same resource seen before, when known: an Appointment whose start moved is a reschedule */
  previous?: Resource;
}

export const DEMAND_RESOURCE_TYPES = ['SupplyRequest', 'ServiceRequest', 'DeviceRequest', 'MedicationRequest', 'Appointment', 'Procedure', 'SupplyDelivery'] as const;
export type DemandResourceType = (typeof DEMAND_RESOURCE_TYPES)[number];

export function isDemandResource(resource: Resource): resource is Extract<Resource, { resourceType: DemandResourceType }> {
  return (DEMAND_RESOURCE_TYPES as readonly string[]).includes(resource.resourceType);
}

/** Maps one resource; [] when it carries no demand (a Procedure that used no supplies). Throws CarelaneError 'business'/mapping_failure. */
export function mapFhirDemand(resource: Resource, context: FhirMappingContext): DemandSignal[] {
  switch (resource.resourceType) {
    case 'SupplyRequest':
      return [mapSupplyRequest(resource, context)];
    case 'ServiceRequest':
      return [mapServiceRequest(resource, context)];
    case 'DeviceRequest':
      return [mapDeviceRequest(resource, context)];
    case 'MedicationRequest':
      return [mapMedicationRequest(resource, context)];
    case 'Appointment':
      return [mapAppointment(resource, context)];
    case 'Procedure':
      return mapProcedure(resource, context);
    case 'SupplyDelivery':
      return [mapSupplyDelivery(resource, context)];
    default:
      throw mappingFailure('fhir_not_demand', `${resource.resourceType} carries no clinical demand`, 'resourceType');
  }
}

function mappingFailure(code: string, message: string, field: string): CarelaneError {
  return businessError('mapping_failure', message, { code, where: { field } });
}

type AnyResource = Resource & { contained?: Resource[]; identifier?: Identifier[]; meta?: { versionId?: string; lastUpdated?: string } };

function base(resource: AnyResource, kind: DemandKind, action: DemandAction, status: DemandStatus, context: FhirMappingContext): DemandSignal {
  const type = resource.resourceType;
  const signal: DemandSignal = {
    contractVersion: DEMAND_CONTRACT_VERSION,
    kind,
    action,
    status,
    source: { system: context.sourceSystem, type, id: resource.id ? `${type}/${resource.id}` : `${type}/${businessIdOf(resource) ?? 'unidentified'}` },
    items: [],
    businessKeys: businessKeys(resource),
  };
  if (resource.meta?.versionId) signal.source.version = resource.meta.versionId;
  if (resource.meta?.lastUpdated) signal.occurredAt = resource.meta.lastUpdated;
  return signal;
}

const businessIdOf = (resource: AnyResource): string | undefined => resource.identifier?.find((identifier) => identifier.value)?.value;

/** The resource's own identifiers (order numbers, appointment ids): business keys, never the patient's. */
function businessKeys(resource: AnyResource): Record<string, string> {
  const keys: Record<string, string> = {};
  if (resource.id) keys.fhirId = `${resource.resourceType}/${resource.id}`;
  for (const identifier of resource.identifier ?? []) {
    if (identifier.value) keys[`identifier:${identifier.system ?? ''}`] = identifier.value;
  }
  return keys;
}

/** A reference to a Patient: typed, literal (`Patient/1`, absolute URL), or to a contained Patient. */
function isPatientReference(reference: Reference | undefined, resource?: AnyResource): boolean {
  if (!reference) return false;
  if (reference.type === 'Patient' || /(^|\/)Patient\/[^/]+/.test(reference.reference ?? '')) return true;
  const local = reference.reference?.startsWith('#') ? resource?.contained?.find((r) => `#${r.id}` === reference.reference) : undefined;
  return local?.resourceType === 'Patient';
}

/**
 * The patient's token. A logical identifier (system|value) is preferred, as it names the patient across
 * servers (FHIR R4 references.html#logical); else the literal reference; a contained Patient gives its first
 * identifier. A display-only reference yields no token: a name is never tokenized or carried.
 */
function patientToken(resource: AnyResource, reference: Reference | undefined, context: FhirMappingContext, subjectElement = false): string | undefined {
  if (!reference) return undefined;
  // subject/patient elements hold a Patient unless typed otherwise; an untyped identifier-only subject is
  // tokenized rather than risk carrying a patient identifier on.
  const untypedSubject = subjectElement && !reference.type && !reference.reference;
  if (!isPatientReference(reference, resource) && !untypedSubject) return undefined;
  let identifier = reference.identifier;
  if (!identifier && reference.reference?.startsWith('#')) {
    const contained = resource.contained?.find((r) => `#${r.id}` === reference.reference);
    if (contained?.resourceType !== 'Patient') return undefined;
    identifier = contained.identifier?.find((i) => i.value);
  }
  if (identifier?.value) return context.tokenize(`${identifier.system ?? ''}|${identifier.value}`);
  if (reference.reference && !reference.reference.startsWith('#')) return context.tokenize(reference.reference);
  return undefined;
}

function withPatient(signal: DemandSignal, token: string | undefined): DemandSignal {
  if (token !== undefined) signal.patientToken = token;
  return signal;
}

/** First coding with a code (FHIR R4 datatypes.html#CodeableConcept: codings are alternatives, the first is as good as any). */
function codeOf(concept: CodeableConcept | undefined): SourceCode | undefined {
  const coding = concept?.coding?.find((c) => c.code);
  if (!coding?.code) return undefined;
  const code: SourceCode = { system: coding.system ?? '', code: coding.code };
  const display = coding.display ?? concept?.text;
  if (display) code.display = display;
  return code;
}

/**
 * An item given as a Reference (itemReference, medicationReference, codeReference): a contained Medication or
 * Device gives its code; else the reference itself, system 'fhir-reference', for the item crosswalk to map.
 */
function codeOfReference(resource: AnyResource, reference: Reference | undefined): SourceCode | undefined {
  if (!reference) return undefined;
  if (reference.reference?.startsWith('#')) {
    const contained = resource.contained?.find((r) => `#${r.id}` === reference.reference) as (Resource & { code?: CodeableConcept; type?: CodeableConcept }) | undefined;
    const code = codeOf(contained?.code) ?? codeOf(contained?.type);
    if (code) return code;
  }
  if (reference.identifier?.value) return { system: reference.identifier.system ?? '', code: reference.identifier.value };
  if (reference.reference && !reference.reference.startsWith('#')) return { system: 'fhir-reference', code: reference.reference };
  return undefined;
}

function item(code: SourceCode, quantity: Quantity | undefined): RequestedItem {
  const requested: RequestedItem = { code };
  if (quantity?.value !== undefined) requested.quantity = quantity.value;
  const unit = quantity?.code ?? quantity?.unit;
  if (unit) requested.unit = unit;
  return requested;
}

/**
 * A location from a Reference: its literal reference or logical identifier is the code the location crosswalk
 * maps; a reference with only a display (common in the R4 examples) gives the text, marked system 'display'.
 */
function locationOf(reference: Reference | undefined): DemandLocation | undefined {
  if (!reference) return undefined;
  let location: DemandLocation | undefined;
  if (reference.reference) location = { code: reference.reference };
  else if (reference.identifier?.value) location = { code: reference.identifier.value, ...(reference.identifier.system ? { system: reference.identifier.system } : {}) };
  else if (reference.display) location = { code: reference.display, system: 'display' };
  if (location && reference.display && location.system !== 'display') location.display = reference.display;
  return location;
}

const isLocationReference = (reference: Reference | undefined): boolean =>
  !!reference && (reference.type === 'Location' || /(^|\/)Location\/[^/]+/.test(reference.reference ?? ''));

function locationOfConcept(concept: CodeableConcept | undefined): DemandLocation | undefined {
  const code = codeOf(concept);
  return code ? { code: code.code, system: code.system, ...(code.display ? { display: code.display } : {}) } : undefined;
}

/** FHIR R4 request-status (valueset-request-status) → canonical status and action. */
function requestStatus(status: string | undefined): { status: DemandStatus; action: DemandAction } {
  switch (status) {
    case 'draft':
      return { status: 'proposed', action: 'create' };
    case 'active':
      return { status: 'active', action: 'create' };
    case 'on-hold':
    case 'suspended':
      return { status: 'on_hold', action: 'update' };
    case 'revoked':
    case 'cancelled':
    case 'stopped':
      return { status: 'cancelled', action: 'cancel' };
    case 'completed':
      return { status: 'completed', action: 'complete' };
    case 'entered-in-error':
      return { status: 'entered_in_error', action: 'cancel' };
    default:
      return { status: 'unknown', action: 'update' };
  }
}

// FHIR R4 supplyrequest.html: item[x] (1..1) is what is requested, quantity (1..1) how much, deliverTo where.
function mapSupplyRequest(resource: SupplyRequest, context: FhirMappingContext): DemandSignal {
  const { status, action } = requestStatus(resource.status);
  const signal = base(resource, 'supply', action, status, context);
  const code = codeOf(resource.itemCodeableConcept) ?? codeOfReference(resource, resource.itemReference);
  if (!code) throw mappingFailure('fhir_no_item_code', 'SupplyRequest names no item code', 'SupplyRequest.item[x]');
  signal.items.push(item(code, resource.quantity));
  // deliverTo may be a Patient (home delivery): then it is not a stock location and gives the patient token.
  const location = isPatientReference(resource.deliverTo, resource) ? undefined : locationOf(resource.deliverTo);
  if (!location) throw mappingFailure('fhir_no_location', 'SupplyRequest has no deliverTo location', 'SupplyRequest.deliverTo');
  signal.location = location;
  if (resource.authoredOn) signal.occurredAt = resource.authoredOn;
  if (resource.occurrenceDateTime) signal.scheduledStart = resource.occurrenceDateTime;
  else if (resource.occurrencePeriod?.start) signal.scheduledStart = resource.occurrencePeriod.start;
  return withPatient(signal, patientToken(resource, resource.deliverTo, context));
}

// FHIR R4 servicerequest.html: code is the procedure; locationReference/locationCode where it is wanted.
function mapServiceRequest(resource: ServiceRequest, context: FhirMappingContext): DemandSignal {
  const { status, action } = requestStatus(resource.status);
  const signal = base(resource, 'procedure', action, status, context);
  const procedure = codeOf(resource.code);
  if (!procedure) throw mappingFailure('fhir_no_procedure_code', 'ServiceRequest names no coded procedure', 'ServiceRequest.code');
  signal.procedure = procedure;
  const location = locationOf(resource.locationReference?.[0]) ?? locationOfConcept(resource.locationCode?.[0]);
  if (location) signal.location = location;
  if (resource.quantityQuantity) signal.items.push(item(procedure, resource.quantityQuantity));
  if (resource.occurrenceDateTime) signal.scheduledStart = resource.occurrenceDateTime;
  else if (resource.occurrencePeriod?.start) signal.scheduledStart = resource.occurrencePeriod.start;
  if (resource.authoredOn) signal.occurredAt = resource.authoredOn;
  if (resource.requisition?.value) signal.businessKeys.requisition = resource.requisition.value;
  return withPatient(signal, patientToken(resource, resource.subject, context, true));
}

// FHIR R4 devicerequest.html: code[x] is the device (a Device reference or a code); R4 has no quantity: one.
function mapDeviceRequest(resource: DeviceRequest, context: FhirMappingContext): DemandSignal {
  const { status, action } = requestStatus(resource.status);
  const signal = base(resource, 'device', action, status, context);
  const code = codeOf(resource.codeCodeableConcept) ?? codeOfReference(resource, resource.codeReference);
  if (!code) throw mappingFailure('fhir_no_item_code', 'DeviceRequest names no device code', 'DeviceRequest.code[x]');
  signal.items.push({ code, quantity: 1 });
  if (resource.occurrenceDateTime) signal.scheduledStart = resource.occurrenceDateTime;
  else if (resource.occurrencePeriod?.start) signal.scheduledStart = resource.occurrencePeriod.start;
  if (resource.authoredOn) signal.occurredAt = resource.authoredOn;
  return withPatient(signal, patientToken(resource, resource.subject, context, true));
}

// FHIR R4 medicationrequest.html: medication[x]; dispenseRequest.quantity is the amount to dispense.
function mapMedicationRequest(resource: MedicationRequest, context: FhirMappingContext): DemandSignal {
  const { status, action } = requestStatus(resource.status);
  const signal = base(resource, 'medication', action, status, context);
  const code = codeOf(resource.medicationCodeableConcept) ?? codeOfReference(resource, resource.medicationReference);
  if (!code) throw mappingFailure('fhir_no_item_code', 'MedicationRequest names no medication code', 'MedicationRequest.medication[x]');
  signal.items.push(item(code, resource.dispenseRequest?.quantity));
  const performer = resource.dispenseRequest?.performer;
  if (performer && !isPatientReference(performer, resource) && /Organization|Location/.test(performer.reference ?? performer.type ?? '')) {
    const location = locationOf(performer);
    if (location) signal.location = location;
  }
  if (resource.authoredOn) signal.occurredAt = resource.authoredOn;
  return withPatient(signal, patientToken(resource, resource.subject, context, true));
}

/**
 * FHIR R4 appointment.html, status (appointmentstatus): booked = the slot is taken (demand exists), cancelled,
 * noshow, fulfilled. A booked appointment whose start moved since the previous version is a reschedule.
 */
function mapAppointment(resource: Appointment, context: FhirMappingContext): DemandSignal {
  const previous = context.previous?.resourceType === 'Appointment' ? context.previous : undefined;
  let status: DemandStatus;
  let action: DemandAction;
  switch (resource.status) {
    case 'proposed':
    case 'pending':
    case 'waitlist':
      [status, action] = ['proposed', 'create'];
      break;
    case 'booked':
      [status, action] = ['active', previous ? 'update' : 'create'];
      break;
    case 'arrived':
    case 'checked-in':
      [status, action] = ['active', 'update'];
      break;
    case 'fulfilled':
      [status, action] = ['completed', 'complete'];
      break;
    case 'cancelled':
      [status, action] = ['cancelled', 'cancel'];
      break;
    case 'noshow':
      [status, action] = ['no_show', 'no_show'];
      break;
    case 'entered-in-error':
      [status, action] = ['entered_in_error', 'cancel'];
      break;
    default:
      [status, action] = ['unknown', 'update'];
  }
  if (previous?.start && resource.start && previous.start !== resource.start && (action === 'update' || action === 'create')) action = 'reschedule';
  const signal = base(resource, 'scheduled_procedure', action, status, context);
  if (action === 'reschedule' && previous?.start) signal.previousStart = previous.start;
  const participants = resource.participant ?? [];
  const locationParticipant = participants.findIndex((p) => isLocationReference(p.actor));
  if (locationParticipant === -1) throw mappingFailure('fhir_no_location', 'Appointment has no Location participant', 'Appointment.participant.actor');
  signal.location = locationOf(participants[locationParticipant]!.actor)!;
  const procedure = codeOf(resource.serviceType?.[0]) ?? codeOf(resource.appointmentType) ?? codeOf(resource.specialty?.[0]);
  if (procedure) signal.procedure = procedure;
  if (resource.start) signal.scheduledStart = resource.start;
  if (resource.end) signal.scheduledEnd = resource.end;
  const basedOn = (resource.basedOn ?? []).map((r) => r.reference).filter((r): r is string => !!r);
  if (basedOn.length > 0) signal.businessKeys.basedOn = basedOn.join(' ');
  const patient = participants.find((p) => isPatientReference(p.actor, resource))?.actor;
  return withPatient(signal, patientToken(resource, patient, context));
}

/** FHIR R4 event-status (Procedure.status) → canonical. */
function eventStatus(status: string | undefined): { status: DemandStatus; action: DemandAction } {
  switch (status) {
    case 'preparation':
      return { status: 'proposed', action: 'create' };
    case 'in-progress':
      return { status: 'active', action: 'update' };
    case 'on-hold':
      return { status: 'on_hold', action: 'update' };
    case 'completed':
      return { status: 'completed', action: 'complete' };
    case 'not-done':
    case 'stopped':
      return { status: 'cancelled', action: 'cancel' };
    case 'entered-in-error':
      return { status: 'entered_in_error', action: 'cancel' };
    default:
      return { status: 'unknown', action: 'update' };
  }
}

// FHIR R4 procedure.html: usedReference (Device | Medication | Substance) and usedCode are the items used; they become utilization.
function mapProcedure(resource: Procedure, context: FhirMappingContext): DemandSignal[] {
  const used: RequestedItem[] = [];
  (resource.usedCode ?? []).forEach((concept, index) => {
    const code = codeOf(concept);
    if (!code) throw mappingFailure('fhir_no_item_code', 'a Procedure.usedCode has no coding', `Procedure.usedCode[${index}]`);
    used.push({ code, quantity: 1 });
  });
  (resource.usedReference ?? []).forEach((reference, index) => {
    const code = codeOfReference(resource, reference);
    if (!code) throw mappingFailure('fhir_no_item_code', 'a Procedure.usedReference names no item', `Procedure.usedReference[${index}]`);
    used.push({ code, quantity: 1 });
  });
  // focalDevice with action 'implanted' (procedure.html, device-action value set: SNOMED 129338005
  // "Surgical implantation") consumes the device as surely as a usedReference does.
  (resource.focalDevice ?? []).forEach((focal, index) => {
    const implanted = focal.action?.coding?.some((c) => c.code === 'implanted' || c.code === '129338005') ?? false;
    if (!implanted) return;
    const code = codeOfReference(resource, focal.manipulated);
    if (!code) throw mappingFailure('fhir_no_item_code', 'an implanted Procedure.focalDevice names no device', `Procedure.focalDevice[${index}].manipulated`);
    used.push({ code, quantity: 1 });
  });
  if (used.length === 0) return [];
  const { status, action } = eventStatus(resource.status);
  const signal = base(resource, 'utilization', action, status, context);
  signal.items = used;
  const procedure = codeOf(resource.code);
  if (procedure) signal.procedure = procedure;
  const location = locationOf(resource.location);
  if (location) signal.location = location;
  const when = resource.performedDateTime ?? resource.performedPeriod?.start;
  if (when) signal.scheduledStart = when;
  return [withPatient(signal, patientToken(resource, resource.subject, context, true))];
}

/** FHIR R4 supplydelivery.html: status in-progress | completed | abandoned | entered-in-error; destination is where it went. */
function mapSupplyDelivery(resource: SupplyDelivery, context: FhirMappingContext): DemandSignal {
  const mapped: Record<string, { status: DemandStatus; action: DemandAction }> = {
    'in-progress': { status: 'active', action: 'update' },
    completed: { status: 'completed', action: 'complete' },
    abandoned: { status: 'cancelled', action: 'cancel' },
    'entered-in-error': { status: 'entered_in_error', action: 'cancel' },
  };
  const { status, action } = mapped[resource.status ?? ''] ?? { status: 'unknown' as const, action: 'update' as const };
  const signal = base(resource, 'supply', action, status, context);
  const supplied = resource.suppliedItem;
  if (supplied) {
    const code = codeOf(supplied.itemCodeableConcept) ?? codeOfReference(resource, supplied.itemReference);
    if (!code) throw mappingFailure('fhir_no_item_code', 'SupplyDelivery.suppliedItem names no item code', 'SupplyDelivery.suppliedItem.item[x]');
    signal.items.push(item(code, supplied.quantity));
  }
  const location = locationOf(resource.destination);
  if (!location) throw mappingFailure('fhir_no_location', 'SupplyDelivery has no destination', 'SupplyDelivery.destination');
  signal.location = location;
  const basedOn = (resource.basedOn ?? []).map((r) => r.reference).filter((r): r is string => !!r);
  if (basedOn.length > 0) signal.businessKeys.basedOn = basedOn.join(' ');
  const when = resource.occurrenceDateTime ?? resource.occurrencePeriod?.start;
  if (when) signal.occurredAt = when;
  return withPatient(signal, patientToken(resource, resource.patient, context, true));
}
