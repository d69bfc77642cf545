import { randomBytes } from 'node:crypto';
import type { CarelaneError, ErrorLocation } from '../../contracts/errors.ts';
import { DEFAULT_DELIMITERS, type Hl7Delimiters, type MessageHeader, type PartialMessageHeader } from './message-header.ts';

/**
 * Builds the acknowledgment of an inbound HL7 v2 message (HL7 v2.5.1 chapter 2: 2.9 message processing rules,
 * the general acknowledgment ACK, 2.15.8 MSA, 2.15.5 ERR). Pure: header and outcome in, ACK text out.
 */

/** MSA-1 (HL7 table 0008): AA/AE/AR in original mode, CA/CE/CR for an enhanced-mode accept acknowledgment. */
export type AckCode = 'AA' | 'AE' | 'AR' | 'CA' | 'CE' | 'CR';

/**
 * accept: stored, will be processed. error: could not be accepted now, the same message may succeed later
 * (not stored: AE/CE). reject: the message itself is unacceptable (no MSH, MSH-9/11/12 missing or
 * unsupported, broken framing: AR/CR, section 2.9).
 */
export type AckOutcome = 'accept' | 'error' | 'reject';

/** HL7 table 0357 "Message error condition codes" (v2.5.1), the ones Carelane uses, with the table's text. */
export const HL7_ERROR_CODES = {
  0: 'Message accepted',
  100: 'Segment sequence error',
  101: 'Required field missing',
  102: 'Data type error',
  103: 'Table value not found',
  200: 'Unsupported message type',
  201: 'Unsupported event code',
  202: 'Unsupported processing id',
  203: 'Unsupported version id',
  204: 'Unknown key identifier',
  205: 'Duplicate key identifier',
  207: 'Application internal error',
} as const;

export type Hl7ErrorCode = keyof typeof HL7_ERROR_CODES;

export interface AckError {
  /** ERR-3, from table 0357 */
  hl7ErrorCode: Hl7ErrorCode;
  /** ERR-8 user message: what was wrong, in words a person at the sender can act on */
  text: string;
  /** ERR-2 error location, when known */
  where?: ErrorLocation | undefined;
  /** ERR-2 down to repetition, component and subcomponent; used instead of `where` when given */
  location?: Hl7ErrorLocation | undefined;
  /** ERR-4 (table 0516): E error (default), W warning. A warning has no place before v2.5 and is left out there. */
  severity?: 'E' | 'W';
}

/** The ERL data type of ERR-2 (v2.5+): segment id, its occurrence in the message, then field, repetition, component, subcomponent. */
export interface Hl7ErrorLocation {
  segment: string;
  sequence: number;
  field?: number;
  repetition?: number;
  component?: number;
  subcomponent?: number;
}

/** Table 0357 code for each Carelane error code the HL7 v2 inbound path raises. */
const ERROR_CODE_BY_CARELANE_CODE: Record<string, Hl7ErrorCode> = {
  hl7_no_msh: 100,
  mllp_empty_frame: 100,
  hl7_missing_field: 101,
  hl7_bad_delimiters: 102,
  hl7_batch_unsupported: 200,
  hl7_bad_batch: 100,
  hl7_unsupported_version: 203,
};

/** The ERR content for a CarelaneError: its table 0357 code (207 for anything unforeseen), text and location. */
export function ackErrorFrom(error: CarelaneError): AckError {
  return { hl7ErrorCode: ERROR_CODE_BY_CARELANE_CODE[error.code] ?? 207, text: error.message, where: error.where };
}

export interface AckOptions {
  /** MSH-10 of the ACK; default a fresh id */
  controlId?: string;
  /** MSH-7; default now */
  now?: Date;
  /** MSH-3 of the ACK when the message named no receiving application (MSH-5); default 'CARELANE' */
  applicationName?: string;
}

export interface BuiltAck {
  code: AckCode;
  mode: 'original' | 'enhanced';
  /** the ACK message, segments ended by CR; to be framed */
  text: string;
  /**
   * false when the sender asked not to receive this accept acknowledgment (enhanced mode, MSH-15 NE, or ER on
   * success, SU on failure: table 0155). The ACK is still built, so what would have been said is on record.
   */
  send: boolean;
}

let sequence = 0;

/**
 * A fresh MSH-10 for the ACK: unique per process and time, 16 characters (MSH-10 is limited to 20 characters
 * up to v2.6), unrelated to the message's own control id.
 */
export function newAckControlId(): string {
  sequence = (sequence + 1) % 36 ** 3;
  return `C${Date.now().toString(36).toUpperCase()}${sequence.toString(36).toUpperCase().padStart(3, '0')}${randomBytes(2).toString('hex').toUpperCase()}`;
}

/** HL7 DTM (chapter 2A) in UTC with an explicit offset, e.g. 20260309120000+0000. */
export function hl7Timestamp(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace(/[-T:]/g, '')}+0000`;
}

/** [major, minor, patch] of a version id such as '2.5.1'; null for anything else. */
function parseVersion(version: string): [number, number, number] | null {
  const match = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(version.trim());
  return match ? [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)] : null;
}

/** true if `version` is at least major.minor.patch; an unreadable version is taken as current (2.5.1 or later). */
export function versionAtLeast(version: string, major: number, minor: number, patch = 0): boolean {
  const parsed = parseVersion(version);
  if (!parsed) return true;
  const [a, b, c] = parsed;
  return a !== major ? a > major : b !== minor ? b > minor : c >= patch;
}

/**
 * Escapes text for an HL7 field (section 2.7): each delimiter becomes an escape sequence written with the
 * message's own escape character: \F\ field, \S\ component, \R\ repetition, \E\ escape, \T\ subcomponent,
 * \P\ truncation (v2.7). Segment ends and other control characters would break the segment: spaces.
 */
export function escapeHl7Text(text: string, delimiters: Hl7Delimiters): string {
  const e = delimiters.escape;
  const sequences = new Map<string, string>([
    [delimiters.field, 'F'],
    [delimiters.component, 'S'],
    [delimiters.repetition, 'R'],
    [delimiters.escape, 'E'],
    [delimiters.subcomponent, 'T'],
  ]);
  if (delimiters.truncation) sequences.set(delimiters.truncation, 'P');
  let out = '';
  for (const char of text) {
    const letter = sequences.get(char);
    if (letter) out += `${e}${letter}${e}`;
    else if (/[\u0000-\u001f\u007f]/.test(char)) out += ' ';
    else out += char;
  }
  return out;
}

/** 'MSH.9' → ['MSH', 9]; 'MSH' → ['MSH', undefined]. */
function fieldPosition(where: ErrorLocation | undefined): { segment: string; field: number | undefined } | undefined {
  const path = where?.field ?? where?.segment;
  if (!path) return undefined;
  const match = /^([A-Z][A-Z0-9]{2})(?:[.-](\d+))?/.exec(path);
  if (!match) return undefined;
  return { segment: match[1]!, field: match[2] === undefined ? undefined : Number(match[2]) };
}

function codeFor(outcome: AckOutcome, mode: 'original' | 'enhanced'): AckCode {
  if (mode === 'enhanced') return outcome === 'accept' ? 'CA' : outcome === 'error' ? 'CE' : 'CR';
  return outcome === 'accept' ? 'AA' : outcome === 'error' ? 'AE' : 'AR';
}

/**
 * The ACK for a message (chapter 2, 2.9 and the general acknowledgment ACK):
 * - MSH with the same delimiters and version as the message, sending and receiving application/facility
 *   swapped, MSH-9 ACK^<trigger>^ACK (no message structure component before v2.3.1, where MSH-9.3 appeared),
 *   a fresh MSH-10 and the message's MSH-11;
 * - MSA-1 the code, MSA-2 the message's MSH-10 (2.15.8); MSA-3 text on a negative ACK before v2.7 (MSA-3 was
 *   withdrawn in v2.7; older senders show it);
 * - on AE/AR/CE/CR an ERR segment (2.15.5): from v2.5 ERR-2 location, ERR-3 table 0357 code, ERR-4 severity E,
 *   ERR-8 user message; before v2.5 ERR-1 (ELD) carries location and code.
 *
 * Original mode (MSH-15 and MSH-16 both empty) answers AA/AE/AR. When either is valued the sender uses enhanced
 * mode (2.9.3) and this is the accept acknowledgment CA/CE/CR, sent as MSH-15 asks; an empty MSH-15 beside a
 * valued MSH-16 (MSH-15 is required in enhanced mode) is answered as AL: a sender waiting on the connection
 * hears that its message was committed. The application acknowledgment MSH-16 asks for is built by
 * buildApplicationAck once the message has been processed (application-ack.ts).
 * A message without a readable MSH (header null) gets a generic ACK with the default delimiters.
 */
export function buildAck(header: MessageHeader | PartialMessageHeader | null, outcome: AckOutcome, error?: AckError, options: AckOptions = {}): BuiltAck {
  const acceptAckType = header?.acceptAckType ?? '';
  const mode = acceptAckType || header?.applicationAckType ? 'enhanced' : 'original';
  const code = codeFor(outcome, mode);
  const send = mode === 'original' || acknowledgmentWanted(acceptAckType, outcome === 'accept');
  return { code, mode, text: ackMessage(header, code, outcome !== 'accept' && error ? [error] : [], options), send };
}

/** MSA-1 of an application acknowledgment in enhanced mode (table 0008): accept, error, reject. */
export type ApplicationAckCode = 'AA' | 'AE' | 'AR';

/**
 * The application acknowledgment of enhanced mode (2.9.3): sent by Carelane as a message of its own, on its own
 * connection to the sender, once the message has been processed. The general ACK (MSH-9 ACK^<trigger>^ACK) as
 * for the accept acknowledgment, MSA-1 AA/AE/AR and MSA-2 the message's MSH-10, one ERR per error (the ACK
 * structure repeats ERR). Its own MSH-15 AL / MSH-16 NE: the sender commits it (CA) and never acknowledges an
 * acknowledgment at application level (that would loop).
 */
export function buildApplicationAck(header: MessageHeader, code: ApplicationAckCode, errors: AckError[], options: AckOptions = {}): string {
  // An AA carries warnings only (severity W): the processing succeeded, and the sender is told what to look at.
  return ackMessage(header, code, code === 'AA' ? errors.filter((error) => error.severity === 'W') : errors, options, ['AL', 'NE']);
}

/**
 * Table 0155 (MSH-15 and MSH-16): AL always, NE never, ER only on error/reject, SU only on success; empty or
 * unknown values: always (an answer nobody asked for is safer than silence towards a waiting sender).
 */
export function acknowledgmentWanted(type: string, success: boolean): boolean {
  switch (type.toUpperCase()) {
    case 'NE':
      return false;
    case 'ER':
      return !success;
    case 'SU':
      return success;
    default:
      return true;
  }
}

function ackMessage(header: MessageHeader | PartialMessageHeader | null, code: AckCode, errors: AckError[], options: AckOptions, acknowledgmentTypes?: [string, string]): string {
  const d = header?.delimiters ?? DEFAULT_DELIMITERS;
  // MSH-12 is echoed as given; the ACK's layout follows it only when it is an HL7 v2 version (a '1.0' gets today's).
  const version = header?.version || '2.5.1';
  const layout = /^2\.\d/.test(version) ? version : '2.5.1';

  const trigger = header?.triggerEvent ?? '';
  const messageType = !trigger ? 'ACK' : versionAtLeast(layout, 2, 3, 1) ? ['ACK', trigger, 'ACK'].join(d.component) : ['ACK', trigger].join(d.component);
  const encodingCharacters = d.component + d.repetition + d.escape + d.subcomponent + d.truncation;

  const msh: string[] = [
    'MSH',
    encodingCharacters,
    header?.receivingApplication || options.applicationName || 'CARELANE',
    header?.receivingFacility ?? '',
    header?.sendingApplication ?? '',
    header?.sendingFacility ?? '',
    hl7Timestamp(options.now ?? new Date()),
    '',
    messageType,
    options.controlId ?? newAckControlId(),
    header?.processingId || 'P',
    version,
  ];
  if (acknowledgmentTypes) {
    // MSH-15, MSH-16 (msh[n] holds MSH-(n+1): MSH-1 is the separator itself)
    while (msh.length < 16) msh.push('');
    [msh[14], msh[15]] = acknowledgmentTypes;
  }
  // MSH-18: the ACK is written in the message's character set, and says so.
  if (header?.characterSet) {
    while (msh.length < 18) msh.push('');
    msh[17] = header.characterSet;
  }

  // Before v2.5 an ERR has no severity (ERR-1 only): a warning there would read as an error.
  const sent = versionAtLeast(layout, 2, 5) ? errors : errors.filter((error) => error.severity !== 'W');
  const texts = sent.map((error) => escapeHl7Text(error.text, d));
  const msa = ['MSA', code, header?.controlId ?? ''];
  // MSA-3 is the reason of a negative ACK: never a warning's text.
  const firstError = sent.findIndex((error) => error.severity !== 'W');
  if (firstError >= 0 && texts[firstError] && !versionAtLeast(layout, 2, 7)) msa.push(texts[firstError].slice(0, 80));

  const segments = [msh.join(d.field), msa.join(d.field), ...sent.map((error, index) => errSegment(error, texts[index]!, layout, d))];
  // Every segment, the last included, ends with CR (chapter 2, message construction rules).
  return `${segments.join('\r')}\r`;
}

function errSegment(error: AckError, text: string, version: string, d: Hl7Delimiters): string {
  const position = fieldPosition(error.where);
  const codeText = HL7_ERROR_CODES[error.hl7ErrorCode];
  if (!versionAtLeast(version, 2, 5)) {
    // ERR-1 error code and location (ELD): segment id ^ sequence ^ field position ^ code (CE, as subcomponents).
    const code = [String(error.hl7ErrorCode), codeText, 'HL70357'].join(d.subcomponent);
    const eld = [position?.segment ?? '', position ? '1' : '', position?.field?.toString() ?? '', code].join(d.component);
    return ['ERR', eld].join(d.field);
  }
  // ERR-2 (ERL): segment id ^ segment sequence ^ field position [^ field repetition ^ component ^ subcomponent].
  const location = error.location
    ? erl(error.location).join(d.component)
    : position
      ? [position.segment, '1', ...(position.field === undefined ? [] : [String(position.field)])].join(d.component)
      : '';
  const fields = [
    'ERR',
    '',
    location,
    [String(error.hl7ErrorCode), codeText, 'HL70357'].join(d.component),
    error.severity ?? 'E',
    '',
    '',
    '',
    text,
  ];
  return fields.join(d.field);
}

/** ERL components as far as the location goes (a component number is only given below a field, and so on). */
function erl(location: Hl7ErrorLocation): string[] {
  const parts = [location.segment, String(location.sequence)];
  for (const part of [location.field, location.repetition, location.component, location.subcomponent]) {
    if (part === undefined) break;
    parts.push(String(part));
  }
  return parts;
}
