import { describe, expect, it } from 'vitest';
import { MllpDecoder, frame, type MllpEvent } from './mllp-framing.ts';

const MESSAGE_A = 'MSH|^~\\&|A|B|C|D|20260101120000||ADT^A01|1|P|2.5.1\rPID|1||123\r';
const MESSAGE_B = 'MSH|^~\\&|A|B|C|D|20260101120001||ADT^A08|2|P|2.5.1\rPID|1||456\r';

const frames = (events: MllpEvent[]) => events.filter((e) => e.type === 'frame').map((e) => (e as { payload: Buffer }).payload.toString());

function feed(decoder: MllpDecoder, chunks: Buffer[]): MllpEvent[] {
  return chunks.flatMap((chunk) => decoder.push(chunk));
}

describe('MLLP framing', () => {
  it('wraps a payload in start block 0x0B and end block 0x1C 0x0D', () => {
    const block = frame('MSH|x');
    expect([...block]).toEqual([0x0b, ...Buffer.from('MSH|x'), 0x1c, 0x0d]);
    expect(new MllpDecoder({ maxMessageBytes: 100 }).push(block)).toEqual([{ type: 'frame', payload: Buffer.from('MSH|x') }]);
  });

  it('reassembles a frame split at every possible byte boundary', () => {
    const block = frame(MESSAGE_A);
    for (let cut = 1; cut < block.length; cut++) {
      const decoder = new MllpDecoder({ maxMessageBytes: 1024 });
      const events = feed(decoder, [block.subarray(0, cut), block.subarray(cut)]);
      expect(frames(events), `cut at ${cut}`).toEqual([MESSAGE_A]);
      expect(events).toHaveLength(1);
    }
  });

  it('reassembles frames fed one byte at a time', () => {
    const stream = Buffer.concat([frame(MESSAGE_A), frame(MESSAGE_B)]);
    const decoder = new MllpDecoder({ maxMessageBytes: 1024 });
    const events = feed(decoder, [...stream].map((b) => Buffer.from([b])));
    expect(frames(events)).toEqual([MESSAGE_A, MESSAGE_B]);
    expect(events).toHaveLength(2);
  });

  it('returns several frames received in one chunk, in order', () => {
    const decoder = new MllpDecoder({ maxMessageBytes: 1024 });
    const events = decoder.push(Buffer.concat([frame(MESSAGE_A), frame(MESSAGE_B), frame(MESSAGE_A)]));
    expect(frames(events)).toEqual([MESSAGE_A, MESSAGE_B, MESSAGE_A]);
  });

  it('reports bytes before a start block as a framing error carrying those bytes, then the frame', () => {
    const decoder = new MllpDecoder({ maxMessageBytes: 1024 });
    const junk = Buffer.from([0x00, 0xff, 0x41, 0x42, 0x07]);
    const events = decoder.push(Buffer.concat([junk, frame(MESSAGE_A)]));
    expect(events).toEqual([
      { type: 'framing_error', reason: 'outside_frame', bytes: junk, size: junk.length, truncated: false },
      { type: 'frame', payload: Buffer.from(MESSAGE_A) },
    ]);
  });

  it('holds unframed bytes until flushOutside() and reports them once', () => {
    const decoder = new MllpDecoder({ maxMessageBytes: 1024 });
    expect(decoder.push(Buffer.from(MESSAGE_A.slice(0, 10)))).toEqual([]);
    expect(decoder.push(Buffer.from(MESSAGE_A.slice(10)))).toEqual([]);
    expect(decoder.hasPendingOutside).toBe(true);
    const events = decoder.flushOutside();
    expect(events).toEqual([{ type: 'framing_error', reason: 'outside_frame', bytes: Buffer.from(MESSAGE_A), size: MESSAGE_A.length, truncated: false }]);
    expect(decoder.flushOutside()).toEqual([]);
    expect(frames(decoder.push(frame(MESSAGE_B)))).toEqual([MESSAGE_B]);
  });

  it('ignores a CR or LF between frames instead of answering it', () => {
    const decoder = new MllpDecoder({ maxMessageBytes: 1024 });
    const events = decoder.push(Buffer.concat([frame(MESSAGE_A), Buffer.from('\r\n'), frame(MESSAGE_B), Buffer.from('\n')]));
    expect(events.map((e) => e.type)).toEqual(['frame', 'frame']);
    expect(decoder.hasPendingOutside).toBe(false);
    expect(decoder.end()).toEqual([]);
  });

  it('keeps the first maxMessageBytes of an oversize frame, discards the rest and reports it once when it ends', () => {
    const decoder = new MllpDecoder({ maxMessageBytes: 16 });
    const big = Buffer.alloc(100, 'x');
    const block = frame(big);
    const events = feed(decoder, [block.subarray(0, 30), block.subarray(30, 70), block.subarray(70)]);
    expect(events).toEqual([{ type: 'oversize', payload: big.subarray(0, 16), size: 100, truncated: true }]);
    // the decoder is back in step: the next frame is whole
    expect(frames(decoder.push(frame('MSH|ok')))).toEqual(['MSH|ok']);
  });

  it('accepts a frame of exactly maxMessageBytes', () => {
    const decoder = new MllpDecoder({ maxMessageBytes: 16 });
    expect(decoder.push(frame(Buffer.alloc(16, 'y')))).toEqual([{ type: 'frame', payload: Buffer.alloc(16, 'y') }]);
  });

  it('reports a frame cut off by a new start block as unterminated and decodes the new frame', () => {
    const decoder = new MllpDecoder({ maxMessageBytes: 1024 });
    const events = decoder.push(Buffer.concat([Buffer.from([0x0b]), Buffer.from('MSH|cut'), frame(MESSAGE_B)]));
    expect(events).toEqual([
      { type: 'framing_error', reason: 'unterminated_frame', bytes: Buffer.from('MSH|cut'), size: 7, truncated: false },
      { type: 'frame', payload: Buffer.from(MESSAGE_B) },
    ]);
  });

  it('reports a frame left open when the connection ends', () => {
    const decoder = new MllpDecoder({ maxMessageBytes: 1024 });
    expect(decoder.push(Buffer.from([0x0b, 0x4d, 0x53, 0x48]))).toEqual([]);
    expect(decoder.inProgress).toBe(true);
    expect(decoder.end()).toEqual([{ type: 'framing_error', reason: 'unterminated_frame', bytes: Buffer.from('MSH'), size: 3, truncated: false }]);
  });

  it('ends a frame at 0x1C even when the sender omits the trailing 0x0D', () => {
    const decoder = new MllpDecoder({ maxMessageBytes: 1024 });
    const events = decoder.push(Buffer.concat([Buffer.from([0x0b]), Buffer.from('MSH|a'), Buffer.from([0x1c]), frame('MSH|b')]));
    expect(frames(events)).toEqual(['MSH|a', 'MSH|b']);
    expect(events).toHaveLength(2);
  });

  it('swallows the 0x0D of an end block that arrives in the next chunk', () => {
    const decoder = new MllpDecoder({ maxMessageBytes: 1024 });
    const block = frame('MSH|a');
    expect(frames(decoder.push(block.subarray(0, block.length - 1)))).toEqual(['MSH|a']);
    expect(decoder.push(Buffer.from([0x0d]))).toEqual([]);
    expect(decoder.flushOutside()).toEqual([]);
  });

  it('reports an empty frame as a frame with an empty payload', () => {
    const decoder = new MllpDecoder({ maxMessageBytes: 1024 });
    expect(decoder.push(Buffer.from([0x0b, 0x1c, 0x0d]))).toEqual([{ type: 'frame', payload: Buffer.alloc(0) }]);
  });

  it('bounds the unframed bytes it keeps to maxMessageBytes and counts the rest', () => {
    const decoder = new MllpDecoder({ maxMessageBytes: 8 });
    decoder.push(Buffer.alloc(20, 'j'));
    expect(decoder.flushOutside()).toEqual([{ type: 'framing_error', reason: 'outside_frame', bytes: Buffer.alloc(8, 'j'), size: 20, truncated: true }]);
  });
});
