import { permanentError } from '../../contracts/errors.ts';
import type { X12Delimiters } from './tokenizer.ts';

/**
 * Writes X12: segments and the ISA/GS/ST envelopes around them with correct counts (X12.5, X12.6). Pure.
 */

export type SegmentValues = string[];

export interface PartyId {
  /** ISA05/ISA07 interchange id qualifier, e.g. 'ZZ' mutually defined, '01' DUNS, '12' phone */
  qualifier: string;
  /** ISA06/ISA08, up to 15 characters */
  id: string;
}

export interface EnvelopeOptions {
  sender: PartyId;
  receiver: PartyId;
  /** GS02/GS03; default: the interchange ids */
  applicationSender?: string;
  applicationReceiver?: string;
  /** '004010' or '005010' (GS08 may carry an implementation suffix via groupVersion) */
  version: '004010' | '005010';
  /** GS08 when it differs from version, e.g. '005010X231' */
  groupVersion?: string;
  interchangeControlNumber: number;
  groupControlNumber: number;
  usage: 'P' | 'T';
  acknowledgmentRequested?: boolean;
  at: Date;
  /** default '~' then a line feed after each segment for readability: partners accept layout after a terminator */
  delimiters?: X12Delimiters;
  lineBreak?: boolean;
}

export const DEFAULT_DELIMITERS_004010: X12Delimiters = { element: '*', component: '>', repetition: null, segment: '~' };
export const DEFAULT_DELIMITERS_005010: X12Delimiters = { element: '*', component: ':', repetition: '^', segment: '~' };

export function defaultDelimiters(version: '004010' | '005010'): X12Delimiters {
  return version === '005010' ? DEFAULT_DELIMITERS_005010 : DEFAULT_DELIMITERS_004010;
}

/** Refuses a value that contains a delimiter: X12 has no escape mechanism (X12.6 3.3), the value would corrupt the structure. */
export function checkValue(value: string, d: X12Delimiters, field: string): string {
  for (const delimiter of [d.element, d.component, d.segment, d.repetition]) {
    if (delimiter && value.includes(delimiter)) {
      throw permanentError(`${field} contains the delimiter ${JSON.stringify(delimiter)}: X12 cannot carry it`, { code: 'x12_value_has_delimiter', where: { field } });
    }
  }
  return value;
}

export function writeSegment(values: SegmentValues, d: X12Delimiters): string {
  let last = values.length;
  while (last > 1 && values[last - 1] === '') last--; // trailing empty elements are omitted (X12.6 3.7)
  return values.slice(0, last).join(d.element) + d.segment;
}

export const controlNumber9 = (n: number) => String(n).padStart(9, '0');
const yymmdd = (at: Date) => at.toISOString().slice(2, 10).replaceAll('-', '');
const ccyymmdd = (at: Date) => at.toISOString().slice(0, 10).replaceAll('-', '');
const hhmm = (at: Date) => at.toISOString().slice(11, 16).replace(':', '');

/** The transaction set with ST and SE around its body; SE01 counts ST and SE. */
export function transactionSet(type: string, controlNumber: string, bodySegments: SegmentValues[], implementationReference?: string): SegmentValues[] {
  const st = implementationReference ? ['ST', type, controlNumber, implementationReference] : ['ST', type, controlNumber];
  return [st, ...bodySegments, ['SE', String(bodySegments.length + 2), controlNumber]];
}

/** ISA + one GS group of transaction sets + GE + IEA, as text. */
export function writeInterchange(functionalId: string, transactionSets: SegmentValues[][], options: EnvelopeOptions): string {
  const d = options.delimiters ?? defaultDelimiters(options.version);
  const pad = (value: string, width: number, field: string) => {
    if (value.length > width) throw permanentError(`${field} ${JSON.stringify(value)} is longer than ${width}`, { code: 'x12_value_too_long', where: { field } });
    return checkValue(value, d, field).padEnd(width, ' ');
  };
  const isaVersion = options.version === '005010' ? '00501' : '00401';
  const isa = [
    'ISA', '00', ' '.repeat(10), '00', ' '.repeat(10),
    pad(options.sender.qualifier, 2, 'ISA05'), pad(options.sender.id, 15, 'ISA06'),
    pad(options.receiver.qualifier, 2, 'ISA07'), pad(options.receiver.id, 15, 'ISA08'),
    yymmdd(options.at), hhmm(options.at),
    // ISA11: repetition separator from 00402 on, else the standards identifier 'U'
    options.version === '005010' ? (d.repetition ?? '^') : 'U',
    isaVersion, controlNumber9(options.interchangeControlNumber), options.acknowledgmentRequested ? '1' : '0', options.usage, d.component,
  ];
  const gs = ['GS', functionalId, checkValue(options.applicationSender ?? options.sender.id, d, 'GS02'), checkValue(options.applicationReceiver ?? options.receiver.id, d, 'GS03'),
    ccyymmdd(options.at), hhmm(options.at), String(options.groupControlNumber), 'X', options.groupVersion ?? options.version];
  const segments: SegmentValues[] = [isa, gs, ...transactionSets.flat(), ['GE', String(transactionSets.length), String(options.groupControlNumber)], ['IEA', '1', controlNumber9(options.interchangeControlNumber)]];
  const separator = options.lineBreak === false ? '' : '\n';
  // ISA is written whole: its fixed-width elements must keep their padding, even trailing spaces.
  return segments.map((s) => (s[0] === 'ISA' ? s.join(d.element) + d.segment : writeSegment(s, d))).join(separator) + separator;
}
