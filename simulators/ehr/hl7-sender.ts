import type { Appointment, Location, Patient, ServiceRequest } from '@medplum/fhirtypes';
import { MllpClient } from '../../src/connectors/hl7v2/index.ts';
import { SIMULATED_ASSIGNING_AUTHORITY } from './scenario.ts';

/**
 * The simulated EHR's HL7 v2 interface: the same scenario as the FHIR API, as the scheduling and order
 * messages an EHR's interface engine sends (HL7 v2.5.1):
 * - SIU^S12 new booking, S14 modification, S15 cancellation (chapter 10: MSH, SCH, PID, RGS, AIS, AIL);
 * - ORM^O01 new order (chapter 4: MSH, PID, PV1, ORC, OBR).
 * Sent over MLLP (Appendix C) on one connection, each message after the previous one's ACK; the answer's
 * MSA-1 (AA/AE/AR) is returned with it.
 */

export type ScheduleTrigger = 'S12' | 'S14' | 'S15';

export interface Hl7Endpoint {
  host: string;
  port: number;
}

export interface Hl7Exchange {
  message: string;
  ack: string;
  /** MSA-1 */
  ackCode: string;
}

const SENDING = 'SIMEHR^SIMFACILITY';
const RECEIVING = 'CARELANE^CARELANE';

/** HL7 v2 TS (2.A.77): YYYYMMDDHHMMSS+ZZZZ, here always in UTC. */
export function hl7Timestamp(iso: string): string {
  const date = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}+0000`;
}

/** Replaces the delimiters in free text with their escapes (2.7 "Use of escape sequences"). */
function text(value: string | undefined): string {
  return (value ?? '').replace(/\\/g, '\\E\\').replace(/\|/g, '\\F\\').replace(/\^/g, '\\S\\').replace(/&/g, '\\T\\').replace(/~/g, '\\R\\');
}

// MSH-15/16 left empty: original acknowledgment mode (2.9.2), so the receiver answers AA/AE/AR itself.
function msh(type: string, controlId: string, at: string): string {
  return `MSH|^~\\&|${SENDING.replace('^', '|')}|${RECEIVING.replace('^', '|')}|${hl7Timestamp(at)}||${type}|${controlId}|P|2.5.1`;
}

/** PID-3 with the MRN (CX: id^^^authority^MR), PID-5 name, PID-7 birth date: what an EHR really sends. */
function pid(patient: Patient): string {
  const mrn = patient.identifier?.[0]?.value ?? '';
  const name = patient.name?.[0];
  return `PID|1||${text(mrn)}^^^${SIMULATED_ASSIGNING_AUTHORITY}^MR||${text(name?.family)}^${text(name?.given?.[0])}||${(patient.birthDate ?? '').replace(/-/g, '')}`;
}

/** PL (2.A.53): point of care ^ room ^ bed ^ facility; the point of care is the location's code. */
function pointOfCare(location: Location): string {
  return `${text(location.identifier?.[0]?.value)}^^^${text(location.managingOrganization?.display)}`;
}

function coded(concept: { coding?: Array<{ code?: string; display?: string; system?: string }> } | undefined): string {
  const coding = concept?.coding?.[0];
  const system = coding?.system === 'http://snomed.info/sct' ? 'SCT' : 'L';
  return `${text(coding?.code)}^${text(coding?.display)}^${system}`;
}

const SIU_STATUS: Record<ScheduleTrigger, string> = { S12: 'Booked', S14: 'Booked', S15: 'Cancelled' };
// AIS-2/AIL-2 segment action code (table 0206): A add, U update, D delete.
const SEGMENT_ACTION: Record<ScheduleTrigger, string> = { S12: 'A', S14: 'U', S15: 'D' };

export function siuMessage(trigger: ScheduleTrigger, appointment: Appointment, patient: Patient, location: Location, controlId: string, at = new Date().toISOString()): string {
  const appointmentId = appointment.identifier?.[0]?.value ?? appointment.id ?? '';
  const start = appointment.start ? hl7Timestamp(appointment.start) : '';
  const end = appointment.end ? hl7Timestamp(appointment.end) : '';
  const minutes = appointment.start && appointment.end ? String(Math.round((Date.parse(appointment.end) - Date.parse(appointment.start)) / 60_000)) : '';
  const service = coded(appointment.serviceType?.[0]);
  const action = SEGMENT_ACTION[trigger];
  return [
    msh(`SIU^${trigger}^SIU_S12`, controlId, at),
    // SCH-1 placer id, SCH-2 filler id, SCH-6 event reason, SCH-7 reason, SCH-11 TQ (start in .4, end in .5), SCH-25 filler status.
    `SCH|${text(appointment.id)}|${text(appointmentId)}||||${trigger}^${trigger === 'S15' ? 'Cancelled' : 'Scheduled'}^HL70276|${service}||${minutes}|min|^^${minutes}^${start}^${end}||||||||||||||${SIU_STATUS[trigger]}`,
    pid(patient),
    `RGS|1|${action}`,
    `AIS|1|${action}|${service}|${start}|||${minutes}|min`,
    `AIL|1|${action}|${pointOfCare(location)}|||${start}|||${minutes}|min`,
  ].join('\r');
}

export function ormMessage(order: ServiceRequest, patient: Patient, location: Location, controlId: string, at = new Date().toISOString()): string {
  const placer = order.identifier?.[0]?.value ?? order.id ?? '';
  const when = order.occurrenceDateTime ? hl7Timestamp(order.occurrenceDateTime) : '';
  return [
    msh('ORM^O01^ORM_O01', controlId, at),
    pid(patient),
    `PV1|1|O|${pointOfCare(location)}`,
    // ORC-1 NW new order, ORC-2 placer order number, ORC-5 SC scheduled, ORC-7 TQ start, ORC-9 transaction time.
    `ORC|NW|${text(placer)}|||SC||^^^${when}||${hl7Timestamp(at)}`,
    `OBR|1|${text(placer)}||${coded(order.code)}|||${when}`,
  ].join('\r');
}

/** One supply charged to a visit: FT1-2 transaction id, FT1-7 the item as coded in the charge master, FT1-10 how many. */
export interface Charge {
  transactionId: string;
  code: string;
  display: string;
  /** CWE.3 coding system of the item code, as the charge master names it */
  system: string;
  quantity: number;
}

/**
 * DFT^P03 post detail financial transaction (6.4.3): one FT1 per supply used, FT1-6 'CG' charge (table 0017),
 * FT1-4 when, FT1-16 where (PL), FT1-25 the procedure it was used in; what a billing interface sends after a case.
 */
export function dftMessage(charges: Charge[], appointment: Appointment, patient: Patient, location: Location, controlId: string, at = new Date().toISOString()): string {
  // FT1-4 transaction date: when the supplies were used, i.e. now, when the case is charged
  const when = hl7Timestamp(at);
  const ft1 = (charge: Charge, index: number) => {
    const fields = Array.from({ length: 26 }, () => '');
    fields[0] = 'FT1';
    fields[1] = String(index + 1);
    fields[2] = text(charge.transactionId);
    fields[4] = when;
    fields[6] = 'CG';
    fields[7] = `${text(charge.code)}^${text(charge.display)}^${text(charge.system)}`;
    fields[10] = String(charge.quantity);
    fields[16] = pointOfCare(location);
    fields[25] = coded(appointment.serviceType?.[0]);
    return fields.join('|');
  };
  return [msh('DFT^P03^DFT_P03', controlId, at), `EVN|P03|${hl7Timestamp(at)}`, pid(patient), `PV1|1|O|${pointOfCare(location)}`, ...charges.map(ft1)].join('\r');
}

/** One MLLP connection to Carelane (opened on first use); messages go one at a time, each waiting for its ACK. */
export class Hl7Sender {
  readonly exchanges: Hl7Exchange[] = [];
  private readonly endpoint: Hl7Endpoint;
  private client: MllpClient | undefined;
  private nextControlId = 1;

  constructor(endpoint: Hl7Endpoint) {
    this.endpoint = endpoint;
  }

  /** MSH-10: unique per message from this sender (a resend of the same message would reuse it). */
  controlId(): string {
    return `SIM${String(this.nextControlId++).padStart(8, '0')}`;
  }

  async send(message: string): Promise<Hl7Exchange> {
    this.client ??= await MllpClient.connect(this.endpoint.host, this.endpoint.port, { responseTimeoutMs: 10_000 });
    let ack: string;
    try {
      ack = await this.client.send(message);
    } catch (error) {
      // The connection is unusable after a failure; the next send opens a new one.
      const broken = this.client;
      this.client = undefined;
      await broken.close();
      throw error;
    }
    const msa = ack.split(/\r\n?|\n/).find((segment) => segment.startsWith('MSA|'));
    const exchange = { message, ack, ackCode: msa?.split('|')[1] ?? '' };
    this.exchanges.push(exchange);
    return exchange;
  }

  async close(): Promise<void> {
    await this.client?.close();
    this.client = undefined;
  }
}
