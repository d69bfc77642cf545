import { validateSegmentSyntax } from './element-syntax.ts';
import type { X12Issue } from './issues.ts';
import { isValidSegmentId, tokenizeX12, type X12Delimiters, type X12Segment } from './tokenizer.ts';
import { checkTransactionStructure } from './transaction-structure.ts';

/**
 * The X12 envelopes (X12.5 "Interchange Control Structures", X12.6 "Application Control Structure"):
 * ISA/IEA around GS/GE around ST/SE, with control numbers that must match between header and trailer and
 * counts in each trailer (SE01 segments incl. ST and SE, GE01 transaction sets, IEA01 functional groups).
 * Pure: text in, a document with every issue found out; nothing is thrown for problems an acknowledgment
 * can report (see tokenizer.ts for what cannot be read at all).
 */

export interface InterchangeHeader {
  authorizationQualifier: string;
  senderQualifier: string;
  senderId: string;
  receiverQualifier: string;
  receiverId: string;
  /** ISA09 YYMMDD */
  date: string;
  /** ISA10 HHMM */
  time: string;
  /** ISA12, e.g. '00401' or '00501' */
  version: string;
  /** ISA13, nine digits */
  controlNumber: string;
  /** ISA14: '1' = the sender asks for a TA1 */
  acknowledgmentRequested: boolean;
  /** ISA15: 'P' production, 'T' test, 'I' information */
  usage: string;
}

export interface GroupHeader {
  /** GS01, e.g. 'PO' for 850, 'PR' for 855, 'SH' for 856, 'IN' for 810, 'IB' for 846, 'FA' for 997/999 */
  functionalId: string;
  senderCode: string;
  receiverCode: string;
  date: string;
  time: string;
  controlNumber: string;
  agency: string;
  /** GS08, e.g. '004010' or '005010X231' */
  version: string;
}

export interface TransactionSet {
  /** ST01, e.g. '850' */
  type: string;
  /** ST02 */
  controlNumber: string;
  /** ST03 (005010) */
  implementationReference?: string;
  /** ST … SE inclusive; segment position n is segments[n - 1] */
  segments: X12Segment[];
  delimiters: X12Delimiters;
  /** transaction, segment and element issues, in input order */
  issues: X12Issue[];
}

export interface FunctionalGroup {
  header: GroupHeader;
  line: number;
  transactions: TransactionSet[];
  /** group-level issues (AK9 / 716 codes) */
  issues: X12Issue[];
}

export interface Interchange {
  header: InterchangeHeader;
  delimiters: X12Delimiters;
  line: number;
  groups: FunctionalGroup[];
  /** interchange-level issues (TA1 / I18 codes) */
  issues: X12Issue[];
  /** TA1 segments the interchange carries: the sender's answer to one of our interchanges (X12.5) */
  ta1: ReceivedTa1[];
}

/** A received TA1: TA101 the ISA13 of the interchange it answers, TA104 A/E/R, TA105 the I18 note code. */
export interface ReceivedTa1 {
  controlNumber: string;
  status: string;
  noteCode: string;
  line: number;
}

export interface X12Document {
  interchanges: Interchange[];
}

/** Every issue of the document, from the envelopes down to the elements, in reading order per level. */
export function allIssues(document: X12Document): X12Issue[] {
  return document.interchanges.flatMap((i) => [...i.issues, ...i.groups.flatMap((g) => [...g.issues, ...g.transactions.flatMap((t) => t.issues)])]);
}

/** Segments allowed between ISA and the first GS (X12.5: ISB grade of service, ISE deferred delivery, TA1). */
const INTERCHANGE_SERVICE_SEGMENTS = new Set(['ISB', 'ISE', 'TA1']);

export function readX12(input: string | Uint8Array): X12Document {
  return { interchanges: tokenizeX12(input).map((t) => readInterchange(t.segments, t.delimiters, t.truncated)) };
}

const value = (segment: X12Segment, position: number) => segment.elements[position] ?? '';
/** Control numbers are numeric (ISA13, GS06 are N0): compare values, not spellings ('3438' = '000003438'). */
const sameNumber = (a: string, b: string) => (/^\d+$/.test(a) && /^\d+$/.test(b) ? BigInt(a) === BigInt(b) : a.trim() === b.trim());

function readInterchange(segments: X12Segment[], delimiters: X12Delimiters, truncated: boolean): Interchange {
  const isa = segments[0]!;
  const header = readIsa(isa);
  const interchange: Interchange = { header, delimiters, line: isa.line, groups: [], issues: validateIsa(isa, header), ta1: [] };
  const issue = (segment: X12Segment, code: X12Issue['code'], ackCode: string, message: string, extra: Partial<X12Issue> = {}) =>
    interchange.issues.push({ code, level: 'interchange', message, segment: segment.id, line: segment.line, ackCode, ...extra });

  let group: FunctionalGroup | undefined;
  let transaction: TransactionSet | undefined;
  const groupNumbers = new Set<string>();
  let transactionNumbers = new Set<string>();

  const before = (at: X12Segment) => (truncated && at === segments.at(-1) ? `the end of the input (line ${at.line})` : `${at.id} (line ${at.line})`);
  const closeTransaction = (at: X12Segment) => {
    if (!transaction) return;
    transaction.issues.unshift({ code: 'x12_missing_trailer', level: 'transaction', message: `transaction set ${transaction.type} ${transaction.controlNumber} has no SE before ${before(at)}`, segment: 'SE', line: at.line, ackCode: '2' });
    finishTransaction(transaction);
    transaction = undefined;
  };
  const closeGroup = (at: X12Segment) => {
    closeTransaction(at);
    if (!group) return;
    group.issues.push({ code: 'x12_missing_trailer', level: 'group', message: `functional group ${group.header.controlNumber} has no GE before ${before(at)}`, segment: 'GE', line: at.line, ackCode: '3' });
    group = undefined;
  };

  for (const segment of segments.slice(1)) {
    if (transaction && segment.id !== 'SE' && segment.id !== 'ST' && segment.id !== 'GE' && segment.id !== 'IEA' && segment.id !== 'GS' && segment.id !== 'ISA') {
      transaction.segments.push(segment);
      continue;
    }
    switch (segment.id) {
      case 'GS': {
        closeGroup(segment);
        group = { header: readGs(segment), line: segment.line, transactions: [], issues: [] };
        group.issues.push(...validateSegmentSyntax(segment, { delimiters, level: 'group' }).map((i) => ({ ...i, level: 'group' as const, ackCode: i.ackCode === '8' ? '30' : groupCodeForElement(i.elementPosition) })));
        if (groupNumbers.has(group.header.controlNumber)) {
          group.issues.push({ code: 'x12_control_number_duplicate', level: 'group', message: `GS06 ${group.header.controlNumber} is used twice in interchange ${header.controlNumber}`, segment: 'GS', line: segment.line, elementPosition: 6, ackCode: '19' });
        }
        groupNumbers.add(group.header.controlNumber);
        transactionNumbers = new Set();
        interchange.groups.push(group);
        break;
      }
      case 'ST': {
        closeTransaction(segment);
        if (!group) {
          issue(segment, 'x12_unexpected_segment', '024', `ST at line ${segment.line} is outside a functional group (no GS before it)`);
          break;
        }
        transaction = {
          type: value(segment, 1),
          controlNumber: value(segment, 2),
          ...(value(segment, 3) ? { implementationReference: value(segment, 3) } : {}),
          segments: [segment],
          delimiters,
          issues: [],
        };
        if (!/^[0-9A-Z]{3}$/.test(transaction.type)) transaction.issues.push({ code: 'x12_element_invalid', level: 'transaction', message: `ST01 ${JSON.stringify(transaction.type)} is not a transaction set identifier`, segment: 'ST', line: segment.line, segmentPosition: 1, elementPosition: 1, ackCode: '6' });
        if (!/^.{4,9}$/.test(transaction.controlNumber)) transaction.issues.push({ code: 'x12_element_invalid', level: 'transaction', message: `ST02 ${JSON.stringify(transaction.controlNumber)} is not a valid control number (4 to 9 characters)`, segment: 'ST', line: segment.line, segmentPosition: 1, elementPosition: 2, ackCode: '7' });
        if (transactionNumbers.has(transaction.controlNumber)) transaction.issues.push({ code: 'x12_control_number_duplicate', level: 'transaction', message: `ST02 ${transaction.controlNumber} is used twice in group ${group.header.controlNumber}`, segment: 'ST', line: segment.line, segmentPosition: 1, elementPosition: 2, ackCode: '23' });
        transactionNumbers.add(transaction.controlNumber);
        group.transactions.push(transaction);
        break;
      }
      case 'SE': {
        if (!transaction) {
          issue(segment, 'x12_unexpected_segment', '024', `SE at line ${segment.line} has no ST before it`);
          break;
        }
        transaction.segments.push(segment);
        const position = transaction.segments.length;
        const declared = value(segment, 1);
        if (!/^\d+$/.test(declared) || Number(declared) !== position) {
          transaction.issues.push({ code: 'x12_count_mismatch', level: 'transaction', message: `SE01 says ${declared} segments but transaction set ${transaction.controlNumber} has ${position} (ST to SE)`, segment: 'SE', line: segment.line, segmentPosition: position, elementPosition: 1, badValue: declared, ackCode: '4' });
        }
        if (value(segment, 2) !== transaction.controlNumber) {
          transaction.issues.push({ code: 'x12_control_number_mismatch', level: 'transaction', message: `SE02 ${value(segment, 2)} does not match ST02 ${transaction.controlNumber}`, segment: 'SE', line: segment.line, segmentPosition: position, elementPosition: 2, badValue: value(segment, 2), ackCode: '3' });
        }
        finishTransaction(transaction);
        transaction = undefined;
        break;
      }
      case 'GE': {
        closeTransaction(segment);
        if (!group) {
          issue(segment, 'x12_unexpected_segment', '024', `GE at line ${segment.line} has no GS before it`);
          break;
        }
        group.issues.push(...validateSegmentSyntax(segment, { delimiters, level: 'group' }).map((i) => ({ ...i, level: 'group' as const, ackCode: i.elementPosition === 2 ? '6' : '5' })));
        const declared = value(segment, 1);
        if (!/^\d+$/.test(declared) || Number(declared) !== group.transactions.length) {
          group.issues.push({ code: 'x12_count_mismatch', level: 'group', message: `GE01 says ${declared} transaction sets but group ${group.header.controlNumber} has ${group.transactions.length}`, segment: 'GE', line: segment.line, elementPosition: 1, badValue: declared, ackCode: '5' });
        }
        if (!sameNumber(value(segment, 2), group.header.controlNumber)) {
          group.issues.push({ code: 'x12_control_number_mismatch', level: 'group', message: `GE02 ${value(segment, 2)} does not match GS06 ${group.header.controlNumber}`, segment: 'GE', line: segment.line, elementPosition: 2, badValue: value(segment, 2), ackCode: '4' });
        }
        group = undefined;
        break;
      }
      case 'IEA': {
        closeGroup(segment);
        interchange.issues.push(...validateSegmentSyntax(segment, { delimiters, level: 'interchange' }).map((i) => ({ ...i, level: 'interchange' as const, ackCode: i.elementPosition === 2 ? '018' : '021' })));
        const declared = value(segment, 1);
        if (!/^\d+$/.test(declared) || Number(declared) !== interchange.groups.length) {
          issue(segment, 'x12_count_mismatch', '021', `IEA01 says ${declared} functional groups but interchange ${header.controlNumber} has ${interchange.groups.length}`, { elementPosition: 1, badValue: declared });
        }
        if (!sameNumber(value(segment, 2), header.controlNumber)) {
          issue(segment, 'x12_control_number_mismatch', '001', `IEA02 ${value(segment, 2)} does not match ISA13 ${header.controlNumber}`, { elementPosition: 2, badValue: value(segment, 2) });
        }
        break;
      }
      default:
        if (!group && INTERCHANGE_SERVICE_SEGMENTS.has(segment.id)) {
          if (segment.id === 'TA1') interchange.ta1.push({ controlNumber: value(segment, 1), status: value(segment, 4), noteCode: value(segment, 5), line: segment.line });
          break;
        }
        issue(segment, isValidSegmentId(segment.id) ? 'x12_unexpected_segment' : 'x12_segment_id_invalid', '024', `${JSON.stringify(segment.id)} at line ${segment.line} is outside a transaction set`);
    }
  }
  if (truncated) {
    const last = segments.at(-1)!;
    closeGroup(last);
    issue(last, 'x12_missing_trailer', '023', `the input ends (line ${last.line}) before the IEA of interchange ${header.controlNumber}`, { segment: 'IEA' });
  }
  return interchange;
}

/** AK905 (716) for an error in a GS element: 6 control number syntax, 30 group date, 31 group time, 1 otherwise. */
function groupCodeForElement(position: number | undefined): string {
  if (position === 6) return '6';
  if (position === 4) return '30';
  if (position === 5) return '31';
  if (position === 8) return '2';
  return '1';
}

/** Adds the segment and element issues of a finished transaction set (element syntax and structure). */
function finishTransaction(transaction: TransactionSet): void {
  transaction.issues.push(...checkTransactionStructure(transaction));
}

function readIsa(isa: X12Segment): InterchangeHeader {
  const v = (p: number) => value(isa, p).trim();
  return {
    authorizationQualifier: v(1),
    senderQualifier: v(5),
    senderId: v(6),
    receiverQualifier: v(7),
    receiverId: v(8),
    date: v(9),
    time: v(10),
    version: v(12),
    controlNumber: v(13),
    acknowledgmentRequested: v(14) === '1',
    usage: v(15),
  };
}

/** ISA element checks with their TA105 (I18) codes. */
function validateIsa(isa: X12Segment, header: InterchangeHeader): X12Issue[] {
  const issues: X12Issue[] = [];
  const add = (position: number, ackCode: string, message: string) =>
    issues.push({ code: 'x12_element_invalid', level: 'interchange', message, segment: 'ISA', line: isa.line, elementPosition: position, badValue: value(isa, position), ackCode });
  if (isa.elements.length - 1 < 16) add(16, '022', `ISA has ${isa.elements.length - 1} elements, 16 are required`);
  if (!/^\d{9}$/.test(header.controlNumber)) add(13, '018', `ISA13 ${JSON.stringify(header.controlNumber)} is not a nine-digit control number`);
  if (!/^\d{6}$/.test(header.date)) add(9, '014', `ISA09 ${JSON.stringify(header.date)} is not a date YYMMDD`);
  if (!/^\d{4}$/.test(header.time)) add(10, '015', `ISA10 ${JSON.stringify(header.time)} is not a time HHMM`);
  if (!/^\d{5}$/.test(header.version)) add(12, '017', `ISA12 ${JSON.stringify(header.version)} is not a version number`);
  if (!/^[01]$/.test(value(isa, 14))) add(14, '019', `ISA14 ${JSON.stringify(value(isa, 14))} must be 0 or 1`);
  if (!/^[PTI]$/.test(header.usage)) add(15, '020', `ISA15 ${JSON.stringify(header.usage)} must be P, T or I`);
  return issues;
}

function readGs(gs: X12Segment): GroupHeader {
  return {
    functionalId: value(gs, 1),
    senderCode: value(gs, 2),
    receiverCode: value(gs, 3),
    date: value(gs, 4),
    time: value(gs, 5),
    controlNumber: value(gs, 6),
    agency: value(gs, 7),
    version: value(gs, 8),
  };
}
