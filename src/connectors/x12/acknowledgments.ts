import type { FunctionalGroup, Interchange, TransactionSet } from './envelope.ts';
import type { X12Issue } from './issues.ts';
import { controlNumber9, transactionSet, writeInterchange, writeSegment, defaultDelimiters, type EnvelopeOptions, type SegmentValues } from './writer.ts';

/**
 * Acknowledgments of a received interchange, built from the reader's issues. Pure.
 * - TA1 Interchange Acknowledgment (X12.5): the ISA/IEA envelope; TA104 A/E/R, TA105 note code (I18).
 * - 997 Functional Acknowledgment (004010): AK1 group, per set AK2, AK3 segment error (720), AK4 element
 *   error (723), AK5 set response (717/718); AK9 group response (715/716).
 * - 999 Implementation Acknowledgment (005010X231): same shape with IK3/IK4/IK5, IK401 as composite C030
 *   (element:component), ST03/AK103 carrying the implementation convention.
 * Every error is reported (AK5/IK5 'R'); 'E' (accepted with errors) is not used because Carelane does not
 * process a set it found errors in.
 */

export type FunctionalAckKind = '997' | '999';

export interface TransactionResponse {
  transaction: TransactionSet;
  accepted: boolean;
}

export interface FunctionalAckResult {
  kind: FunctionalAckKind;
  /** AK901: A accepted, P partially accepted, R rejected */
  groupStatus: 'A' | 'P' | 'R';
  responses: TransactionResponse[];
  /** the 997/999 body segments, ST to SE */
  segments: SegmentValues[];
}

/** 999 for 005010 groups, 997 otherwise (GS08 starts with the version). */
export function functionalAckKindFor(group: FunctionalGroup): FunctionalAckKind {
  return group.header.version >= '005010' ? '999' : '997';
}

export function buildFunctionalAck(group: FunctionalGroup, controlNumber: string, kind: FunctionalAckKind = functionalAckKindFor(group)): FunctionalAckResult {
  const is999 = kind === '999';
  const body: SegmentValues[] = [];
  body.push(is999 && group.header.version.length > 6 ? ['AK1', group.header.functionalId, group.header.controlNumber, group.header.version] : ['AK1', group.header.functionalId, group.header.controlNumber]);
  const responses: TransactionResponse[] = [];
  for (const transaction of group.transactions) {
    body.push(is999 && transaction.implementationReference ? ['AK2', transaction.type, transaction.controlNumber, transaction.implementationReference] : ['AK2', transaction.type, transaction.controlNumber]);
    const segmentIssues = transaction.issues.filter((i) => i.level === 'segment' || i.level === 'element');
    for (const [, issues] of groupBySegment(segmentIssues)) {
      const first = issues[0]!;
      const segmentLevel = issues.find((i) => i.level === 'segment');
      // 720 code 8 "Segment Has Data Element Errors" when only its elements are wrong.
      body.push([is999 ? 'IK3' : 'AK3', first.segment, String(first.segmentPosition ?? ''), first.loop ?? '', segmentLevel?.ackCode ?? '8']);
      for (const element of issues.filter((i) => i.level === 'element')) {
        const position = String(element.elementPosition ?? '') + (is999 && element.componentPosition ? `:${element.componentPosition}` : '');
        body.push([is999 ? 'IK4' : 'AK4', position, '', element.ackCode, element.badValue ?? '']);
      }
    }
    const setCodes = transaction.issues.filter((i) => i.level === 'transaction').map((i) => i.ackCode);
    if (segmentIssues.length > 0) setCodes.push('5'); // 718 code 5 "One or More Segments in Error"
    const accepted = setCodes.length === 0;
    body.push([is999 ? 'IK5' : 'AK5', accepted ? 'A' : 'R', ...unique(setCodes).slice(0, 5)]);
    responses.push({ transaction, accepted });
  }
  const acceptedCount = responses.filter((r) => r.accepted).length;
  const groupCodes = unique(group.issues.map((i) => i.ackCode)).slice(0, 5);
  const groupStatus: 'A' | 'P' | 'R' = groupCodes.length > 0 || acceptedCount === 0 ? 'R' : acceptedCount === responses.length ? 'A' : 'P';
  const declared = group.issues.some((i) => i.segment === 'GE' && i.code === 'x12_missing_trailer') ? group.transactions.length : declaredCount(group);
  body.push(['AK9', groupStatus, String(declared), String(group.transactions.length), String(acceptedCount), ...groupCodes]);
  return { kind, groupStatus, responses, segments: transactionSet(kind, controlNumber, body, is999 ? '005010X231' : undefined) };
}

/** A whole 997/999 interchange answering every group of `interchange`, sender and receiver swapped. */
export function writeFunctionalAcks(interchange: Interchange, options: Omit<EnvelopeOptions, 'sender' | 'receiver' | 'version'> & { firstTransactionControlNumber: number; kind?: FunctionalAckKind }): string {
  const kind = options.kind ?? (interchange.header.version >= '00501' ? '999' : '997');
  const sets = interchange.groups.map((group, i) => buildFunctionalAck(group, String(options.firstTransactionControlNumber + i).padStart(4, '0'), kind).segments);
  return writeInterchange('FA', sets, {
    ...options,
    sender: { qualifier: interchange.header.receiverQualifier, id: interchange.header.receiverId },
    receiver: { qualifier: interchange.header.senderQualifier, id: interchange.header.senderId },
    version: kind === '999' ? '005010' : '004010',
    groupVersion: kind === '999' ? '005010X231' : '004010',
  });
}

export interface Ta1Result {
  /** TA104: A accepted, R rejected */
  status: 'A' | 'R';
  /** TA105 (I18), '000' = no error */
  noteCode: string;
  segment: SegmentValues;
}

/** TA1 for the interchange envelope: the first interchange-level issue decides the note code. */
export function buildTa1(interchange: Interchange): Ta1Result {
  const issue: X12Issue | undefined = interchange.issues[0];
  const status = issue ? 'R' : 'A';
  const noteCode = issue?.ackCode ?? '000';
  return { status, noteCode, segment: ['TA1', interchange.header.controlNumber, interchange.header.date, interchange.header.time, status, noteCode] };
}

/** A TA1 in its own interchange (X12.5: TA1 sits between ISA and IEA, with no functional group). */
export function writeTa1Interchange(interchange: Interchange, options: { interchangeControlNumber: number; at: Date; usage: 'P' | 'T' }): string {
  const version = interchange.header.version >= '00501' ? '005010' : '004010';
  const d = defaultDelimiters(version);
  const full = writeInterchange('FA', [], {
    sender: { qualifier: interchange.header.receiverQualifier, id: interchange.header.receiverId },
    receiver: { qualifier: interchange.header.senderQualifier, id: interchange.header.senderId },
    version,
    interchangeControlNumber: options.interchangeControlNumber,
    groupControlNumber: 0,
    usage: options.usage,
    at: options.at,
  });
  const isa = full.split('\n')[0]!;
  return [isa, writeSegment(buildTa1(interchange).segment, d), writeSegment(['IEA', '0', controlNumber9(options.interchangeControlNumber)], d)].join('\n') + '\n';
}

function groupBySegment(issues: X12Issue[]): Map<string, X12Issue[]> {
  const map = new Map<string, X12Issue[]>();
  for (const issue of issues) {
    const key = `${issue.segmentPosition ?? '?'}:${issue.segment}`;
    map.set(key, [...(map.get(key) ?? []), issue]);
  }
  return map;
}

function declaredCount(group: FunctionalGroup): number {
  const ge = group.issues.find((i) => i.segment === 'GE' && i.code === 'x12_count_mismatch');
  return ge?.badValue && /^\d+$/.test(ge.badValue) ? Number(ge.badValue) : group.transactions.length;
}

const unique = (values: string[]) => [...new Set(values)];
