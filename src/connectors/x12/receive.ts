import { classify, describeLocation, type CarelaneError } from '../../contracts/errors.ts';
import type { InboundSink } from '../../contracts/inbound.ts';
import { newCorrelationId } from '../../observability/correlation.ts';
import { buildTa1, functionalAckKindFor, writeFunctionalAcks, writeTa1Interchange } from './acknowledgments.ts';
import { allIssues, readX12, type FunctionalGroup, type Interchange, type ReceivedTa1 } from './envelope.ts';
import type { X12Issue } from './issues.ts';
import { findPartnerForInterchange, type X12PartnerProfile } from './partner-profile.ts';
import { el } from './segment-access.ts';
import { sameInterchange, type StoredInterchange as StoredInterchangeContent } from './stored-interchange.ts';
import { SUPPORTED_TRANSACTION_SETS } from './to-canonical.ts';
import { tokenizeX12 } from './tokenizer.ts';
import { writeSegment } from './writer.ts';

/**
 * The inbound X12 path, independent of the transport (HTTP, the watched folder and SFTP all call the
 * same function). Persist, then acknowledge (DESIGN.md principle 1): each interchange is stored as ONE inbound
 * message (source `x12:<partner>`, type `X12_<set ids>`, externalId ISA13 scoped by the ISA sender, since
 * ISA13 is unique per sender only — X12.5) together with the acknowledgment it is answered with, and only then
 * is that acknowledgment returned. A duplicate interchange (same sender, same ISA13, same content) is stored once
 * and gets exactly the answer its first copy got; the same ISA13 on different content is refused with TA1 025
 * and parked (refuseReusedControlNumber).
 *
 * Which acknowledgment (ASC X12 acknowledgment rules):
 * - an envelope error (ISA/IEA, unknown sender or receiver) → TA1 with TA104 'R' and the I18 note code; no
 *   997/999, because a rejected interchange's groups are not looked at (X12.5 TA1 usage);
 * - else one 997 (004010 groups) or 999 (005010 groups) per interchange with one ST per functional group:
 *   AK2 … AK5/IK5 per set, AK3/AK4 or IK3/IK4 for each segment and element error, AK9 per group;
 *   ISA14 = '1' (acknowledgment requested) adds a TA1 'A' ahead of the groups;
 * - groups of acknowledgments (GS01 'FA': 997/999) are never acknowledged — acknowledging an acknowledgment
 *   would loop between partners; they are stored, and handed to `onFunctionalAcks` for the outbound ledger.
 */

export const X12_CONTENT_TYPE = 'application/edi-x12';

export interface EnvelopeNumbers {
  interchange: number;
  group: number;
  transaction: number;
}

/** What a received 997/999 says about one of our groups (AK1 and AK9). */
export interface ReceivedFunctionalAck {
  kind: '997' | '999';
  /** AK101, e.g. 'PO' */
  functionalId: string;
  /** AK102: GS06 of our group */
  groupControlNumber: string;
  /** AK901: A accepted, E accepted with errors, P partially accepted, R rejected */
  status: string;
  /** AK2/AK5 (IK5) per transaction set: ST02 and its status */
  transactions: Array<{ controlNumber: string; status: string }>;
}

export interface ReceiveX12Options {
  /** numbers for the acknowledgment interchange Carelane sends to `partner` (production: nextEnvelopeNumbers on the pool) */
  envelopeNumbers(partner: string): Promise<EnvelopeNumbers>;
  /** the partner the transport names (URL path, folder): when given, the ISA sender must be that partner */
  partnerId?: string;
  /**
   * The first stored copy of a duplicate ISA13 (production: loadStoredInterchange on the pool). With it, a copy
   * whose content differs is refused with TA1 025 and parked; without it every copy with a known ISA13 is
   * answered as a duplicate.
   */
  storedInterchange?(messageId: number): Promise<StoredInterchangeContent | undefined>;
  /** called after a stored, accepted interchange carried TA1s from `partner` (answers to our interchanges) */
  onInterchangeAcks?(partner: X12PartnerProfile, ta1s: ReceivedTa1[]): Promise<void>;
  /** called after a stored, accepted interchange carried 997/999s from `partner` */
  onFunctionalAcks?(partner: X12PartnerProfile, acks: ReceivedFunctionalAck[]): Promise<void>;
  now?(): Date;
}

export interface StoredInterchange {
  messageId: number;
  controlNumber: string;
  duplicate: boolean;
  /** true when the interchange was refused as a whole (TA1 'R', or every group rejected) */
  rejected: boolean;
  /** the first problem found, in words, when there is one */
  reason?: string;
}

export type X12ReceiveOutcome =
  /** `body` is what to send back ('' when nothing is to be answered, e.g. a 997 without ISA14 = 1) */
  | { kind: 'answered'; body: string; interchanges: StoredInterchange[] }
  /** not X12 at all: stored as rejected; there is no envelope to answer with a TA1 */
  | { kind: 'unreadable'; error: CarelaneError; messageId: number }
  /** not stored (database down, ...): the sender must get no positive acknowledgment and send again */
  | { kind: 'not_stored'; error: CarelaneError };

export async function receiveX12(bytes: Buffer, profiles: readonly X12PartnerProfile[], sink: InboundSink, options: ReceiveX12Options): Promise<X12ReceiveOutcome> {
  const transportPartner = options.partnerId === undefined ? undefined : profiles.find((p) => p.id === options.partnerId);
  let interchanges: Interchange[];
  try {
    interchanges = readX12(bytes).interchanges;
  } catch (thrown) {
    const error = classify(thrown);
    try {
      const receipt = await sink.accept({
        source: `x12:${transportPartner?.id ?? 'unknown'}`,
        messageType: 'X12_unknown',
        payload: bytes,
        contentType: X12_CONTENT_TYPE,
        correlationId: newCorrelationId(),
        rejectedReason: reasonOf(error),
      });
      return { kind: 'unreadable', error, messageId: receipt.messageId };
    } catch (storeError) {
      return { kind: 'not_stored', error: classify(storeError) };
    }
  }
  // Several interchanges in one body are stored one by one, each as its own text (segments re-joined with
  // its own delimiters): each has its own sender, ISA13 and answer.
  const texts = interchanges.length === 1 ? [bytes] : tokenizeX12(bytes).map((t) => Buffer.from(t.segments.map((s) => (s.id === 'ISA' ? s.elements.join(t.delimiters.element) + t.delimiters.segment : writeSegment(s.elements, t.delimiters))).join('\n') + '\n'));
  const answers: string[] = [];
  const stored: StoredInterchange[] = [];
  for (const [index, received] of interchanges.entries()) {
    const outcome = await receiveInterchange(received, texts[index]!, profiles, sink, options);
    if (outcome.kind === 'not_stored') return outcome;
    if (outcome.answer) answers.push(outcome.answer);
    stored.push(outcome.stored);
  }
  return { kind: 'answered', body: answers.join(''), interchanges: stored };
}

type InterchangeOutcome = { kind: 'stored'; answer: string; stored: StoredInterchange } | { kind: 'not_stored'; error: CarelaneError };

async function receiveInterchange(received: Interchange, payload: Buffer, profiles: readonly X12PartnerProfile[], sink: InboundSink, options: ReceiveX12Options): Promise<InterchangeOutcome> {
  const partner = findPartnerForInterchange(profiles, received.header);
  const interchange = withPartnerChecks(received, partner, options.partnerId);
  const header = interchange.header;
  const groupsToAcknowledge = interchange.groups.filter((g) => g.header.functionalId !== 'FA');
  const envelopeRejected = interchange.issues.length > 0;
  // The acknowledgment is numbered in the series of whom it is addressed to (the ISA sender); the message is
  // filed under the endpoint it arrived on, so a misrouted interchange shows up where it was sent.
  const partnerName = partner?.id ?? options.partnerId ?? 'unknown';
  const source = `x12:${options.partnerId ?? partnerName}`;

  let answer = '';
  let groupsAllRejected = false;
  try {
    const needsAnswer = envelopeRejected || header.acknowledgmentRequested || groupsToAcknowledge.length > 0;
    if (needsAnswer) {
      const numbers = await options.envelopeNumbers(partnerName);
      const at = options.now?.() ?? new Date();
      const usage = header.usage === 'P' ? 'P' : 'T';
      if (envelopeRejected || groupsToAcknowledge.length === 0) {
        answer = writeTa1Interchange(interchange, { interchangeControlNumber: numbers.interchange, at, usage });
      } else {
        const kind = functionalAckKindFor(groupsToAcknowledge[0]!);
        answer = writeFunctionalAcks(
          { ...interchange, groups: groupsToAcknowledge },
          {
            kind,
            interchangeControlNumber: numbers.interchange,
            groupControlNumber: numbers.group,
            firstTransactionControlNumber: numbers.transaction,
            usage,
            at,
            ...(partner ? { applicationSender: partner.ours.applicationCode } : {}),
            applicationReceiver: groupsToAcknowledge[0]!.header.senderCode,
          },
        );
        if (header.acknowledgmentRequested) answer = withTa1(answer, interchange);
        groupsAllRejected = groupsToAcknowledge.every((g) => groupRejected(g));
      }
    }
  } catch (error) {
    return { kind: 'not_stored', error: classify(error) };
  }

  const rejected = envelopeRejected || groupsAllRejected;
  const firstIssue = allIssues({ interchanges: [interchange] })[0];
  const reason = firstIssue ? issueReason(firstIssue, interchange) : undefined;
  let receipt;
  try {
    receipt = await sink.accept({
      source,
      messageType: messageTypeOf(interchange),
      externalId: header.controlNumber,
      dedupeScope: `${header.senderQualifier}:${header.senderId}`,
      payload,
      contentType: X12_CONTENT_TYPE,
      correlationId: newCorrelationId(),
      ackPayload: answer || null,
      ...(rejected ? { rejectedReason: reason ?? 'every functional group was rejected' } : {}),
    });
  } catch (error) {
    return { kind: 'not_stored', error: classify(error) };
  }
  if (receipt.duplicate && !rejected && options.storedInterchange) {
    let first;
    try {
      first = await options.storedInterchange(receipt.messageId);
    } catch (error) {
      return { kind: 'not_stored', error: classify(error) };
    }
    if (first && !sameInterchange(payload, first)) return refuseReusedControlNumber(interchange, payload, receipt.messageId, { source, partnerName, sink, options });
  }
  if (!rejected && partner && options.onFunctionalAcks) {
    const acks = readFunctionalAcks(interchange);
    if (acks.length > 0) await options.onFunctionalAcks(partner, acks).catch(() => {
      // The 997 itself is stored; the ledger can be rebuilt from it. Its sender must not resend for this.
    });
  }
  if (!rejected && partner && options.onInterchangeAcks && interchange.ta1.length > 0) {
    await options.onInterchangeAcks(partner, interchange.ta1).catch(() => {
      // As above: the TA1 is stored.
    });
  }
  return {
    kind: 'stored',
    answer: receipt.duplicate ? (receipt.ackPayload ?? '') : answer,
    stored: { messageId: receipt.messageId, controlNumber: header.controlNumber, duplicate: receipt.duplicate, rejected, ...(reason ? { reason } : {}) },
  };
}

/**
 * The sender reused an ISA13 it already sent us for another interchange (X12.5: ISA13 with the sender id
 * identifies an interchange). The copy is refused with TA1 'R' note code 025 "Duplicate Interchange Control
 * Number" and stored parked (rejected, so keyed by its content hash: a re-send of this same copy gets the same
 * TA1). Its groups are not looked at, as for any rejected interchange.
 */
async function refuseReusedControlNumber(
  interchange: Interchange,
  payload: Buffer,
  firstMessageId: number,
  context: { source: string; partnerName: string; sink: InboundSink; options: ReceiveX12Options },
): Promise<InterchangeOutcome> {
  const header = interchange.header;
  const issue: X12Issue = {
    code: 'x12_control_number_duplicate',
    level: 'interchange',
    message: `ISA13 ${header.controlNumber} from ${header.senderQualifier}/${header.senderId.trim()} was already received with different content (message ${firstMessageId}); refused, not processed`,
    segment: 'ISA',
    line: interchange.line,
    elementPosition: 13,
    badValue: header.controlNumber,
    ackCode: '025',
  };
  // Its groups are not looked at (as for any interchange a TA1 rejects), so the reason names this issue only.
  const refused: Interchange = { ...interchange, issues: [issue], groups: [] };
  const reason = issueReason(issue, refused);
  try {
    const numbers = await context.options.envelopeNumbers(context.partnerName);
    const answer = writeTa1Interchange(refused, { interchangeControlNumber: numbers.interchange, at: context.options.now?.() ?? new Date(), usage: header.usage === 'P' ? 'P' : 'T' });
    const receipt = await context.sink.accept({
      source: context.source,
      messageType: messageTypeOf(interchange),
      externalId: header.controlNumber,
      dedupeScope: `${header.senderQualifier}:${header.senderId}`,
      payload,
      contentType: X12_CONTENT_TYPE,
      correlationId: newCorrelationId(),
      ackPayload: answer,
      rejectedReason: reason,
    });
    return {
      kind: 'stored',
      answer: receipt.duplicate ? (receipt.ackPayload ?? '') : answer,
      stored: { messageId: receipt.messageId, controlNumber: header.controlNumber, duplicate: receipt.duplicate, rejected: true, reason },
    };
  } catch (error) {
    return { kind: 'not_stored', error: classify(error) };
  }
}

/**
 * Adds the trading-partner checks to the reader's issues (a copy; the reader's result is not changed):
 * - the ISA sender must be a configured partner (and the one the transport named): I18 '006' invalid sender id;
 * - the ISA receiver must be us for that partner: I18 '007' invalid receiver qualifier, '008' invalid receiver id;
 * - ISA15 must be the partner's usage: a production interchange from a partner in test (or the reverse) is
 *   refused with I18 '020' (invalid test indicator value), never processed as the other kind;
 * - a transaction set Carelane does not map gets 718 code '1' "Transaction Set Not Supported".
 */
function withPartnerChecks(interchange: Interchange, partner: X12PartnerProfile | undefined, transportPartnerId: string | undefined): Interchange {
  const header = interchange.header;
  const issues: X12Issue[] = [...interchange.issues];
  const add = (elementPosition: number, ackCode: string, message: string, badValue: string) =>
    issues.push({ code: 'x12_element_invalid', level: 'interchange', message, segment: 'ISA', line: interchange.line, elementPosition, badValue, ackCode });
  if (!partner) add(6, '006', `ISA05/ISA06 ${header.senderQualifier}/${header.senderId} is not a configured trading partner`, header.senderId);
  else if (transportPartnerId !== undefined && partner.id !== transportPartnerId) add(6, '006', `ISA06 ${header.senderId} belongs to partner ${partner.id}, not to ${transportPartnerId} that this endpoint serves`, header.senderId);
  else {
    if (header.receiverQualifier !== partner.ours.qualifier) add(7, '007', `ISA07 ${header.receiverQualifier} is not our qualifier ${partner.ours.qualifier} for partner ${partner.id}`, header.receiverQualifier);
    else if (header.receiverId !== partner.ours.id) add(8, '008', `ISA08 ${header.receiverId} is not our id ${partner.ours.id} for partner ${partner.id}`, header.receiverId);
    if ((header.usage === 'P' || header.usage === 'T') && header.usage !== partner.usage) add(15, '020', `ISA15 ${header.usage} but partner ${partner.id} exchanges ${partner.usage === 'P' ? 'production' : 'test'} interchanges`, header.usage);
  }
  const supported = new Set<string>(SUPPORTED_TRANSACTION_SETS);
  const groups = interchange.groups.map((group) =>
    group.header.functionalId === 'FA'
      ? group
      : {
          ...group,
          transactions: group.transactions.map((t) =>
            supported.has(t.type) || t.issues.some((i) => i.level === 'transaction' && i.ackCode === '1')
              ? t
              : { ...t, issues: [{ code: 'x12_transaction_unsupported' as const, level: 'transaction' as const, message: `transaction set ${t.type} is not supported by Carelane`, segment: 'ST', line: t.segments[0]!.line, segmentPosition: 1, elementPosition: 1, badValue: t.type, ackCode: '1' }, ...t.issues] },
          ),
        },
  );
  return { ...interchange, issues, groups };
}

/** A group is rejected as a whole when it has group-level errors or not one accepted set (AK901 'R'). */
function groupRejected(group: FunctionalGroup): boolean {
  return group.issues.length > 0 || group.transactions.every((t) => t.issues.length > 0);
}

/** TA1 sits between ISA and the first GS (X12.5): inserted after the ISA line of the 997/999 interchange. */
function withTa1(ackInterchange: string, received: Interchange): string {
  const newline = ackInterchange.indexOf('\n');
  const d = { element: '*', component: ':', repetition: null, segment: '~' };
  return ackInterchange.slice(0, newline + 1) + writeSegment(buildTa1(received).segment, d) + '\n' + ackInterchange.slice(newline + 1);
}

/** `X12_856`, or `X12_810+850` for an interchange carrying several kinds; `X12_TA1` when it has no sets. */
function messageTypeOf(interchange: Interchange): string {
  const types = [...new Set(interchange.groups.flatMap((g) => g.transactions.map((t) => t.type)))].sort();
  return types.length === 0 ? 'X12_TA1' : `X12_${types.join('+')}`;
}

function issueReason(issue: X12Issue, interchange: Interchange): string {
  const element = issue.elementPosition === undefined ? '' : `${issue.segment}${String(issue.elementPosition).padStart(2, '0')}`;
  const where = describeLocation({ segment: issue.segment, ...(element ? { field: element } : {}), ...(issue.line !== undefined ? { line: issue.line } : {}), ...(issue.segmentPosition !== undefined ? { position: issue.segmentPosition } : {}) });
  const more = allIssues({ interchanges: [interchange] }).length - 1;
  return `${issue.code}: ${issue.message} (${where}; ack code ${issue.ackCode})${more > 0 ? ` and ${more} more issue(s)` : ''}`;
}

function reasonOf(error: CarelaneError): string {
  const where = describeLocation(error.where);
  return `${error.code}: ${error.message}${where ? ` (${where})` : ''}`;
}

/** AK1/AK2/AK5(IK5)/AK9 of the 997s and 999s of an interchange, for the outbound ledger. */
export function readFunctionalAcks(interchange: Interchange): ReceivedFunctionalAck[] {
  const acks: ReceivedFunctionalAck[] = [];
  for (const group of interchange.groups) {
    for (const t of group.transactions) {
      if ((t.type !== '997' && t.type !== '999') || t.issues.length > 0) continue;
      const ack: ReceivedFunctionalAck = { kind: t.type, functionalId: '', groupControlNumber: '', status: '', transactions: [] };
      let set: { controlNumber: string; status: string } | undefined;
      for (const s of t.segments) {
        if (s.id === 'AK1') {
          ack.functionalId = el(s, 1);
          ack.groupControlNumber = el(s, 2);
        } else if (s.id === 'AK2') {
          set = { controlNumber: el(s, 2), status: '' };
          ack.transactions.push(set);
        } else if ((s.id === 'AK5' || s.id === 'IK5') && set) set.status = el(s, 1);
        else if (s.id === 'AK9') ack.status = el(s, 1);
      }
      acks.push(ack);
    }
  }
  return acks;
}
