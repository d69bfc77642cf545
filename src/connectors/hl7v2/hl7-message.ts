import { readMessageHeader, type Hl7Delimiters, type MessageHeader } from './message-header.ts';

/**
 * A small read-only accessor over an HL7 v2 message: segments, fields, repetitions, components and
 * subcomponents, numbered as the standard numbers them (1-based; MSH-1 is the field separator itself), with
 * escape sequences decoded (HL7 v2.5.1 chapter 2, 2.7 "Use of escape sequences in text fields"). The
 * delimiters come from the MSH parser (readMessageHeader), so custom delimiters work.
 */

export interface Hl7Segment {
  name: string;
  /** 1-based line, counting CR, LF and CRLF each as one segment end (as readMessageHeader does) */
  line: number;
  /** raw fields; index n is field n (for MSH, index 1 is the field separator) */
  fields: string[];
}

export class Hl7Message {
  readonly header: MessageHeader;
  readonly segments: readonly Hl7Segment[];
  readonly delimiters: Hl7Delimiters;

  constructor(header: MessageHeader, segments: Hl7Segment[]) {
    this.header = header;
    this.segments = segments;
    this.delimiters = header.delimiters;
  }

  /** Parses a decoded message; throws the header's permanent CarelaneError when MSH cannot be read. */
  static parse(text: string): Hl7Message {
    const reading = readMessageHeader(text);
    if (!reading.ok) throw reading.error;
    const header = reading.header;
    const d = header.delimiters;
    const segments: Hl7Segment[] = [];
    let line = 0;
    let started = false;
    for (const raw of text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/)) {
      line++;
      if (line < header.line) continue;
      if (raw.trim() === '') continue;
      const name = raw.slice(0, 3);
      if (name === 'MSH') {
        // A batch (2.10.3) holds several messages; this accessor reads the first one only.
        if (started) break;
        started = true;
        segments.push({ name, line, fields: ['MSH', d.field, ...raw.split(d.field).slice(1)] });
        continue;
      }
      if (name === 'BTS' || name === 'FTS' || name === 'BHS' || name === 'FHS') break;
      segments.push({ name, line, fields: raw.split(d.field) });
    }
    return new Hl7Message(header, segments);
  }

  segment(name: string): Hl7Segment | undefined {
    return this.segments.find((s) => s.name === name);
  }

  segmentsNamed(name: string): Hl7Segment[] {
    return this.segments.filter((s) => s.name === name);
  }

  /** The raw text of a field (all repetitions), '' when absent. */
  rawField(segment: Hl7Segment, field: number): string {
    return segment.fields[field] ?? '';
  }

  /** How many repetitions a field holds (0 when empty). */
  repetitions(segment: Hl7Segment, field: number): number {
    const raw = this.rawField(segment, field);
    return raw === '' ? 0 : raw.split(this.delimiters.repetition).length;
  }

  /**
   * One value, decoded: `get(seg, 3)` is field 3 component 1; `get(seg, 3, 4)` its 4th component; subcomponent
   * and repetition (0-based) are optional. '' when absent. `""` (explicit null, 2.5.3) reads as ''.
   */
  get(segment: Hl7Segment, field: number, component = 1, subcomponent = 1, repetition = 0): string {
    const d = this.delimiters;
    if (segment.name === 'MSH' && field <= 2) return this.rawField(segment, field);
    const rep = this.rawField(segment, field).split(d.repetition)[repetition] ?? '';
    const comp = rep.split(d.component)[component - 1] ?? '';
    const sub = comp.split(d.subcomponent)[subcomponent - 1] ?? '';
    return sub === '""' ? '' : decodeEscapes(sub, d).trim();
  }

  /** All components of one repetition, decoded. */
  components(segment: Hl7Segment, field: number, repetition = 0): string[] {
    const rep = this.rawField(segment, field).split(this.delimiters.repetition)[repetition] ?? '';
    return rep === '' ? [] : rep.split(this.delimiters.component).map((c) => decodeEscapes(c, this.delimiters).trim());
  }
}

/**
 * Decodes escape sequences (2.7.1–2.7.6): \F\ \S\ \T\ \R\ \E\ give the delimiters back, \P\ the truncation
 * character (v2.7), \Xhh..\ hexadecimal bytes (read as Latin-1 code points), \.br\ a line break; highlighting
 * (\H\ \N\), character-set switches (\C..\ \M..\) and other formatting commands carry no data and are dropped.
 * An escape character with no closing one is kept as written: real senders do not always escape it.
 */
export function decodeEscapes(text: string, d: Hl7Delimiters): string {
  const e = d.escape;
  if (!e || !text.includes(e)) return text;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const ch = text.charAt(i);
    if (ch !== e) {
      out += ch;
      i++;
      continue;
    }
    const end = text.indexOf(e, i + 1);
    if (end === -1) {
      out += text.slice(i);
      break;
    }
    const body = text.slice(i + 1, end);
    switch (body) {
      case 'F': out += d.field; break;
      case 'S': out += d.component; break;
      case 'T': out += d.subcomponent; break;
      case 'R': out += d.repetition; break;
      case 'E': out += d.escape; break;
      case 'P': out += d.truncation; break;
      case '.br': out += '\n'; break;
      default:
        if (/^X([0-9A-Fa-f]{2})+$/.test(body)) {
          for (let k = 1; k < body.length; k += 2) out += String.fromCharCode(parseInt(body.slice(k, k + 2), 16));
        } else if (!/^(H|N|C[0-9A-Fa-f]{4}|M[0-9A-Fa-f]{4,6}|\.[a-z]{2}[+-]?\d*)$/.test(body)) {
          // not an escape sequence this standard defines: keep the text as written
          out += e + body + e;
        }
    }
    i = end + 1;
  }
  return out;
}

/**
 * HL7 DTM/TS (2.A.22: YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]) → ISO 8601. Without an offset the time
 * is the sender's local time and is written without one. Returns undefined for text that is not a DTM
 * (real senders put 'DOB' or free text there).
 */
export function hl7DateTimeToIso(value: string): string | undefined {
  const m = /^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d{1,4})?([+-]\d{4})?$/.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, da, h, mi, s, frac, tz] = m;
  let iso = y!;
  if (mo) iso += `-${mo}`;
  if (da) iso += `-${da}`;
  if (h) iso += `T${h}:${mi ?? '00'}:${s ?? '00'}${frac ?? ''}`;
  if (h && tz) iso += `${tz.slice(0, 3)}:${tz.slice(3)}`;
  return iso;
}
