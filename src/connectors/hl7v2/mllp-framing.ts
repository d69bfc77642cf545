/**
 * MLLP framing (Minimal Lower Layer Protocol, Release 1: HL7 v2.5.1 Appendix C and "HL7 Version 3 Standard:
 * Transport Specification - MLLP, Release 1"). A block is <SB> payload <EB><CR> with SB = 0x0B and
 * EB = 0x1C, CR = 0x0D. TCP delivers a byte stream, so one socket chunk may hold part of a block, several
 * blocks, or bytes that belong to no block at all: this decoder turns chunks back into blocks. Pure, no I/O.
 */

export const START_BLOCK = 0x0b;
export const END_BLOCK = 0x1c;
export const CARRIAGE_RETURN = 0x0d;

/** Bytes tolerated between blocks without complaint: some senders add a CR or LF after <EB><CR>. */
const INTER_FRAME_WHITESPACE = new Set([0x0d, 0x0a, 0x20, 0x09, 0x00]);

export type MllpEvent =
  /** a complete block's payload, without SB/EB/CR */
  | { type: 'frame'; payload: Buffer }
  /** a block larger than maxMessageBytes: the first maxMessageBytes bytes, reported once its end arrived */
  | { type: 'oversize'; payload: Buffer; size: number; truncated: true }
  /**
   * bytes that are not inside a well-formed block: `outside_frame` for bytes before a start block (the sender
   * does not frame, or lost sync), `unterminated_frame` for a block cut off by a new start block or by the end
   * of the connection. `bytes` keeps at most maxMessageBytes of them; `size` counts all.
   */
  | { type: 'framing_error'; reason: 'outside_frame' | 'unterminated_frame'; bytes: Buffer; size: number; truncated: boolean };

export interface MllpDecoderOptions {
  maxMessageBytes: number;
}

/** Collects bytes up to a limit, counting (and dropping) the rest. */
class BoundedBytes {
  private readonly limit: number;
  private parts: Buffer[] = [];
  private kept = 0;
  size = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  add(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.size += chunk.length;
    const room = this.limit - this.kept;
    if (room <= 0) return;
    // subarray shares the socket's buffer; copy on take() so no large chunk is pinned by a small slice.
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.parts.push(part);
    this.kept += part.length;
  }

  get truncated(): boolean {
    return this.size > this.kept;
  }

  take(): Buffer {
    const bytes = Buffer.concat(this.parts, this.kept);
    this.parts = [];
    this.kept = 0;
    this.size = 0;
    return bytes;
  }
}

/**
 * Streaming MLLP decoder. Feed it every chunk the socket gives (`push`); it returns the events completed by
 * that chunk, in stream order. Bytes outside any block are held until a start block arrives, `flushOutside()`
 * is called (the listener does so once the line has been quiet for a moment, for a sender that never frames),
 * or `end()`.
 */
export class MllpDecoder {
  private readonly maxMessageBytes: number;
  private inFrame = false;
  private frame: BoundedBytes;
  private outside: BoundedBytes;
  /** only whitespace seen outside a block so far: not worth an error */
  private outsideIsWhitespace = true;
  /** the previous chunk ended with EB: a CR may still follow and must be swallowed */
  private expectCarriageReturn = false;

  constructor(options: MllpDecoderOptions) {
    if (!(options.maxMessageBytes > 0)) throw new RangeError('maxMessageBytes must be positive');
    this.maxMessageBytes = options.maxMessageBytes;
    this.frame = new BoundedBytes(this.maxMessageBytes);
    this.outside = new BoundedBytes(this.maxMessageBytes);
  }

  /** true while bytes outside any block wait to be reported */
  get hasPendingOutside(): boolean {
    return this.outside.size > 0 && !this.outsideIsWhitespace;
  }

  /** true while a block has started and its end has not arrived */
  get inProgress(): boolean {
    return this.inFrame;
  }

  push(chunk: Buffer): MllpEvent[] {
    const events: MllpEvent[] = [];
    let position = 0;
    if (this.expectCarriageReturn && chunk.length > 0) {
      this.expectCarriageReturn = false;
      if (chunk[0] === CARRIAGE_RETURN) position = 1;
    }
    while (position < chunk.length) {
      if (this.inFrame) {
        // A block ends at EB. EB cannot occur inside HL7 text (MLLP R1: the payload must not contain SB or EB),
        // so EB alone ends the block and the CR after it is swallowed if it comes: senders that forget the CR
        // are still answered, and the ACK never waits for a CR in the next chunk.
        const end = chunk.indexOf(END_BLOCK, position);
        const start = chunk.indexOf(START_BLOCK, position);
        if (start !== -1 && (end === -1 || start < end)) {
          // A new SB before EB: the block in progress was cut off (sender restarted or lost sync).
          this.frame.add(chunk.subarray(position, start));
          events.push(this.takeUnterminated());
          position = start + 1;
          this.inFrame = true;
          continue;
        }
        if (end === -1) {
          this.frame.add(chunk.subarray(position));
          position = chunk.length;
          break;
        }
        this.frame.add(chunk.subarray(position, end));
        events.push(this.takeFrame());
        this.inFrame = false;
        position = end + 1;
        if (position >= chunk.length) this.expectCarriageReturn = true;
        else if (chunk[position] === CARRIAGE_RETURN) position += 1;
      } else {
        const start = chunk.indexOf(START_BLOCK, position);
        const stop = start === -1 ? chunk.length : start;
        this.addOutside(chunk.subarray(position, stop));
        if (start === -1) {
          position = chunk.length;
          break;
        }
        const pending = this.takeOutside();
        if (pending) events.push(pending);
        this.inFrame = true;
        position = start + 1;
      }
    }
    return events;
  }

  /** Reports bytes received outside any block so far (a sender that does not use MLLP framing). */
  flushOutside(): MllpEvent[] {
    const pending = this.takeOutside();
    return pending ? [pending] : [];
  }

  /** The connection ended: whatever is left is reported (a block without its end, stray bytes). */
  end(): MllpEvent[] {
    const events = this.flushOutside();
    if (this.inFrame) {
      this.inFrame = false;
      if (this.frame.size > 0) events.push(this.takeUnterminated());
      else this.frame.take();
    }
    this.expectCarriageReturn = false;
    return events;
  }

  private addOutside(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.outsideIsWhitespace) {
      for (const byte of bytes) {
        if (!INTER_FRAME_WHITESPACE.has(byte)) {
          this.outsideIsWhitespace = false;
          break;
        }
      }
    }
    this.outside.add(bytes);
  }

  private takeOutside(): MllpEvent | undefined {
    const whitespaceOnly = this.outsideIsWhitespace;
    this.outsideIsWhitespace = true;
    if (this.outside.size === 0) return undefined;
    const size = this.outside.size;
    const truncated = this.outside.truncated;
    const bytes = this.outside.take();
    // A stray CR/LF between blocks is common and harmless; answering it would put an unexpected ACK in the
    // sender's stream and pair every later ACK with the wrong message.
    if (whitespaceOnly) return undefined;
    return { type: 'framing_error', reason: 'outside_frame', bytes, size, truncated };
  }

  private takeFrame(): MllpEvent {
    const size = this.frame.size;
    const truncated = this.frame.truncated;
    const payload = this.frame.take();
    return truncated ? { type: 'oversize', payload, size, truncated: true } : { type: 'frame', payload };
  }

  private takeUnterminated(): MllpEvent {
    const size = this.frame.size;
    const truncated = this.frame.truncated;
    const bytes = this.frame.take();
    return { type: 'framing_error', reason: 'unterminated_frame', bytes, size, truncated };
  }
}

/** Wraps a payload in an MLLP block: <SB> payload <EB><CR>. Strings are encoded as UTF-8. */
export function frame(payload: string | Buffer): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const block = Buffer.allocUnsafe(body.length + 3);
  block[0] = START_BLOCK;
  body.copy(block, 1);
  block[body.length + 1] = END_BLOCK;
  block[body.length + 2] = CARRIAGE_RETURN;
  return block;
}
