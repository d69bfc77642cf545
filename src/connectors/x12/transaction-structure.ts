import { validateSegmentSyntax } from './element-syntax.ts';
import type { TransactionSet } from './envelope.ts';
import type { X12Issue } from './issues.ts';
import { isValidSegmentId, type X12Segment } from './tokenizer.ts';

/**
 * Segment-level checks of one transaction set: segment ids (720 code 1), element syntax of the segments
 * Carelane knows (723 codes), the mandatory beginning segment of each supported set (720 code 3), and the full
 * segment order of the acknowledgments 997 (004010 table) and 999 (005010X231 loops 2000/2100/2110), whose
 * structure is small enough to check completely (720 codes 3, 6, 7).
 * Segment positions count ST as 1 (X12.6: AK302/IK302 "segment position in transaction set").
 */

/** The beginning segment each supported transaction set must start with (position 2). */
const BEGINNING_SEGMENT: Record<string, string> = { '850': 'BEG', '855': 'BAK', '856': 'BSN', '810': 'BIG', '846': 'BIA', '997': 'AK1', '999': 'AK1' };

/** Other mandatory segments (004010 tables: 856 HL loop, 810 TDS). */
const REQUIRED_SEGMENTS: Record<string, string[]> = { '856': ['HL'], '810': ['TDS'] };

/** Segments that open a loop, per transaction set, reported as the loop identifier (IK303). */
const LOOP_STARTS: Record<string, Set<string>> = {
  '850': new Set(['N1', 'PO1']),
  '855': new Set(['N1', 'PO1']),
  '856': new Set(['HL']),
  '810': new Set(['N1', 'IT1']),
  '846': new Set(['LIN']),
  '997': new Set(['AK2', 'AK3']),
  '999': new Set(['AK2', 'IK3', 'IK4']),
};
/** Summary segments leave the detail loops. */
const SUMMARY_SEGMENTS = new Set(['CTT', 'TDS', 'AMT', 'AK9', 'SE']);

/** Which segment may follow which, for the acknowledgments (end = 'SE'). */
const ACK_ORDER: Record<string, Record<string, string[]>> = {
  '997': { ST: ['AK1'], AK1: ['AK2', 'AK9'], AK2: ['AK3', 'AK5'], AK3: ['AK4', 'AK3', 'AK5'], AK4: ['AK4', 'AK3', 'AK5'], AK5: ['AK2', 'AK9'], AK9: ['SE'] },
  '999': {
    ST: ['AK1'],
    AK1: ['AK2', 'AK9'],
    AK2: ['IK3', 'IK5'],
    IK3: ['CTX', 'IK4', 'IK3', 'IK5'],
    IK4: ['CTX', 'IK4', 'IK3', 'IK5'],
    CTX: ['CTX', 'IK4', 'IK3', 'IK5'],
    IK5: ['AK2', 'AK9'],
    AK9: ['SE'],
  },
};

export function checkTransactionStructure(transaction: TransactionSet): X12Issue[] {
  const issues: X12Issue[] = [];
  const loops = LOOP_STARTS[transaction.type];
  let loop: string | undefined;
  const body = transaction.segments.slice(1, transaction.segments.at(-1)?.id === 'SE' ? -1 : undefined);
  body.forEach((segment, index) => {
    const segmentPosition = index + 2;
    if (loops?.has(segment.id)) loop = segment.id;
    else if (SUMMARY_SEGMENTS.has(segment.id)) loop = undefined;
    if (!isValidSegmentId(segment.id)) {
      issues.push({ code: 'x12_segment_id_invalid', level: 'segment', message: `${JSON.stringify(segment.id.slice(0, 20))} is not a segment id`, segment: segment.id.slice(0, 3), line: segment.line, segmentPosition, ackCode: '1' });
      return;
    }
    issues.push(...validateSegmentSyntax(segment, { delimiters: transaction.delimiters, segmentPosition, level: 'element', ...(loop ? { loop } : {}) }));
  });

  const first = body[0];
  const beginning = BEGINNING_SEGMENT[transaction.type];
  const order = ACK_ORDER[transaction.type];
  if (order) {
    issues.push(...checkOrder(transaction.type, body, order, transaction.segments.at(-1)!));
  } else if (beginning && first?.id !== beginning) {
    issues.push(missing(beginning, 2, first ?? transaction.segments[0]!, `${transaction.type} must begin with ${beginning}`));
  }
  for (const required of REQUIRED_SEGMENTS[transaction.type] ?? []) {
    if (!body.some((s) => s.id === required)) issues.push(missing(required, transaction.segments.length, transaction.segments.at(-1)!, `${transaction.type} has no ${required} segment`));
  }
  return issues;
}

function missing(id: string, segmentPosition: number, near: X12Segment, message: string): X12Issue {
  return { code: 'x12_segment_missing', level: 'segment', message: `mandatory segment ${id} is missing: ${message}`, segment: id, line: near.line, segmentPosition, ackCode: '3' };
}

function checkOrder(type: string, body: X12Segment[], order: Record<string, string[]>, trailer: X12Segment): X12Issue[] {
  const issues: X12Issue[] = [];
  const known = new Set(Object.keys(order));
  let state = 'ST';
  body.forEach((segment, index) => {
    const segmentPosition = index + 2;
    if (!isValidSegmentId(segment.id)) return;
    if (!known.has(segment.id)) {
      issues.push({ code: 'x12_unexpected_segment', level: 'segment', message: `${segment.id} is not a segment of transaction set ${type}`, segment: segment.id, line: segment.line, segmentPosition, ackCode: '6' });
      return;
    }
    if (!(order[state] ?? []).includes(segment.id)) {
      issues.push({ code: 'x12_unexpected_segment', level: 'segment', message: `${segment.id} at position ${segmentPosition} is out of sequence (after ${state} one of ${(order[state] ?? []).join(', ')} is expected)`, segment: segment.id, line: segment.line, segmentPosition, ackCode: '7' });
      return;
    }
    state = segment.id;
  });
  if (!body.some((s) => s.id === 'AK1')) issues.push(missing('AK1', 2, body[0] ?? trailer, `${type} requires AK1`));
  if (state !== 'AK9') issues.push(missing('AK9', body.length + 2, trailer, `${type} must end with AK9`));
  return issues;
}
