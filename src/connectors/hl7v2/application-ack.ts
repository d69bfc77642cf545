import type pg from 'pg';
import type { ErrorLocation } from '../../contracts/errors.ts';
import type { SettledMessage, SettlementHook } from '../../engine/handlers.ts';
import { enqueueDeliveries, recordStage } from '../../store/queue.ts';
import { acknowledgmentWanted, buildApplicationAck, versionAtLeast, type AckError, type ApplicationAckCode, type Hl7ErrorCode } from './ack.ts';
import { decodeMessage, readMessageHeader, type MessageHeader } from './message-header.ts';
import { HL7_V2_CONTENT_TYPE, truncatedValuesOf } from './mllp-listener.ts';
import { controlIdFor } from './order-status.ts';

/**
 * The application acknowledgment of enhanced mode (HL7 v2.5 chapter 2, 2.9.3): a sender that valued MSH-16 is
 * told, after Carelane has processed its message, whether the processing succeeded. The accept acknowledgment
 * (CA) went back on the sender's own connection when the message was stored; this one is a message Carelane
 * initiates, on its own MLLP connection to a return address configured per sender (`hl7v2.returnAddresses`,
 * pointing at an `hl7v2.destinations` entry), as an `hl7v2.send` delivery: persisted in the transaction that
 * settles the message, retried, circuit-broken and parked like any other send.
 *
 * Outcome → MSA-1 (table 0008):
 * - processed (every delivery done) → AA;
 * - failed on a business or permanent exception (content: an unmapped code, a missing field, a duplicate) → AE,
 *   one ERR per open exception with its table 0357 code, location and reason;
 * - failed on an unsupported message type (`hl7_not_demand`), or because retries ran out on a peer
 *   (transient/ambiguous: "unable to process for reasons unrelated to format or content") → AR;
 * - no route takes it (stored and committed with CA, but nothing will process it) → AR with ERR 200 at MSH-9,
 *   enqueued in the transaction that stores it;
 * - an operator dismissed or cancelled its exception → the failure it came to (AE with the exception's reason,
 *   or AR), as that exception was the outcome: never AA because a cancelled step left nothing failed;
 * - superseded by an edited copy → nothing more for this message: the copy is processed in its place and its
 *   own application ACK answers the same MSH-10.
 * Values the sender marked as truncated (v2.7 truncation character) add one ERR of severity W per position to
 * whichever of these is sent, AA included (truncationWarnings).
 * MSH-16 (table 0155) chooses which of these are sent: AL all, ER only AE/AR, SU only AA, NE none. What is not
 * sent, and why, is written on the message's timeline. Only MSH, MSA and ERR: nothing of the message's PID or
 * other content is copied.
 */

/** A sender (MSH-3, optionally MSH-4) and the hl7v2.destinations entry its application acknowledgments go to. */
export interface Hl7ReturnAddress {
  sendingApplication: string;
  /** absent: any facility of that application */
  sendingFacility?: string | undefined;
  destination: string;
}

export interface ApplicationAckOptions {
  returnAddresses: readonly Hl7ReturnAddress[];
  /** MSH-3 of the ACK when the message named no receiving application (as the listener's `applicationName`) */
  applicationName?: string;
}

/** Idempotency keys of application ACK deliveries: their own failures are not the message's processing. */
const ACK_KEY_PREFIX = 'hl7-app-ack:';
/** ERR-8 is TX of 250 characters in v2.5 (2.15.5.8); an ACK is no place for a whole stack of reasons. */
const MAX_ERROR_TEXT = 250;
const MAX_ERRORS = 5;

/** The first return address that names the message's sender: MSH-3 must match, MSH-4 when the entry gives one. */
export function returnAddressFor(addresses: readonly Hl7ReturnAddress[], header: Pick<MessageHeader, 'sendingApplication' | 'sendingFacility'>): Hl7ReturnAddress | undefined {
  return addresses.find((a) => a.sendingApplication === header.sendingApplication && (a.sendingFacility === undefined || a.sendingFacility === header.sendingFacility));
}

/** The engine's settlement hook that sends application acknowledgments (registered by the composition root). */
export function hl7ApplicationAcks(options: ApplicationAckOptions): SettlementHook {
  return async (tx, settled) => {
    if (settled.contentType !== HL7_V2_CONTENT_TYPE) return;
    const header = await storedHeader(tx, settled.messageId);
    const asked = header?.applicationAckType.toUpperCase() ?? '';
    if (!header || !asked || asked === 'NE') return;
    if (settled.status === 'superseded') {
      await recordOnce(tx, settled.messageId, 'hl7v2 application ACK: superseded by an edited copy', {
        reason: "no further application ACK for this message: the edited copy is processed in its place and the copy's own application ACK answers this MSH-10",
        ackFor: header.controlId,
      });
      return;
    }
    const verdict = await verdictOf(tx, settled);
    const sender = `${header.sendingApplication}^${header.sendingFacility}`;
    if (!acknowledgmentWanted(asked, verdict.code === 'AA')) {
      await recordOnce(tx, settled.messageId, `hl7v2 application ACK ${verdict.code} not sent`, { reason: `MSH-16 ${asked} asks for ${asked === 'SU' ? 'success' : 'error'} acknowledgments only`, ackFor: header.controlId });
      return;
    }
    const address = returnAddressFor(options.returnAddresses, header);
    if (!address) {
      await recordOnce(tx, settled.messageId, `hl7v2 application ACK ${verdict.code} not sent`, { reason: `no hl7v2.returnAddresses entry for sender ${sender}`, ackFor: header.controlId });
      return;
    }
    // One application ACK per outcome: a message that failed (AE) and succeeds after a replay is told AA too.
    const idempotencyKey = `${ACK_KEY_PREFIX}${settled.messageId}:${verdict.code}`;
    const existing = await tx.query('select 1 from carelane.deliveries where idempotency_key = $1', [idempotencyKey]);
    if (existing.rowCount) return;
    const controlId = controlIdFor(idempotencyKey);
    const warnings = await truncationWarnings(tx, settled.messageId, header);
    const ack = buildApplicationAck(header, verdict.code, [...verdict.errors, ...warnings].map((error) => asciiFor(header, error)), {
      controlId,
      ...(options.applicationName ? { applicationName: options.applicationName } : {}),
    });
    await enqueueDeliveries(tx, [
      {
        lane: settled.lane,
        action: 'hl7v2.send',
        endpoint: address.destination,
        idempotencyKey,
        correlationId: settled.correlationId,
        messageId: settled.messageId,
        payload: { message: ack },
      },
    ]);
    await recordStage(tx, settled.messageId, `hl7v2 application ACK ${verdict.code} queued for ${address.destination}`, 'ok', { controlId, ackFor: header.controlId, errors: verdict.errors.length, warnings: warnings.length });
  };
}

async function storedHeader(tx: pg.PoolClient, messageId: number): Promise<MessageHeader | undefined> {
  // The header is at the start: no need to read a large message whole inside the settling transaction.
  const { rows } = await tx.query<{ payload: Buffer | null }>('select substring(payload from 1 for 16384) as payload from carelane.messages where id = $1', [messageId]);
  const payload = rows[0]?.payload;
  if (!payload) return undefined;
  const reading = readMessageHeader(decodeMessage(payload).text);
  return reading.ok ? reading.header : undefined;
}

/** Truncation warnings in one ACK; a sender that marks more values is told how many more, not where. */
const MAX_WARNINGS = 10;

/**
 * One ERR per value the sender marked as truncated (v2.7 2.5.5.2), so it learns its values were cut and kept as
 * sent. The ERR of v2.5+ (chapter 2, 2.15.5; v2.7 keeps it, ERR-1 withdrawn): ERR-2 error location (ERL: segment
 * id ^ segment sequence ^ field ^ repetition ^ component ^ subcomponent; the sequence counts occurrences of that
 * segment, not its Set ID), ERR-3 table 0357 (required: 0 "Message accepted", as nothing was refused), ERR-4
 * severity from table 0516 (E error, W warning, I information): W. One acknowledgment may mix E and W ERRs.
 * Checked against: integrationsoup.com/hl7-reference/segments/err (v2.5.1 field list),
 * usnistgov.github.io/v2plusDemo/data-type/ERL.html, terminology.hl7.org CodeSystem v2-0516 and v2-0357.
 * Positions only, never the values. Read from the stored message itself, not from its parse-warning stage, which
 * the listener writes after the message is committed and so may not exist yet when a fast flow settles it.
 */
async function truncationWarnings(tx: pg.PoolClient, messageId: number, header: MessageHeader): Promise<AckError[]> {
  // ERR-4 only exists from v2.5; without a fifth MSH-2 character nothing can be marked (storedHeader read MSH-2).
  if (!header.delimiters.truncation || !versionAtLeast(header.version, 2, 5)) return [];
  const { rows } = await tx.query<{ payload: Buffer | null }>('select payload from carelane.messages where id = $1', [messageId]);
  const payload = rows[0]?.payload;
  if (!payload) return [];
  const values = truncatedValuesOf(decodeMessage(payload).text, header);
  const listed = values.length > MAX_WARNINGS ? values.slice(0, MAX_WARNINGS - 1) : values;
  const warnings: AckError[] = listed.map((value) => ({
    hl7ErrorCode: 0,
    severity: 'W',
    text: `${value.position}: value marked as truncated by the sender (truncation character); stored as sent`,
    location: {
      segment: value.segment,
      sequence: value.sequence,
      field: value.field,
      repetition: value.repetition,
      ...(value.level !== 'field' ? { component: value.component } : {}),
      ...(value.level === 'subcomponent' ? { subcomponent: value.subcomponent } : {}),
    },
  }));
  if (listed.length < values.length) {
    warnings.push({ hl7ErrorCode: 0, severity: 'W', text: `${values.length - listed.length} more values marked as truncated by the sender (not listed); stored as sent` });
  }
  return warnings;
}

interface Verdict {
  code: ApplicationAckCode;
  errors: AckError[];
}

interface OutcomeException {
  id: number;
  type: string;
  classification: 'transient' | 'ambiguous' | 'permanent' | 'business';
  reason: string;
  attempts: number;
  detail: { code?: string; where?: ErrorLocation | null } | null;
  /** closed by an operator (dismiss or cancel) rather than still waiting for one */
  closed: boolean;
}

/**
 * HL7 v2.5 chapter 2, 2.9.2 (message processing rules, which the enhanced-mode application acknowledgment
 * follows): the receiving application answers with an application reject when the value of MSH-9 (message type)
 * is not acceptable to it; table 0008 AR, table 0357 code 200 "Unsupported message type". A message no route
 * takes is such a message for Carelane. Fixed wording: MSH-9 is the sender's own, nothing else is echoed.
 */
function unroutedVerdict(messageType: string): Verdict {
  return { code: 'AR', errors: [{ hl7ErrorCode: 200, text: `message type ${messageType} is not processed by this receiver (no route takes it)`, where: { segment: 'MSH', field: 'MSH.9' } }] };
}

/**
 * What the processing came to, read from the message's exceptions (an application ACK's own aside): the open
 * ones, and those an operator dismissed or cancelled, which stay the outcome until the message is processed
 * again (their step put back in the queue by a replay, or the whole message run again after them).
 */
async function verdictOf(tx: pg.PoolClient, settled: SettledMessage): Promise<Verdict> {
  if (settled.status === 'unrouted') return unroutedVerdict(settled.messageType);
  const ackKeys = `${ACK_KEY_PREFIX}%`;
  if (settled.status === 'processed') {
    // A cancelled step is the only way an operator's decision leaves a message "processed": look no further without one.
    const { rowCount } = await tx.query(`select 1 from carelane.deliveries where message_id = $1 and status = 'cancelled' and idempotency_key not like $2 limit 1`, [settled.messageId, ackKeys]);
    if (!rowCount) return { code: 'AA', errors: [] };
  }
  const { rows } = await tx.query<OutcomeException>(
    `select e.id, e.type, e.classification, e.reason, e.attempts, e.detail, e.status = 'resolved' as closed
     from carelane.exceptions e left join carelane.deliveries d on d.id = e.delivery_id
     where e.message_id = $1 and (d.idempotency_key is null or d.idempotency_key not like $2)
       and (e.status = 'open'
            or (e.resolution_action in ('dismiss', 'cancel')
                and (d.id is null or d.status in ('exception', 'cancelled'))
                and e.created_at >= coalesce((select max(r.created_at) from carelane.deliveries r where r.message_id = $1 and r.action = 'route'), '-infinity')))
     order by e.id`,
    [settled.messageId, ackKeys],
  );
  if (settled.status === 'processed' && rows.length === 0) return { code: 'AA', errors: [] };
  if (rows.length === 0) {
    const { rowCount } = await tx.query(`select 1 from carelane.deliveries where message_id = $1 and status = 'exception' and idempotency_key not like $2 limit 1`, [settled.messageId, ackKeys]);
    // Failed only because an earlier application ACK could not be delivered: the processing itself succeeded.
    if (!rowCount) return { code: 'AA', errors: [] };
  }
  const content = rows.filter((row) => row.classification === 'business' || row.classification === 'permanent');
  if (content.length === 0) {
    // No content fault: a peer failed until retries ran out (or the exception was closed meanwhile).
    const first = rows[0];
    const text = first
      ? `processing could not be completed: a system Carelane depends on failed after ${first.attempts} attempt(s); ${first.closed ? 'closed by an operator without processing' : 'held for an operator'} (exception ${first.id})`
      : 'processing could not be completed';
    return { code: 'AR', errors: [{ hl7ErrorCode: 207, text }] };
  }
  const errors = content.slice(0, MAX_ERRORS).map(errorOf);
  // Table 0008 AR: the message type or event itself is not supported, rather than its content being wrong.
  const unsupported = content.every((row) => row.detail?.code === 'hl7_not_demand');
  return { code: unsupported ? 'AR' : 'AE', errors };
}

/** Table 0357 code for the error codes the inbound mapping and the demand flow raise. */
const ERROR_CODE_BY_CARELANE_CODE: Record<string, Hl7ErrorCode> = {
  hl7_not_demand: 200,
  hl7_missing_segment: 100,
  hl7_unknown_order_control: 103,
  mapping_missing: 204,
  duplicate_demand: 205,
};

function errorOf(row: OutcomeException): AckError {
  const code = row.detail?.code ?? '';
  const hl7ErrorCode = ERROR_CODE_BY_CARELANE_CODE[code] ?? (/^hl7_no_/.test(code) ? 101 : 207);
  const text = row.reason.length > MAX_ERROR_TEXT ? `${row.reason.slice(0, MAX_ERROR_TEXT - 3)}...` : row.reason;
  return { hl7ErrorCode, text, where: row.detail?.where ?? undefined };
}

/**
 * The ACK echoes the message's MSH-18 but goes out through the UTF-8 sender: for a single-byte character set,
 * text outside ASCII is replaced rather than sent as bytes the sender would read as other characters.
 */
function asciiFor(header: MessageHeader, error: AckError): AckError {
  if (!header.characterSet || /UTF/i.test(header.characterSet)) return error;
  return { ...error, text: error.text.replace(/[^\x20-\x7e]/g, '?') };
}

/** A skipped application ACK is written once, however often the message settles again. */
async function recordOnce(tx: pg.PoolClient, messageId: number, stage: string, detail: Record<string, unknown>): Promise<void> {
  const { rowCount } = await tx.query('select 1 from carelane.message_stages where message_id = $1 and stage = $2', [messageId, stage]);
  if (!rowCount) await recordStage(tx, messageId, stage, 'skipped', detail);
}
