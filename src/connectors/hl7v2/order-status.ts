import { createHash } from 'node:crypto';
import { DEFAULT_DELIMITERS } from './message-header.ts';
import { escapeHl7Text, hl7Timestamp } from './ack.ts';

/**
 * The order status message Carelane sends back to an EHR over HL7 v2 (pure: request in, message text out).
 *
 * Why ORM^O01 with ORC-1 `SC`: HL7 table 0119 defines SC "Status changed" as the order control a filler uses to
 * tell the placer, unsolicited, that an order's status moved (chapter 4, 4.5.1.1 ORC-1, filler → placer), with
 * the new status in ORC-5 (table 0038: IP in process, SC scheduled, CM completed, CA cancelled, HD on hold,
 * DC discontinued, A some but not all results available — used here for a partly reserved order). ORR^O02 is the
 * application acknowledgment of one ORM on that exchange, not an unsolicited update, and OSR^Q06 answers a
 * query: neither is what an EHR's order interface takes for a status change. ORM^O01 (withdrawn in v2.7 in
 * favour of OMG/OMS, still what most EHR order interfaces take) carries an ORC without order detail, which is all
 * a status needs (ORM_O01: ORC required, order detail optional).
 */

/** HL7 table 0038 order status. */
export type Hl7OrderStatusCode = 'A' | 'CA' | 'CM' | 'DC' | 'ER' | 'HD' | 'IP' | 'RP' | 'SC';
export const HL7_ORDER_STATUS_CODES: readonly Hl7OrderStatusCode[] = ['A', 'CA', 'CM', 'DC', 'ER', 'HD', 'IP', 'RP', 'SC'];

/** What a flow asks to tell the EHR about one order. */
export interface Hl7OrderStatusUpdate {
  /** ORC-2 placer order number, as the EHR sent it (EI.1, with EI.2 namespace after a '^' if it had one) */
  placerOrderNumber: string;
  /** ORC-3 filler order number: Carelane's (or the fulfilling system's) own id of the order */
  fillerOrderNumber?: string;
  /** ORC-4 placer group number */
  placerGroupNumber?: string;
  /** ORC-5 */
  orderStatus: Hl7OrderStatusCode;
  /** ORC-16 order control code reason (CWE): e.g. { code: 'backordered', text: 'Backordered at supplier' } */
  reason?: { code: string; text?: string; system?: string };
}

export interface Hl7SenderIdentity {
  sendingApplication: string;
  sendingFacility: string;
  receivingApplication: string;
  receivingFacility: string;
  /** MSH-12; default 2.5.1 */
  version?: string;
  /** MSH-11; default P */
  processingId?: string;
  /** enhanced mode (2.9.3): MSH-15 AL (accept acknowledgment always), MSH-16 NE (no application acknowledgment) */
  acknowledgment: 'original' | 'enhanced';
}

/**
 * MSH-10 from the delivery's idempotency key: the same key always gives the same control id, so a resend after
 * an unanswered attempt is recognised by the receiver as the same message (2.9.2) and not applied twice.
 * 20 characters: MSH-10's length up to v2.6.
 */
export function controlIdFor(idempotencyKey: string): string {
  return `CL${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 18).toUpperCase()}`;
}

/** The value of an HL7 field from our own text: delimiters escaped (2.7), so an order number cannot break the message. */
const field = (value: string | undefined): string => escapeHl7Text(value ?? '', DEFAULT_DELIMITERS);

/** EI as given: `id^namespace` keeps its component separator, anything else in it is escaped. */
const entityIdentifier = (value: string | undefined): string => (value ?? '').split('^').map(field).join('^');

/** MSH for a message Carelane sends: our own delimiters (^~\&), the identity from the destination's config. */
export function outboundHeader(identity: Hl7SenderIdentity, messageType: string, controlId: string, now: Date = new Date()): string {
  const msh = [
    'MSH',
    '^~\\&',
    field(identity.sendingApplication),
    field(identity.sendingFacility),
    field(identity.receivingApplication),
    field(identity.receivingFacility),
    hl7Timestamp(now),
    '',
    messageType,
    controlId,
    identity.processingId ?? 'P',
    identity.version ?? '2.5.1',
  ];
  if (identity.acknowledgment === 'enhanced') msh.push('', '', 'AL', 'NE');
  return msh.join('|');
}

/** ORM^O01 with ORC-1 SC; segments ended by CR. */
export function orderStatusMessage(update: Hl7OrderStatusUpdate, identity: Hl7SenderIdentity, controlId: string, now: Date = new Date()): string {
  const orc = new Array<string>(17).fill('');
  orc[0] = 'ORC';
  orc[1] = 'SC';
  orc[2] = entityIdentifier(update.placerOrderNumber);
  orc[3] = entityIdentifier(update.fillerOrderNumber);
  orc[4] = entityIdentifier(update.placerGroupNumber);
  orc[5] = update.orderStatus;
  // ORC-9 date/time of transaction: when the status changed.
  orc[9] = hl7Timestamp(now);
  if (update.reason) orc[16] = [field(update.reason.code), field(update.reason.text), field(update.reason.system ?? 'L')].join('^');
  const version = identity.version ?? '2.5.1';
  // MSH-9.3 message structure exists from v2.3.1.
  const type = /^2\.(3\.1|[4-9])/.test(version) ? 'ORM^O01^ORM_O01' : 'ORM^O01';
  return `${[outboundHeader(identity, type, controlId, now), orc.join('|').replace(/\|+$/, '')].join('\r')}\r`;
}
