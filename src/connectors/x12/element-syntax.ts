import type { X12Issue } from './issues.ts';
import type { X12Delimiters, X12Segment } from './tokenizer.ts';

/**
 * Data element syntax of the segments Carelane reads and writes (X12.6 section 3: data element types
 * AN, ID, N0/N2, R, DT, TM; minimum/maximum length; requirement M/O; relational conditions "P" paired and
 * "C" conditional from each segment's syntax notes). Segments not listed here are accepted as written: the
 * reader is tolerant of what it does not use, strict about what it maps or answers with.
 * Element numbers, types and lengths follow the 004010/005010 segment directories.
 */

type ElementType = 'AN' | 'ID' | 'N0' | 'N2' | 'R' | 'DT' | 'TM';

interface ElementRule {
  type: ElementType;
  min: number;
  max: number;
  mandatory: boolean;
  /** a composite (components separated by ISA16) */
  composite?: boolean;
  /** may repeat (separated by ISA11) */
  repeats?: boolean;
}

interface SegmentRule {
  /** the rules of the leading elements Carelane checks; later elements are accepted as written */
  elements: ElementRule[];
  /** how many data elements the segment directory defines (more is error 3, "too many data elements") */
  total: number;
  /** "P" syntax notes: element positions that must be all present or all absent */
  paired?: number[][];
  /** "C" syntax notes: if the first position is present, all the others are required */
  conditional?: number[][];
}

const m = (type: ElementType, min: number, max: number): ElementRule => ({ type, min, max, mandatory: true });
const o = (type: ElementType, min: number, max: number): ElementRule => ({ type, min, max, mandatory: false });
/** C030 "Position in Segment" (AK401/IK401): 1-2 position, 2-2 component position, 3-4 repeating element position */
const positionComposite: ElementRule = { type: 'N0', min: 1, max: 4, mandatory: true, composite: true };

/** Product/service id qualifier + id pairs, e.g. PO106/PO107 … PO124/PO125: each pair is a "P" syntax note. */
function idPairs(first: number, last: number): { elements: ElementRule[]; paired: number[][] } {
  const elements: ElementRule[] = [];
  const paired: number[][] = [];
  for (let p = first; p < last; p += 2) {
    elements.push(o('ID', 2, 2), o('AN', 1, 48));
    paired.push([p, p + 1]);
  }
  return { elements, paired };
}

const po1Pairs = idPairs(6, 25);
const it1Pairs = idPairs(6, 25);
const linPairs = idPairs(2, 31);

export const SEGMENT_RULES: Record<string, SegmentRule> = {
  GS: { total: 8, elements: [m('ID', 2, 2), m('AN', 2, 15), m('AN', 2, 15), m('DT', 6, 8), m('TM', 4, 8), m('N0', 1, 9), m('ID', 1, 2), m('AN', 1, 12)] },
  GE: { total: 2, elements: [m('N0', 1, 6), m('N0', 1, 9)] },
  // IEA02 is N0 9/9 in X12.5, but senders that drop its leading zeros are common and harmless: the value is
  // compared to ISA13 as a number, so only the length rule is relaxed here.
  IEA: { total: 2, elements: [m('N0', 1, 5), m('N0', 1, 9)] },
  ST: { total: 3, elements: [m('ID', 3, 3), m('AN', 4, 9), o('AN', 1, 35)] },
  SE: { total: 2, elements: [m('N0', 1, 10), m('AN', 4, 9)] },
  // 997 / 999 (005010X230 / 005010X231)
  AK1: { total: 3, elements: [m('ID', 2, 2), m('N0', 1, 9), o('AN', 1, 12)] },
  AK2: { total: 3, elements: [m('ID', 3, 3), m('AN', 4, 9), o('AN', 1, 35)] },
  AK3: { total: 4, elements: [m('ID', 2, 3), m('N0', 1, 10), o('AN', 1, 4), o('ID', 1, 3)] },
  AK4: { total: 4, elements: [positionComposite, o('N0', 1, 4), m('ID', 1, 3), o('AN', 1, 99)] },
  AK5: { total: 6, elements: [m('ID', 1, 1), o('ID', 1, 3), o('ID', 1, 3), o('ID', 1, 3), o('ID', 1, 3), o('ID', 1, 3)] },
  AK9: { total: 9, elements: [m('ID', 1, 1), m('N0', 1, 6), m('N0', 1, 6), m('N0', 1, 6), o('ID', 1, 3), o('ID', 1, 3), o('ID', 1, 3), o('ID', 1, 3), o('ID', 1, 3)] },
  IK3: { total: 4, elements: [m('ID', 2, 3), m('N0', 1, 10), o('AN', 1, 4), o('ID', 1, 3)] },
  IK4: { total: 4, elements: [positionComposite, o('N0', 1, 4), m('ID', 1, 3), o('AN', 1, 99)] },
  IK5: { total: 6, elements: [m('ID', 1, 1), o('ID', 1, 3), o('ID', 1, 3), o('ID', 1, 3), o('ID', 1, 3), o('ID', 1, 3)] },
  TA1: { total: 5, elements: [m('N0', 9, 9), m('DT', 6, 6), m('TM', 4, 4), m('ID', 1, 1), m('ID', 3, 3)] },
  // 850 / 855 / 856 / 810 / 846 headers
  BEG: { total: 12, elements: [m('ID', 2, 2), m('ID', 2, 2), m('AN', 1, 22), o('AN', 1, 30), m('DT', 8, 8)] },
  BAK: { total: 10, elements: [m('ID', 2, 2), m('ID', 2, 2), m('AN', 1, 22), m('DT', 8, 8)] },
  BIG: { total: 10, elements: [m('DT', 8, 8), m('AN', 1, 22), o('DT', 8, 8), o('AN', 1, 22)] },
  BSN: { total: 7, elements: [m('ID', 2, 2), m('AN', 2, 30), m('DT', 8, 8), m('TM', 4, 8), o('ID', 4, 4)] },
  BIA: { total: 6, elements: [m('ID', 2, 2), m('ID', 2, 2), m('AN', 1, 30), m('DT', 8, 8)] },
  HL: { total: 4, elements: [m('AN', 1, 12), o('AN', 1, 12), m('ID', 1, 2), o('ID', 1, 1)] },
  // PO1 syntax notes (004010): C0302, C0504, P0607 … P2425
  PO1: { total: 25, elements: [o('AN', 1, 20), o('R', 1, 15), o('ID', 2, 2), o('R', 1, 17), o('ID', 2, 2), ...po1Pairs.elements], paired: po1Pairs.paired, conditional: [[3, 2], [5, 4]] },
  IT1: { total: 25, elements: [o('AN', 1, 20), o('R', 1, 10), o('ID', 2, 2), o('R', 1, 17), o('ID', 2, 2), ...it1Pairs.elements], paired: it1Pairs.paired },
  ACK: { total: 29, elements: [m('ID', 2, 2), o('R', 1, 15), o('ID', 2, 2)], paired: [[2, 3]] },
  LIN: { total: 31, elements: [o('AN', 1, 20), m('ID', 2, 2), m('AN', 1, 48), ...linPairs.elements.slice(2)], paired: linPairs.paired.slice(1) },
  SN1: { total: 8, elements: [o('AN', 1, 20), m('R', 1, 10), m('ID', 2, 2)] },
  TDS: { total: 4, elements: [m('N2', 1, 15)] },
  CTT: { total: 7, elements: [m('N0', 1, 6), o('R', 1, 10)] },
};

/** The X12 element syntax error codes (data element 723) this validator raises. */
const MANDATORY_MISSING = '1';
const CONDITIONAL_MISSING = '2';
const TOO_MANY_ELEMENTS = '3';
const TOO_SHORT = '4';
const TOO_LONG = '5';
const INVALID_CHARACTER = '6';
const INVALID_DATE = '8';
const INVALID_TIME = '9';
const TOO_MANY_REPETITIONS = '12';
const TOO_MANY_COMPONENTS = '13';

export interface SegmentContext {
  delimiters: X12Delimiters;
  segmentPosition?: number;
  loop?: string;
  level: 'segment' | 'element' | 'group' | 'interchange';
}

/** Checks one segment against its rule; returns element issues (empty when valid or when the segment has no rule). */
export function validateSegmentSyntax(segment: X12Segment, context: SegmentContext): X12Issue[] {
  const rule = SEGMENT_RULES[segment.id];
  if (!rule) return [];
  const issues: X12Issue[] = [];
  const base = {
    level: 'element' as const,
    segment: segment.id,
    line: segment.line,
    ...(context.segmentPosition !== undefined ? { segmentPosition: context.segmentPosition } : {}),
    ...(context.loop !== undefined ? { loop: context.loop } : {}),
  };
  const name = (position: number) => `${segment.id}${String(position).padStart(2, '0')}`;
  const count = segment.elements.length - 1;
  if (count > rule.total && segment.elements.slice(rule.total + 1).some((e) => e !== '')) {
    issues.push({ ...base, code: 'x12_too_many_elements', message: `${segment.id} has ${count} data elements, at most ${rule.total} are defined`, elementPosition: rule.total + 1, ackCode: TOO_MANY_ELEMENTS });
  }
  rule.elements.forEach((element, index) => {
    const position = index + 1;
    const value = segment.elements[position] ?? '';
    if (value === '') {
      if (element.mandatory) issues.push({ ...base, code: 'x12_element_missing', message: `mandatory element ${name(position)} is missing`, elementPosition: position, ackCode: MANDATORY_MISSING });
      return;
    }
    const problem = checkValue(value, element, context.delimiters);
    if (problem) issues.push({ ...base, code: 'x12_element_invalid', message: `${name(position)} ${problem.text}: ${JSON.stringify(value)}`, elementPosition: position, badValue: value.slice(0, 99), ackCode: problem.code });
  });
  const present = (p: number) => (segment.elements[p] ?? '') !== '';
  for (const group of rule.paired ?? []) {
    const given = group.filter(present);
    if (given.length > 0 && given.length < group.length) {
      const missing = group.find((p) => !present(p))!;
      issues.push({ ...base, code: 'x12_element_relation', message: `${name(missing)} is required when ${given.map(name).join(', ')} is present (syntax note P${group.map((p) => String(p).padStart(2, '0')).join('')})`, elementPosition: missing, ackCode: CONDITIONAL_MISSING });
    }
  }
  for (const [trigger, ...required] of rule.conditional ?? []) {
    if (trigger === undefined || !present(trigger)) continue;
    for (const p of required) {
      if (!present(p)) issues.push({ ...base, code: 'x12_element_relation', message: `${name(p)} is required when ${name(trigger)} is present (syntax note C${String(trigger).padStart(2, '0')}${String(p).padStart(2, '0')})`, elementPosition: p, ackCode: CONDITIONAL_MISSING });
    }
  }
  return issues;
}

function checkValue(value: string, rule: ElementRule, d: X12Delimiters): { code: string; text: string } | undefined {
  if (!rule.repeats && d.repetition && value.includes(d.repetition)) return { code: TOO_MANY_REPETITIONS, text: 'repeats but is not a repeating element' };
  if (value.includes(d.component)) {
    if (!rule.composite) return { code: TOO_MANY_COMPONENTS, text: 'has components but is a simple element' };
    return value.split(d.component).map((c) => (c === '' ? undefined : checkValue(c, { ...rule, composite: false }, d))).find((p) => p !== undefined);
  }
  return checkSimpleValue(value, rule);
}

export function checkSimpleValue(value: string, rule: { type: ElementType; min: number; max: number }): { code: string; text: string } | undefined {
  let digits = value;
  switch (rule.type) {
    case 'N0':
    case 'N2':
      if (!/^-?\d+$/.test(value)) return { code: INVALID_CHARACTER, text: 'is not numeric' };
      digits = value.replace('-', '');
      break;
    case 'R':
      if (!/^-?(\d+\.?\d*|\.\d+)$/.test(value)) return { code: INVALID_CHARACTER, text: 'is not a decimal number' };
      digits = value.replace(/[-.]/g, '');
      break;
    case 'DT':
      // Versions before 004010 write dates as YYMMDD (the century was added for Y2K): both are read.
      if (!isValidDate(value)) return { code: INVALID_DATE, text: 'is not a valid date (CCYYMMDD or YYMMDD)' };
      return undefined;
    case 'TM':
      if (!isValidTime(value)) return { code: INVALID_TIME, text: 'is not a valid time (HHMM[SS[d..]])' };
      break;
    case 'ID':
    case 'AN':
      break;
  }
  // X12.6 3.5: the sign and the decimal point do not count toward the length of N and R values.
  if (digits.length < rule.min) return { code: TOO_SHORT, text: `is shorter than ${rule.min}` };
  if (digits.length > rule.max) return { code: TOO_LONG, text: `is longer than ${rule.max}` };
  return undefined;
}

export function isValidDate(value: string): boolean {
  const match = /^(\d{2})?(\d{2})(\d{2})(\d{2})$/.exec(value);
  if (!match || (value.length !== 6 && value.length !== 8)) return false;
  const year = Number((match[1] ?? '20') + match[2]);
  const month = Number(match[3]);
  const day = Number(match[4]);
  if (month < 1 || month > 12 || day < 1) return false;
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}

export function isValidTime(value: string): boolean {
  const match = /^(\d{2})(\d{2})(\d{2})?(\d{1,2})?$/.exec(value);
  if (!match) return false;
  return Number(match[1]) <= 23 && Number(match[2]) <= 59 && (match[3] === undefined || Number(match[3]) <= 59);
}
