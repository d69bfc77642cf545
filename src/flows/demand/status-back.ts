import type { DemandSignal } from '../../contracts/demand.ts';
import type { NewDelivery } from '../../engine/handlers.ts';
import type { FhirStatusUpdate, FhirTaskRequest } from '../../connectors/fhir/handlers.ts';
import type { Hl7SendPayload } from '../../connectors/hl7v2/send-handler.ts';
import type { Hl7OrderStatusCode } from '../../connectors/hl7v2/order-status.ts';
import type { StatusBackConfig } from '../../config/schema.ts';

/**
 * Where a demand's reservation outcome is told back to its EHR, decided once by the demand flow (which knows
 * the source) and carried in the reserve and release steps' payloads. FHIR: a Task per demand whose
 * businessStatus moves reserved → partially-reserved → released (or the resource's own status); HL7 v2: an
 * ORM^O01 with ORC-1 SC (status changed) for the placer's order number. Nothing about the patient is sent:
 * the EHR knows whose demand it is by its own ids.
 */
export type StatusTarget =
  | { kind: 'fhir-task'; endpoint: string; lane: string; focus: string }
  | { kind: 'fhir-status'; endpoint: string; lane: string; resource: string }
  | { kind: 'hl7'; endpoint: string; lane: string; placerOrderNumber: string; fillerOrderNumber?: string };

export type ReservationOutcome = 'reserved' | 'partial' | 'released';

const matches = (pattern: string, value: string): boolean => (pattern.endsWith('*') ? value.startsWith(pattern.slice(0, -1)) : pattern === value);

/** The configured write-back for a signal's source, or undefined (none configured, or the source has no id to answer to). */
export function statusTargetFor(signal: DemandSignal, inboundSource: string, rules: readonly StatusBackConfig[]): StatusTarget | undefined {
  const rule = rules.find((r) => matches(r.source, inboundSource));
  if (!rule) return undefined;
  if (rule.fhirServer && /^[A-Z][A-Za-z]+\/[^/]+$/.test(signal.source.id)) {
    // Only request resources have the request status value set (active, revoked); an Appointment gets a Task.
    return rule.as === 'status' && signal.source.id.includes('Request/')
      ? { kind: 'fhir-status', endpoint: rule.fhirServer, lane: rule.lane, resource: signal.source.id }
      : { kind: 'fhir-task', endpoint: rule.fhirServer, lane: rule.lane, focus: signal.source.id };
  }
  const placer = signal.businessKeys.placerOrderNumber ?? signal.businessKeys.placerAppointmentId;
  if (rule.hl7Destination && placer) {
    const filler = signal.businessKeys.fillerOrderNumber ?? signal.businessKeys.fillerAppointmentId;
    return { kind: 'hl7', endpoint: rule.hl7Destination, lane: rule.lane, placerOrderNumber: placer, ...(filler ? { fillerOrderNumber: filler } : {}) };
  }
  return undefined;
}

const TASK_STATUS: Record<ReservationOutcome, { status: FhirTaskRequest['status']; code: string; display: string }> = {
  reserved: { status: 'in-progress', code: 'reserved', display: 'Supplies reserved' },
  partial: { status: 'in-progress', code: 'partially-reserved', display: 'Supplies partially reserved; the rest is on order' },
  released: { status: 'cancelled', code: 'released', display: 'Reservation released' },
};

// ORC-5 (table 0038): IP in process (stock being made ready), HD on hold (waiting for the missing part), CA cancelled.
const ORDER_STATUS: Record<ReservationOutcome, Hl7OrderStatusCode> = { reserved: 'IP', partial: 'HD', released: 'CA' };

// The demand resource's own status after the outcome: a request stays active while served, and is revoked when released.
const RESOURCE_STATUS: Record<ReservationOutcome, string> = { reserved: 'active', partial: 'active', released: 'revoked' };

/** The write-back delivery for an outcome; its key makes each (demand, reservation, outcome) told once. */
export function statusDelivery(target: StatusTarget, demandKey: string, reservationKey: string, outcome: ReservationOutcome, correlationId: string): NewDelivery {
  const base = { lane: target.lane, endpoint: target.endpoint, correlationId, orderingKey: `status:${demandKey}` };
  const key = `${reservationKey}:${outcome}`;
  switch (target.kind) {
    case 'fhir-task': {
      const { status, code, display } = TASK_STATUS[outcome];
      const payload: FhirTaskRequest = { focus: target.focus, status, businessStatus: { code, display }, taskKey: `demand:${demandKey}` };
      return { ...base, action: 'fhir.create_task', idempotencyKey: `fhir.create_task:${key}`, payload };
    }
    case 'fhir-status': {
      const payload: FhirStatusUpdate = { resource: target.resource, status: RESOURCE_STATUS[outcome] };
      return { ...base, action: 'fhir.update_status', idempotencyKey: `fhir.update_status:${key}`, payload };
    }
    case 'hl7': {
      const payload: Hl7SendPayload = {
        orderStatus: {
          placerOrderNumber: target.placerOrderNumber,
          ...(target.fillerOrderNumber ? { fillerOrderNumber: target.fillerOrderNumber } : {}),
          orderStatus: ORDER_STATUS[outcome],
          reason: { code: TASK_STATUS[outcome].code, text: TASK_STATUS[outcome].display },
        },
      };
      return { ...base, action: 'hl7v2.send', idempotencyKey: `hl7v2.send:${key}`, payload };
    }
  }
}
