import { CarelaneError, permanentError, type ErrorLocation } from '../../contracts/errors.ts';

/**
 * Reads the message header (MSH, HL7 v2.5.1 chapter 2, 2.15.9) of an inbound HL7 v2 message: what the ACK and
 * routing need, nothing more. Own code rather than a full parser: MSH is small, and reading it must succeed
 * on real input (segments ended by CR, LF or CRLF, custom delimiters) and, when it fails, say exactly where.
 */

export interface Hl7Delimiters {
  /** MSH-1 */
  field: string;
  component: string;
  repetition: string;
  escape: string;
  subcomponent: string;
  /** the truncation character, 5th encoding character since v2.7; '' when absent */
  truncation: string;
}

/** The delimiters HL7 recommends (chapter 2, message delimiters): used when a message gives none we can read. */
export const DEFAULT_DELIMITERS: Hl7Delimiters = { field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&', truncation: '' };

export interface MessageHeader {
  /** MSH-1 */
  fieldSeparator: string;
  /** MSH-2, e.g. '^~\&' */
  encodingCharacters: string;
  delimiters: Hl7Delimiters;
  /** MSH-3..MSH-6 as written (components joined by the message's own component separator); '' when empty */
  sendingApplication: string;
  sendingFacility: string;
  receivingApplication: string;
  receivingFacility: string;
  /** MSH-9.1^MSH-9.2 with '^' whatever the message's component separator, e.g. 'ADT^A01'; 'ACK' without trigger */
  messageType: string;
  /** MSH-9.1, MSH-9.2, MSH-9.3 */
  messageCode: string;
  triggerEvent: string;
  messageStructure: string;
  /** MSH-10 message control id */
  controlId: string;
  /** MSH-11.1 processing id (P, D, T) */
  processingId: string;
  /** MSH-12.1 version id, e.g. '2.5.1' */
  version: string;
  /** MSH-15 accept acknowledgment type (AL, NE, ER, SU); '' = not given */
  acceptAckType: string;
  /** MSH-16 application acknowledgment type; '' = not given */
  applicationAckType: string;
  /** MSH-18, first repetition (e.g. '8859/1', 'UNICODE UTF-8'); '' = not given (ASCII) */
  characterSet: string;
  /** line of the MSH segment, 1-based, counting CR, LF and CRLF each as one segment end */
  line: number;
  /** 'FHS' or 'BHS' when the MSH is the first message of an HL7 batch (section 2.10.3); else null */
  batch: 'FHS' | 'BHS' | null;
}

/** What could be read before an error: enough for a negative ACK that names the message (MSA-2) and its sender. */
export type PartialMessageHeader = Partial<MessageHeader> & { delimiters: Hl7Delimiters };

export type HeaderReading =
  | { ok: true; header: MessageHeader }
  | { ok: false; error: CarelaneError; partial: PartialMessageHeader | null };

interface Line {
  text: string;
  number: number;
}

/**
 * Segments end with CR (chapter 2, message construction rules); files and some senders use LF or CRLF, so all three count as one end.
 * Lazy: the header is found in the first lines, and a large message is not split as a whole.
 */
function* lines(text: string): Generator<Line> {
  let position = 0;
  let number = 1;
  while (position <= text.length) {
    let end = position;
    while (end < text.length) {
      const code = text.charCodeAt(end);
      if (code === 0x0d || code === 0x0a) break;
      end++;
    }
    yield { text: text.slice(position, end), number };
    if (end >= text.length) return;
    position = end + (text.charCodeAt(end) === 0x0d && text.charCodeAt(end + 1) === 0x0a ? 2 : 1);
    number++;
  }
}

const SEGMENT_NAME = /^[A-Z][A-Z0-9]{2}$/;

function headerError(code: string, message: string, where: ErrorLocation): CarelaneError {
  return permanentError(message, { code, where });
}

/** A printable name for the segment found instead of MSH, if it looks like one (binary input does not). */
function describeSegment(text: string): string {
  const name = text.slice(0, 3);
  return SEGMENT_NAME.test(name) ? `'${name}'` : 'no segment name';
}

/**
 * Reads MSH-1 and MSH-2. The field separator is the character right after 'MSH'; the encoding characters are
 * MSH-2 (2.15.9.2: component, repetition, escape, subcomponent, and since v2.7 truncation).
 */
function readDelimiters(segment: string, line: number): { delimiters: Hl7Delimiters; error?: CarelaneError } {
  const field = segment.charAt(3);
  if (field === '' || /[A-Za-z0-9\s]/.test(field)) {
    return {
      delimiters: DEFAULT_DELIMITERS,
      error: headerError('hl7_bad_delimiters', 'MSH-1 field separator is missing or not a delimiter character', { segment: 'MSH', field: 'MSH.1', line, position: 4 }),
    };
  }
  const end = segment.indexOf(field, 4);
  const encoding = end === -1 ? segment.slice(4) : segment.slice(4, end);
  if (encoding.length === 0) {
    return {
      delimiters: { ...DEFAULT_DELIMITERS, field },
      error: headerError('hl7_missing_field', 'MSH-2 encoding characters are empty', { segment: 'MSH', field: 'MSH.2', line }),
    };
  }
  const characters = [...encoding];
  const invalid =
    characters.length < 4 ||
    characters.length > 5 ||
    new Set([field, ...characters]).size !== characters.length + 1 ||
    characters.some((c) => /[A-Za-z0-9\s]/.test(c));
  if (invalid) {
    return {
      delimiters: { ...DEFAULT_DELIMITERS, field },
      error: headerError('hl7_bad_delimiters', `MSH-2 encoding characters '${encoding.replace(/[^\x21-\x7e]/g, '?')}' are not 4 or 5 distinct delimiter characters`, {
        segment: 'MSH',
        field: 'MSH.2',
        line,
      }),
    };
  }
  const [component, repetition, escape, subcomponent, truncation] = characters as [string, string, string, string, string | undefined];
  return { delimiters: { field, component, repetition, escape, subcomponent, truncation: truncation ?? '' } };
}

/**
 * Splits MSH into fields numbered as the standard numbers them: MSH-1 is the field separator itself, so the
 * text after 'MSH|' is MSH-2, MSH-3, ... (2.15.9).
 */
function mshFields(segment: string, delimiters: Hl7Delimiters): string[] {
  const parts = segment.split(delimiters.field);
  // parts[0] = 'MSH', parts[1] = MSH-2, parts[n] = MSH-(n+1)
  return ['MSH', delimiters.field, ...parts.slice(1)];
}

const firstComponent = (value: string, delimiters: Hl7Delimiters): string =>
  (value.split(delimiters.repetition)[0] ?? '').split(delimiters.component)[0] ?? '';

/**
 * Reads the header, returning either the header or the error with whatever could be read before it (so the
 * negative ACK still names the message it answers).
 */
export function readMessageHeader(text: string): HeaderReading {
  let batch: 'FHS' | 'BHS' | null = null;
  let msh: Line | undefined;
  let firstLine: Line | undefined;
  for (const line of lines(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text)) {
    // Blank lines before the header (a trailing newline of a previous message, a file's blank line) are noise.
    if (line.text.trim() === '') continue;
    firstLine ??= line;
    const name = line.text.slice(0, 3);
    if (name === 'MSH') {
      msh = line;
      break;
    }
    // Section 2.10.3: a batch starts with FHS (file header) and/or BHS (batch header); its messages follow.
    if (name === 'FHS' || name === 'BHS') {
      batch ??= name;
      continue;
    }
    break;
  }
  if (!msh) {
    const where: ErrorLocation = { segment: 'MSH', line: firstLine?.number ?? 1 };
    const found = firstLine ? `found ${describeSegment(firstLine.text)} on line ${firstLine.number}` : 'the message is empty';
    const message = batch
      ? `the ${batch} batch holds no MSH segment (${found})`
      : `the message does not start with an MSH segment (${found})`;
    return { ok: false, error: headerError('hl7_no_msh', message, where), partial: null };
  }

  const line = msh.number;
  const { delimiters, error: delimiterError } = readDelimiters(msh.text, line);
  const fields = mshFields(msh.text, delimiters);
  const field = (n: number): string => fields[n] ?? '';
  const messageTypeField = field(9).split(delimiters.repetition)[0] ?? '';
  const [messageCode = '', triggerEvent = '', messageStructure = ''] = messageTypeField.split(delimiters.component);
  const partial: PartialMessageHeader = {
    fieldSeparator: delimiters.field,
    encodingCharacters: field(2),
    delimiters,
    sendingApplication: field(3),
    sendingFacility: field(4),
    receivingApplication: field(5),
    receivingFacility: field(6),
    messageType: triggerEvent ? `${messageCode}^${triggerEvent}` : messageCode,
    messageCode,
    triggerEvent,
    messageStructure,
    controlId: field(10).trim(),
    processingId: firstComponent(field(11), delimiters).trim(),
    version: firstComponent(field(12), delimiters).trim(),
    acceptAckType: field(15).trim(),
    applicationAckType: field(16).trim(),
    characterSet: (field(18).split(delimiters.repetition)[0] ?? '').trim(),
    line,
    batch,
  };
  if (delimiterError) return { ok: false, error: delimiterError, partial };

  // Required for any answer: MSH-9 (what the ACK's MSH-9 echoes, what routing uses), MSH-10 (MSA-2 must
  // name it, and duplicates are recognised by it), MSH-11 and MSH-12 (echoed in the ACK's MSH, and what a
  // receiver checks before accepting, section 2.9.2). Other MSH fields are optional or may be left empty.
  const required: Array<[number, string, string]> = [
    [9, 'message type', messageCode],
    [10, 'message control id', partial.controlId ?? ''],
    [11, 'processing id', partial.processingId ?? ''],
    [12, 'version id', partial.version ?? ''],
  ];
  for (const [n, name, value] of required) {
    if (value.trim() === '') {
      return { ok: false, error: headerError('hl7_missing_field', `MSH-${n} ${name} is empty`, { segment: 'MSH', field: `MSH.${n}`, line }), partial };
    }
  }
  return { ok: true, header: partial as MessageHeader };
}

/** Reads the header or throws a permanent CarelaneError (code 'hl7_no_msh', 'hl7_missing_field', 'hl7_bad_delimiters'). */
export function parseMessageHeader(text: string): MessageHeader {
  const reading = readMessageHeader(text);
  if (!reading.ok) throw reading.error;
  return reading.header;
}

export type Hl7TextEncoding = 'utf8' | 'latin1';

/** Node's encoding for an MSH-18 value (HL7 table 0211). ASCII and unknown values are read as UTF-8, a superset of ASCII. */
export function encodingForCharacterSet(characterSet: string): Hl7TextEncoding {
  return /^8859\/\d+$/i.test(characterSet.trim()) ? 'latin1' : 'utf8';
}

/**
 * Decodes a message's bytes as its MSH-18 says (2.15.9.18): the header is first read as Latin-1,
 * which decodes any byte and keeps the ASCII of MSH intact, to learn the character set.
 */
export function decodeMessage(payload: Buffer): { text: string; encoding: Hl7TextEncoding } {
  const probe = payload.subarray(0, 4096).toString('latin1');
  const reading = readMessageHeader(probe);
  const characterSet = reading.ok ? reading.header.characterSet : (reading.partial?.characterSet ?? '');
  const encoding = encodingForCharacterSet(characterSet);
  return { text: payload.toString(encoding), encoding };
}
