import { permanentError } from '../../contracts/errors.ts';

/**
 * Splits X12 input into segments (ASC X12.6 "Application Control Structure", section 3: delimiters are not
 * fixed but announced by each ISA). Pure and tolerant: the delimiters are read from every ISA (several
 * interchanges in one file may use different ones), CR/LF after a terminator is layout and skipped, and a
 * terminator may be any character, even a non-ASCII one (input is decoded as UTF-8).
 */

export interface X12Delimiters {
  /** ISA character 4 (the character right after "ISA") */
  element: string;
  /** ISA16 */
  component: string;
  /** ISA11 from version 00402 on (before, ISA11 is the standards identifier 'U') */
  repetition: string | null;
  /** the character right after ISA16 */
  segment: string;
}

export interface X12Segment {
  id: string;
  /** elements[0] is the segment id, elements[n] the n-th data element as written (components not split) */
  elements: string[];
  /** line where the segment starts, 1-based */
  line: number;
}

export interface TokenizedInterchange {
  delimiters: X12Delimiters;
  /** from ISA to IEA inclusive, or to the end of input when IEA is missing */
  segments: X12Segment[];
  /** true when the input ended before an IEA */
  truncated: boolean;
}

/** ISA is fixed length (X12.5): "ISA" + 16 elements of fixed widths + their separators = 106 characters incl. the terminator. */
const ISA_LENGTH = 106;
const LAYOUT = new Set(['\r', '\n']);
const SEGMENT_ID = /^[A-Z0-9]{2,3}$/;

export function decodeX12(input: string | Uint8Array): string {
  const text = typeof input === 'string' ? input : new TextDecoder('utf-8').decode(input);
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Reads the delimiters of the ISA starting at `start`. The fixed layout is tried first; a sender that does not
 * pad its ISA fields is still understood by counting element separators (tolerant reading).
 */
export function readDelimiters(text: string, start: number, line: number): { delimiters: X12Delimiters; isaEnd: number } {
  const element = text.charAt(start + 3);
  if (!element || /[A-Za-z0-9\s]/.test(element)) {
    throw permanentError(`ISA has no valid element separator (ISA character 4 is ${JSON.stringify(element)})`, { code: 'x12_isa_malformed', where: { segment: 'ISA', line } });
  }
  let isa16At = start + ISA_LENGTH - 2;
  if (!(text.charAt(isa16At - 1) === element && countOf(text.slice(start, isa16At), element) === 16)) {
    // Not the fixed layout: find the 16th element separator.
    let seen = 0;
    isa16At = -1;
    for (let i = start; i < Math.min(text.length, start + 400); i++) {
      if (text[i] === element && ++seen === 16) {
        isa16At = i + 1;
        break;
      }
    }
    if (isa16At < 0) throw permanentError('ISA is incomplete: fewer than 16 elements', { code: 'x12_isa_malformed', where: { segment: 'ISA', line } });
  }
  const component = text.charAt(isa16At);
  const segment = text.charAt(isa16At + 1);
  if (!component || !segment) throw permanentError('input ends inside the ISA segment', { code: 'x12_isa_malformed', where: { segment: 'ISA', line } });
  if (segment === element || segment === component || /[A-Za-z0-9]/.test(segment)) {
    throw permanentError(`ISA has no valid segment terminator after ISA16 (found ${JSON.stringify(segment)})`, { code: 'x12_isa_malformed', where: { segment: 'ISA', field: 'ISA16', line } });
  }
  const isaElements = text.slice(start, isa16At + 1).split(element);
  const version = isaElements[12] ?? '';
  const isa11 = isaElements[11] ?? '';
  // ISA11 became the repetition separator in version 00402 (before: standards identifier, always 'U').
  const repetition = version >= '00402' && isa11.length === 1 && !/[A-Za-z0-9 ]/.test(isa11) ? isa11 : null;
  return { delimiters: { element, component, repetition, segment }, isaEnd: isa16At + 2 };
}

function countOf(text: string, char: string): number {
  let n = 0;
  for (const c of text) if (c === char) n++;
  return n;
}

/** Line counting that treats CRLF, lone CR and lone LF each as one line end. */
class LineCounter {
  private line = 1;
  private at = 0;
  private readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
  lineAt(offset: number): number {
    for (; this.at < offset; this.at++) {
      const c = this.text[this.at];
      if (c === '\n') this.line++;
      else if (c === '\r' && this.text[this.at + 1] !== '\n') this.line++;
    }
    return this.line;
  }
}

/**
 * Tokenizes every interchange of the input. Throws only when no interchange can be read at all (not X12, broken
 * ISA, unreadable binary segment); envelope problems (counts, control numbers, missing trailers) are left to
 * the envelope reader so that they can be acknowledged.
 */
export function tokenizeX12(input: string | Uint8Array): TokenizedInterchange[] {
  const text = decodeX12(input);
  const lines = new LineCounter(text);
  const interchanges: TokenizedInterchange[] = [];
  let at = skipLayout(text, 0, true);
  if (text.slice(at, at + 3) !== 'ISA') {
    throw permanentError('input is not X12: it does not start with an ISA segment', { code: 'x12_not_edi', where: { segment: 'ISA', line: lines.lineAt(at) } });
  }
  while (at < text.length) {
    const line = lines.lineAt(at);
    if (text.slice(at, at + 3) !== 'ISA') {
      throw permanentError(`unexpected data after the end of an interchange: ${JSON.stringify(text.slice(at, at + 20))}`, { code: 'x12_not_edi', where: { line } });
    }
    const { delimiters, isaEnd } = readDelimiters(text, at, line);
    const isa: X12Segment = { id: 'ISA', elements: text.slice(at, isaEnd - 1).split(delimiters.element), line };
    const segments: X12Segment[] = [isa];
    at = skipLayout(text, isaEnd, delimiters.segment !== '\n' && delimiters.segment !== '\r');
    let ended = false;
    while (at < text.length && !ended) {
      const segment = readSegment(text, at, delimiters, lines.lineAt(at));
      segments.push(segment.segment);
      at = skipLayout(text, segment.next, delimiters.segment !== '\n' && delimiters.segment !== '\r');
      ended = segment.segment.id === 'IEA';
    }
    interchanges.push({ delimiters, segments, truncated: !ended });
    at = skipLayout(text, at, true);
  }
  return interchanges;
}

function skipLayout(text: string, at: number, skipSpaces: boolean): number {
  while (at < text.length && (LAYOUT.has(text[at]!) || (skipSpaces && (text[at] === ' ' || text[at] === '\t')))) at++;
  return at;
}

function readSegment(text: string, start: number, d: X12Delimiters, line: number): { segment: X12Segment; next: number } {
  const firstSeparator = text.indexOf(d.element, start);
  const terminator = text.indexOf(d.segment, start);
  const end = terminator < 0 ? text.length : terminator;
  const id = text.slice(start, firstSeparator >= 0 && firstSeparator < end ? firstSeparator : end);
  if (id === 'BIN' && firstSeparator >= 0 && firstSeparator < end) return readBinarySegment(text, start, firstSeparator, d, line);
  const elements = text.slice(start, end).split(d.element);
  // A last segment without terminator (end of input) keeps trailing layout out of its last element.
  if (terminator < 0) elements[elements.length - 1] = elements[elements.length - 1]!.replace(/[\r\n]+$/, '');
  return { segment: { id: elements[0] ?? id, elements, line }, next: end + 1 };
}

/**
 * BIN (Binary Data Segment, X12.6 section 3.8): BIN01 gives the length of BIN02, whose bytes may contain any
 * delimiter, so BIN02 is read by length rather than up to the next terminator. Length is counted in characters
 * of the decoded input (equal to bytes for ASCII content).
 */
function readBinarySegment(text: string, start: number, firstSeparator: number, d: X12Delimiters, line: number): { segment: X12Segment; next: number } {
  const lengthEnd = text.indexOf(d.element, firstSeparator + 1);
  const lengthText = lengthEnd < 0 ? '' : text.slice(firstSeparator + 1, lengthEnd);
  if (!/^\d{1,15}$/.test(lengthText)) {
    throw permanentError(`BIN01 (length of binary data) is not numeric: ${JSON.stringify(lengthText)}; the rest of the input cannot be read`, {
      code: 'x12_binary_length_invalid',
      where: { segment: 'BIN', field: 'BIN01', line },
    });
  }
  const dataStart = lengthEnd + 1;
  const dataEnd = dataStart + Number(lengthText);
  if (dataEnd > text.length || text.charAt(dataEnd) !== d.segment) {
    throw permanentError(`BIN02 is not followed by a segment terminator after the ${lengthText} characters BIN01 announces`, {
      code: 'x12_binary_length_invalid',
      where: { segment: 'BIN', field: 'BIN02', line },
    });
  }
  return { segment: { id: 'BIN', elements: ['BIN', lengthText, text.slice(dataStart, dataEnd)], line }, next: dataEnd + 1 };
}

export function isValidSegmentId(id: string): boolean {
  return SEGMENT_ID.test(id);
}
