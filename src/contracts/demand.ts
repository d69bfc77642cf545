/**
 * The canonical clinical-demand signal: what the EHR side (FHIR R4 resources, HL7 v2 messages) tells the
 * operational side about supplies, procedures, devices and medications it will need or has used. Every EHR
 * mapping produces DemandSignal values; flows (reservation, replenishment, cost allocation) consume them and
 * never see the source format.
 *
 * Patient data stays on the EHR side (DESIGN.md principle 4): the patient is carried only as a keyed token
 * (`patientToken`), never as a name, MRN or birth date. DEMAND_FIELD_CLASSES classes every field so a later
 * check (contract test, outbound guard) can enforce that no PHI field reaches Odoo, suppliers or logs.
 */

export const DEMAND_CONTRACT_VERSION = '1.0.0';

export type DemandKind = 'supply' | 'procedure' | 'device' | 'medication' | 'scheduled_procedure' | 'utilization';

/** What happened to the demand at the source: create a new one, change it, move it in time, or end it. */
export type DemandAction = 'create' | 'update' | 'reschedule' | 'cancel' | 'no_show' | 'complete';

/** The status of the demand at its source, normalised across FHIR request/event statuses and HL7 v2 order control. */
export type DemandStatus = 'proposed' | 'active' | 'on_hold' | 'completed' | 'cancelled' | 'no_show' | 'entered_in_error' | 'unknown';

/** A code as the EHR wrote it (FHIR Coding.system + code, HL7 v2 CWE.1 + CWE.3): crosswalks to Odoo items happen later. */
export interface SourceCode {
  /** FHIR code system URI, or the HL7 v2 coding system name (CWE.3, table 0396); '' when the sender gave none */
  system: string;
  code: string;
  /** human-readable text of the item (not PHI: a catalog description such as "Blood collect tubes blue cap") */
  display?: string;
}

export interface RequestedItem {
  code: SourceCode;
  quantity?: number;
  /** UCUM or the sender's unit code as written */
  unit?: string;
}

export interface DemandSource {
  /** the sending system: a configured source name, the FHIR server base, or MSH-3^MSH-4 */
  system: string;
  /** the message/resource type it came from, e.g. 'SupplyRequest', 'SIU^S12' */
  type: string;
  /** the source's own id of the demand: FHIR 'SupplyRequest/123', a placer/filler order number, SCH-1/SCH-2 */
  id: string;
  /** the version of the source record when the source has one (FHIR meta.versionId), for ordering updates */
  version?: string;
}

export interface DemandLocation {
  /** the EHR's code or reference of the site/location (FHIR Location reference or identifier, PV1-3 / AIL-3 / ORC-21) */
  code: string;
  system?: string;
  display?: string;
}

export interface DemandSignal {
  contractVersion: typeof DEMAND_CONTRACT_VERSION;
  kind: DemandKind;
  action: DemandAction;
  status: DemandStatus;
  source: DemandSource;
  /** the clinical location the demand is for; the reservation flow maps it to an Odoo stock location */
  location?: DemandLocation;
  items: RequestedItem[];
  /** what is done (ServiceRequest.code, Procedure.code, SIU AIS-3, OBR-4) */
  procedure?: SourceCode;
  /** scheduled start (ISO 8601, with offset when the source gave one) */
  scheduledStart?: string;
  scheduledEnd?: string;
  /** when a reschedule moved the start, the previous start (SIU^S13 / Appointment version before) */
  previousStart?: string;
  /** the patient as a keyed token (governance/tokenization.ts); never the identifier itself */
  patientToken?: string;
  /**
   * Business keys that tie this demand to its later messages (placer/filler order numbers, appointment ids,
   * encounter/visit numbers are deliberately NOT here: a visit number is patient-linked, see field classes).
   */
  businessKeys: Record<string, string>;
  /** one business transaction's id across all its messages (DESIGN.md message lifecycle) */
  correlationId?: string;
  /** when the source says the demand was made or last changed (authoredOn, MSH-7, ORC-9) */
  occurredAt?: string;
}

/** Data classes (DESIGN.md principle 4). PHI: health information linked to a patient; PII: identifies a person. */
export type FieldClass = 'PHI' | 'PII' | 'business';

/**
 * The class of every DemandSignal field. A field missing here is a compile error (the Record type), so a
 * new field cannot be added without deciding its class. `patientToken` is 'PHI': the token is pseudonymous,
 * but with the key it re-identifies a patient, so it may go where PHI is allowed (the EHR side, the audited
 * store) and is removed before anything reaches Odoo or a supplier unless a flow declares it needs it.
 */
export const DEMAND_FIELD_CLASSES: Readonly<Record<keyof DemandSignal, FieldClass>> = {
  contractVersion: 'business',
  kind: 'business',
  action: 'business',
  status: 'business',
  source: 'business',
  location: 'business',
  items: 'business',
  procedure: 'business',
  scheduledStart: 'business',
  scheduledEnd: 'business',
  previousStart: 'business',
  patientToken: 'PHI',
  businessKeys: 'business',
  correlationId: 'business',
  occurredAt: 'business',
};

/** The fields of a class, e.g. the ones to strip before a signal crosses to the operational side. */
export function demandFieldsOfClass(fieldClass: FieldClass): Array<keyof DemandSignal> {
  return (Object.keys(DEMAND_FIELD_CLASSES) as Array<keyof DemandSignal>).filter((field) => DEMAND_FIELD_CLASSES[field] === fieldClass);
}

/** A copy with PHI and PII fields removed: what may leave the EHR side (Odoo, suppliers, logs). */
export function withoutProtectedFields(signal: DemandSignal): DemandSignal {
  const copy: Partial<DemandSignal> = { ...signal };
  for (const field of Object.keys(DEMAND_FIELD_CLASSES) as Array<keyof DemandSignal>) {
    if (DEMAND_FIELD_CLASSES[field] !== 'business') delete copy[field];
  }
  return copy as DemandSignal;
}

/** Turns a patient identifier into its keyed token; the caller passes the governance tokenizer's `tokenFor`. */
export type Tokenize = (identifier: string) => string;
