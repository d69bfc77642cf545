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

/** Where a value marked as truncated sits: `PID.5.1`, `OBX[2].5`, `PID.13[2].1` (segment occurrence and field repetition in brackets when they repeat). */
export interface TruncatedValue {
  position: string;
  segment: string;
  /** which occurrence of `segment` in the message, 1-based (ERL-2 "Segment Sequence", not the segment's Set ID) */
  sequence: number;
  line: number;
  field: number;
  /** 1-based */
  repetition: number;
  component: number;
  subcomponent: number;
  /** the value is the whole field repetition (no components), one component, or one subcomponent */
  level: 'field' | 'component' | 'subcomponent';
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

  /**
   * The values the sender marked as truncated (HL7 v2.7 2.5.5.2): a primitive value whose last character is the
   * truncation character of MSH-2 (its 5th encoding character) was cut at the length the receiver may keep. The
   * value itself is kept as sent, mark included; this lists where. A truncation character elsewhere in a value
   * is an ordinary character, and an escaped one (\P\) is data. Empty when MSH-2 declares no truncation character.
   */
  truncatedValues(): TruncatedValue[] {
    const d = this.delimiters;
    const mark = d.truncation;
    if (!mark) return [];
    const found: TruncatedValue[] = [];
    const occurrences = new Map<string, number>();
    const counts = new Map<string, number>();
    for (const segment of this.segments) counts.set(segment.name, (counts.get(segment.name) ?? 0) + 1);
    const repeated = new Set([...counts].filter(([, count]) => count > 1).map(([name]) => name));
    for (const segment of this.segments) {
      const occurrence = (occurrences.get(segment.name) ?? 0) + 1;
      occurrences.set(segment.name, occurrence);
      // MSH-1 is the field separator and MSH-2 holds the truncation character itself.
      const first = segment.name === 'MSH' ? 3 : 1;
      for (let field = first; field < segment.fields.length; field++) {
        const raw = segment.fields[field]!;
        if (!raw.includes(mark)) continue;
        raw.split(d.repetition).forEach((rep, r) => {
          const components = rep.split(d.component);
          components.forEach((comp, c) => {
            const subcomponents = comp.split(d.subcomponent);
            subcomponents.forEach((sub, sc) => {
              if (!sub.endsWith(mark)) return;
              let position = `${segment.name}${repeated.has(segment.name) ? `[${occurrence}]` : ''}.${field}${r > 0 ? `[${r + 1}]` : ''}`;
              const level = subcomponents.length > 1 ? 'subcomponent' : components.length > 1 ? 'component' : 'field';
              if (level !== 'field') position += `.${c + 1}`;
              if (level === 'subcomponent') position += `.${sc + 1}`;
              found.push({ position, segment: segment.name, sequence: occurrence, line: segment.line, field, repetition: r + 1, component: c + 1, subcomponent: sc + 1, level });
            });
          });
        });
      }
    }
    return found;
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
