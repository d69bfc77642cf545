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
import { hl7DateTimeToIso, type Hl7Message, type Hl7Segment } from './hl7-message.ts';

/**
 * HL7 v2 → canonical DemandSignal (HL7 v2.5.1 chapters 4 orders, 4A pharmacy/supply, 6 financial, 10
 * scheduling). Pure: parsed message in, signals out. PID is read for one thing only, PID-3 (patient identifier
 * list), which is tokenized through the injected `tokenize`; names, birth dates, addresses and every other PID
 * field stay behind.
 */

export interface Hl7MappingContext {
  tokenize: Tokenize;
}

export const SUPPORTED_HL7_DEMAND_TYPES = ['SIU^S12', 'SIU^S13', 'SIU^S14', 'SIU^S15', 'SIU^S26', 'ORM^O01', 'OMG^O19', 'OMS^O05', 'RDE^O11', 'DFT^P03', 'ADT^A02', 'ADT^A08'] as const;

function failure(code: string, message: string, segment: string, field: string, line?: number): CarelaneError {
  return businessError('mapping_failure', message, { code, where: { segment, field, ...(line === undefined ? {} : { line }) } });
}

/** Maps a message to its demand signals; throws CarelaneError 'business'/mapping_failure with segment, field and line. */
export function mapHl7Demand(message: Hl7Message, context: Hl7MappingContext): DemandSignal[] {
  const type = message.header.messageType;
  switch (type) {
    case 'SIU^S12':
    case 'SIU^S13':
    case 'SIU^S14':
    case 'SIU^S15':
    case 'SIU^S26':
      return [mapSchedule(message, context)];
    case 'ORM^O01':
    case 'OMG^O19':
    case 'OMS^O05':
    case 'RDE^O11':
      return mapOrders(message, context);
    case 'DFT^P03':
      return mapCharges(message, context);
    case 'ADT^A02':
    case 'ADT^A08':
      return mapLocationChange(message, context);
    default:
      throw failure('hl7_not_demand', `${type || 'this message type'} carries no clinical demand Carelane maps`, 'MSH', 'MSH.9', message.header.line);
  }
}

/**
 * PID-3 (patient identifier list), first repetition with an id: CX.1 id, CX.4 assigning authority, CX.5
 * identifier type (2.A.14). Senders on v2.3 (Epic's sample among them) may leave PID-3 empty and send PID-2
 * (external id) or PID-4 (alternate id), both deprecated since 2.3.1: those are tokenized when PID-3 is empty,
 * as they identify the patient just as well. Nothing else in PID is read.
 */
function patientToken(message: Hl7Message, context: Hl7MappingContext): string | undefined {
  const pid = message.segment('PID');
  if (!pid) return undefined;
  for (const field of [3, 2, 4]) {
    for (let r = 0; r < message.repetitions(pid, field); r++) {
      const id = message.get(pid, field, 1, 1, r);
      if (!id) continue;
      const authority = message.get(pid, field, 4, 1, r);
      const type = message.get(pid, field, 5, 1, r);
      return context.tokenize(`${authority}^${type}|${id}`);
    }
  }
  return undefined;
}

function base(message: Hl7Message, kind: DemandKind, action: DemandAction, status: DemandStatus, id: string, context: Hl7MappingContext): DemandSignal {
  const h = message.header;
  const msh = message.segment('MSH')!;
  const signal: DemandSignal = {
    contractVersion: DEMAND_CONTRACT_VERSION,
    kind,
    action,
    status,
    source: { system: [message.get(msh, 3), message.get(msh, 4)].join('^'), type: h.messageType, id },
    items: [],
    businessKeys: { messageControlId: h.controlId },
  };
  const occurredAt = hl7DateTimeToIso(message.get(msh, 7));
  if (occurredAt) signal.occurredAt = occurredAt;
  const token = patientToken(message, context);
  if (token) signal.patientToken = token;
  return signal;
}

/** CE/CWE (2.A.8): identifier, text, coding system; the alternate triplet (4-6) when the first is empty. */
function codeAt(message: Hl7Message, segment: Hl7Segment, field: number): SourceCode | undefined {
  const c = message.components(segment, field);
  const [code, text, system] = c[0] ? [c[0], c[1], c[2]] : [c[3], c[4], c[5]];
  if (!code) return undefined;
  return { system: system ?? '', code, ...(text ? { display: text } : {}) };
}

/** PL (2.A.53): point of care ^ room ^ bed ^ facility; the point of care is the code the location crosswalk maps. */
function locationAt(message: Hl7Message, segment: Hl7Segment | undefined, field: number): DemandLocation | undefined {
  if (!segment) return undefined;
  const c = message.components(segment, field);
  const code = c[0] || c[3];
  if (!code) return undefined;
  const facility = c[3] && c[0] ? c[3] : undefined;
  return { code, ...(facility ? { system: `facility:${facility}` } : {}) };
}

// SIU trigger events (10.3): S12 new booking, S13 rescheduling, S14 modification, S15 cancellation, S26 no-show.
const SIU_ACTIONS: Record<string, { action: DemandAction; status: DemandStatus }> = {
  S12: { action: 'create', status: 'active' },
  S13: { action: 'reschedule', status: 'active' },
  S14: { action: 'update', status: 'active' },
  S15: { action: 'cancel', status: 'cancelled' },
  S26: { action: 'no_show', status: 'no_show' },
};

function mapSchedule(message: Hl7Message, context: Hl7MappingContext): DemandSignal {
  const sch = message.segment('SCH');
  if (!sch) throw failure('hl7_missing_segment', 'an SIU message needs its SCH segment', 'SCH', 'SCH', message.header.line);
  const placer = message.get(sch, 1);
  const filler = message.get(sch, 2);
  const { action, status } = SIU_ACTIONS[message.header.triggerEvent]!;
  const signal = base(message, 'scheduled_procedure', action, status, filler || placer, context);
  if (!filler && !placer) throw failure('hl7_no_appointment_id', 'SCH-1 and SCH-2 (appointment ids) are both empty', 'SCH', 'SCH.1', sch.line);
  if (placer) signal.businessKeys.placerAppointmentId = placer;
  if (filler) signal.businessKeys.fillerAppointmentId = filler;
  const ais = message.segment('AIS');
  const ail = message.segment('AIL');
  const aig = message.segment('AIG');
  // AIS-3 universal service identifier is the procedure; SCH-7 appointment reason is the fallback.
  const procedure = (ais && codeAt(message, ais, 3)) ?? codeAt(message, sch, 7);
  if (procedure) signal.procedure = procedure;
  // AIL-3 location resource id; PV1-3 assigned patient location when no AIL is sent.
  const location = locationAt(message, ail, 3) ?? locationAt(message, message.segment('PV1'), 3);
  if (!location) throw failure('hl7_no_location', 'no location: AIL-3 and PV1-3 are empty', 'AIL', 'AIL.3', (ail ?? sch).line);
  signal.location = location;
  // Start: AIS-4, AIL-6, AIG-8 (start date/time of the resource), else SCH-11.4 (TQ start, deprecated since 2.5 but still sent).
  const start = [ais && message.get(ais, 4), ail && message.get(ail, 6), aig && message.get(aig, 8), message.get(sch, 11, 4)].map((v) => (v ? hl7DateTimeToIso(v) : undefined)).find((v) => v);
  if (start) signal.scheduledStart = start;
  const end = hl7DateTimeToIso(message.get(sch, 11, 5));
  if (end) signal.scheduledEnd = end;
  return signal;
}

/** ORC-1 order control (table 0119) → action; ORC-5 order status (table 0038) refines the status. */
const ORDER_CONTROL: Record<string, { action: DemandAction; status: DemandStatus }> = {
  NW: { action: 'create', status: 'active' },
  OK: { action: 'update', status: 'active' },
  SN: { action: 'create', status: 'active' },
  XO: { action: 'update', status: 'active' },
  XX: { action: 'update', status: 'active' },
  SC: { action: 'update', status: 'active' },
  RP: { action: 'update', status: 'active' },
  RL: { action: 'update', status: 'active' },
  HD: { action: 'update', status: 'on_hold' },
  OH: { action: 'update', status: 'on_hold' },
  CA: { action: 'cancel', status: 'cancelled' },
  OC: { action: 'cancel', status: 'cancelled' },
  CR: { action: 'cancel', status: 'cancelled' },
  DC: { action: 'cancel', status: 'cancelled' },
  OD: { action: 'cancel', status: 'cancelled' },
  DR: { action: 'cancel', status: 'cancelled' },
};
const ORDER_STATUS: Record<string, DemandStatus> = { CM: 'completed', CA: 'cancelled', DC: 'cancelled', HD: 'on_hold', IP: 'active', SC: 'active', A: 'active' };

/**
 * ORM^O01 (4.4.1), OMG^O19 (4.4.6), OMS^O05 (4A.3.1), RDE^O11 (4A.3.3): one signal per ORC, with the order
 * detail segment that follows it: OBR (service: procedure), RQD (supply: requisition detail), RXE (pharmacy).
 */
function mapOrders(message: Hl7Message, context: Hl7MappingContext): DemandSignal[] {
  const groups: Array<{ orc: Hl7Segment; details: Hl7Segment[] }> = [];
  for (const segment of message.segments) {
    if (segment.name === 'ORC') groups.push({ orc: segment, details: [] });
    else if (groups.length > 0 && ['OBR', 'RQD', 'RXE', 'RXO', 'TQ1'].includes(segment.name)) groups.at(-1)!.details.push(segment);
  }
  if (groups.length === 0) throw failure('hl7_missing_segment', `${message.header.messageType} holds no ORC segment`, 'ORC', 'ORC', message.header.line);
  const pv1 = message.segment('PV1');
  return groups.map(({ orc, details }) => {
    const control = message.get(orc, 1);
    const mapped = ORDER_CONTROL[control];
    if (!mapped) throw failure('hl7_unknown_order_control', `ORC-1 order control '${control}' is not an HL7 table 0119 code Carelane maps`, 'ORC', 'ORC.1', orc.line);
    const orderStatus = ORDER_STATUS[message.get(orc, 5)];
    const status = mapped.action === 'cancel' ? mapped.status : (orderStatus ?? mapped.status);
    const action: DemandAction = status === 'completed' && mapped.action === 'update' ? 'complete' : mapped.action;
    const obr = details.find((s) => s.name === 'OBR');
    const rqds = details.filter((s) => s.name === 'RQD');
    const rxe = details.find((s) => s.name === 'RXE');
    const placer = message.get(orc, 2) || (obr ? message.get(obr, 2) : '');
    const filler = message.get(orc, 3) || (obr ? message.get(obr, 3) : '');
    const kind: DemandKind = rxe ? 'medication' : rqds.length > 0 ? 'supply' : 'procedure';
    const signal = base(message, kind, action, status, placer || filler, context);
    if (!placer && !filler) throw failure('hl7_no_order_number', 'ORC-2 and ORC-3 (placer and filler order numbers) are both empty', 'ORC', 'ORC.2', orc.line);
    if (placer) signal.businessKeys.placerOrderNumber = placer;
    if (filler) signal.businessKeys.fillerOrderNumber = filler;
    const group = message.get(orc, 4);
    if (group) signal.businessKeys.placerGroupNumber = group;
    if (obr) {
      const procedure = codeAt(message, obr, 4);
      if (!procedure) throw failure('hl7_no_item_code', 'OBR-4 universal service identifier is empty', 'OBR', 'OBR.4', obr.line);
      signal.procedure = procedure;
    }
    for (const rqd of rqds) {
      // RQD-2 item code internal, RQD-3 item code external; RQD-5 quantity, RQD-6 unit (4A.4.4).
      const code = codeAt(message, rqd, 2) ?? codeAt(message, rqd, 3);
      if (!code) throw failure('hl7_no_item_code', 'RQD-2 and RQD-3 (item codes) are both empty', 'RQD', 'RQD.2', rqd.line);
      signal.items.push(withQuantity({ code }, message.get(rqd, 5), message.get(rqd, 6)));
      const needed = hl7DateTimeToIso(message.get(rqd, 10));
      if (needed) signal.scheduledStart ??= needed;
    }
    if (rxe) {
      // RXE-2 give code; RXE-10 dispense amount, RXE-11 dispense units (4A.4.5).
      const code = codeAt(message, rxe, 2);
      if (!code) throw failure('hl7_no_item_code', 'RXE-2 give code is empty', 'RXE', 'RXE.2', rxe.line);
      signal.items.push(withQuantity({ code }, message.get(rxe, 10), message.get(rxe, 11)));
    }
    // Location: RXE-8 deliver-to location, else PV1-3 assigned patient location.
    const location = (rxe && locationAt(message, rxe, 8)) || locationAt(message, pv1, 3);
    if (location) signal.location = location;
    if (kind === 'supply' && !location) throw failure('hl7_no_location', 'a supply order needs a location: PV1-3 is empty', 'PV1', 'PV1.3', pv1?.line ?? orc.line);
    // Start: TQ1-7 start date/time (v2.5+), else ORC-7.4 (TQ start, older versions), else OBR-7.
    const tq1 = details.find((s) => s.name === 'TQ1');
    const start = [tq1 && message.get(tq1, 7), message.get(orc, 7, 4), obr && message.get(obr, 7)].map((v) => (v ? hl7DateTimeToIso(v) : undefined)).find((v) => v);
    if (start) signal.scheduledStart ??= start;
    const when = hl7DateTimeToIso(message.get(orc, 9));
    if (when) signal.occurredAt = when;
    return signal;
  });
}

function withQuantity(item: RequestedItem, quantity: string, unit: string): RequestedItem {
  const n = Number(quantity);
  if (quantity !== '' && Number.isFinite(n)) item.quantity = n;
  if (unit) item.unit = unit;
  return item;
}

/**
 * DFT^P03 (6.4.3): each FT1 is a charge. FT1-6 transaction type (table 0017): CG charge → utilization
 * complete, CD credit → its reversal (cancel); payments and adjustments (PY, AJ) are not utilization.
 * FT1-7 transaction code is the item, FT1-10 the quantity, FT1-13 the department, FT1-16 the location.
 */
function mapCharges(message: Hl7Message, context: Hl7MappingContext): DemandSignal[] {
  const ft1s = message.segmentsNamed('FT1');
  if (ft1s.length === 0) throw failure('hl7_missing_segment', 'DFT^P03 holds no FT1 segment', 'FT1', 'FT1', message.header.line);
  const pv1 = message.segment('PV1');
  const signals: DemandSignal[] = [];
  ft1s.forEach((ft1, index) => {
    const type = message.get(ft1, 6);
    if (type !== 'CG' && type !== 'CD') return;
    const code = codeAt(message, ft1, 7);
    if (!code) throw failure('hl7_no_item_code', 'FT1-7 transaction code is empty', 'FT1', 'FT1.7', ft1.line);
    const transactionId = message.get(ft1, 2) || `${message.header.controlId}/${index + 1}`;
    const signal = base(message, 'utilization', type === 'CG' ? 'complete' : 'cancel', type === 'CG' ? 'completed' : 'cancelled', transactionId, context);
    signal.businessKeys.transactionId = transactionId;
    signal.items.push(withQuantity({ code }, message.get(ft1, 10) || '1', ''));
    const procedure = codeAt(message, ft1, 25);
    if (procedure) signal.procedure = procedure;
    const department = codeAt(message, ft1, 13);
    const location = locationAt(message, ft1, 16) ?? (department ? { code: department.code, system: 'department' } : undefined) ?? locationAt(message, pv1, 3);
    if (!location) throw failure('hl7_no_location', 'no location: FT1-16, FT1-13 and PV1-3 are empty', 'FT1', 'FT1.16', ft1.line);
    signal.location = location;
    const when = hl7DateTimeToIso(message.get(ft1, 4));
    if (when) signal.scheduledStart = when;
    signals.push(signal);
  });
  return signals;
}

/**
 * ADT only as far as demand needs it (issue 4): where the patient is. ADT^A02 transfer (3.3.2: PV1-3 the new
 * assigned location, PV1-6 the prior one) and ADT^A08 update patient information (3.3.8: PV1-3 as it is now)
 * become one signal, action 'update', carrying the new location and the patient token: the demand flow applies
 * it to that patient's open demand (bedside supplies follow the patient; kind 'supply' says so). Which demand
 * is open is not the mapper's to know. An A08 whose PV1-6 prior location equals PV1-3 moved nobody: no signal.
 * The visit number (PV1-19) is patient-linked and not carried; the signal's id is the message's MSH-10.
 */
function mapLocationChange(message: Hl7Message, context: Hl7MappingContext): DemandSignal[] {
  const pv1 = message.segment('PV1');
  if (!pv1) throw failure('hl7_missing_segment', `${message.header.messageType} needs its PV1 segment (the patient's location)`, 'PV1', 'PV1', message.header.line);
  const location = locationAt(message, pv1, 3);
  if (!location) throw failure('hl7_no_location', `${message.header.messageType}: PV1-3 assigned patient location is empty`, 'PV1', 'PV1.3', pv1.line);
  const prior = locationAt(message, pv1, 6);
  if (message.header.triggerEvent === 'A08' && prior && prior.code === location.code && prior.system === location.system) return [];
  const signal = base(message, 'supply', 'update', 'active', message.header.controlId, context);
  if (!signal.patientToken) {
    const pid = message.segment('PID');
    throw failure('hl7_no_patient', `${message.header.messageType}: no patient identifier (PID-3) to find the patient's open demand by`, 'PID', 'PID.3', pid?.line ?? message.header.line);
  }
  signal.location = location;
  signal.businessKeys.appliesTo = 'patient-open-demand';
  if (prior) signal.businessKeys.priorLocation = [prior.code, prior.system].filter(Boolean).join('|');
  // EVN-6 event occurred (the transfer's real time), else EVN-2 recorded, else MSH-7 (already set by base).
  const evn = message.segment('EVN');
  const when = evn ? hl7DateTimeToIso(message.get(evn, 6)) ?? hl7DateTimeToIso(message.get(evn, 2)) : undefined;
  if (when) signal.occurredAt = when;
  return [signal];
}
