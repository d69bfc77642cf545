import { describe, expect, it } from 'vitest';
import { instantNanos, NEW_CURSOR, PollWindow } from './poll-cursor.ts';

const at = (instant: string): bigint => instantNanos(instant)!;

describe('instantNanos', () => {
  it('keeps digits past the millisecond and reads zones', () => {
    expect(at('2026-03-01T10:00:00.123456Z') - at('2026-03-01T10:00:00.123Z')).toBe(456_000n);
    expect(at('2026-03-01T12:00:00+02:00')).toBe(at('2026-03-01T10:00:00Z'));
    expect(instantNanos('2026-03-01')).toBeUndefined();
    expect(instantNanos('yesterday')).toBeUndefined();
  });
});

describe('PollWindow', () => {
  it('moves the cursor to the newest settled stamp after a sorted page and forgets versions behind it', () => {
    const window = new PollWindow(NEW_CURSOR, { sorted: true, settledBefore: at('2026-03-01T10:00:10Z') });
    window.stored([
      { key: 'SupplyRequest/a/_history/1', lastUpdated: '2026-03-01T10:00:01Z' },
      { key: 'SupplyRequest/b/_history/1', lastUpdated: '2026-03-01T10:00:02Z' },
      { key: 'SupplyRequest/c/_history/1', lastUpdated: '2026-03-01T10:00:02Z' },
    ]);
    expect(window.checkpoint(false)).toEqual({
      lastUpdated: '2026-03-01T10:00:02Z',
      // both versions stamped with the cursor's instant: the next search (ge) returns them again
      seen: { 'SupplyRequest/b/_history/1': '2026-03-01T10:00:02Z', 'SupplyRequest/c/_history/1': '2026-03-01T10:00:02Z' },
    });
  });

  it('recognises what it stored at the boundary, but not a new resource stamped in the same second', () => {
    const cursor = { lastUpdated: '2026-03-01T10:00:02Z', seen: { 'SupplyRequest/b/_history/1': '2026-03-01T10:00:02Z' } };
    const window = new PollWindow(cursor, { sorted: true, settledBefore: at('2026-03-01T10:05:00Z') });
    expect(window.isSeen('SupplyRequest/b/_history/1')).toBe(true);
    expect(window.isSeen('SupplyRequest/d/_history/1')).toBe(false);
    expect(window.isSeen('SupplyRequest/b/_history/2')).toBe(false);
    expect(window.isBehind('2026-03-01T10:00:01.999Z')).toBe(true);
    expect(window.isBehind('2026-03-01T10:00:02Z')).toBe(false);
  });

  it('does not move the cursor past the settle time: late stamps stay re-readable, remembered as seen', () => {
    const window = new PollWindow(NEW_CURSOR, { sorted: true, settledBefore: at('2026-03-01T10:00:05Z') });
    window.stored([
      { key: 'Appointment/a/_history/1', lastUpdated: '2026-03-01T10:00:04Z' },
      { key: 'Appointment/b/_history/3', lastUpdated: '2026-03-01T10:00:06Z' },
    ]);
    expect(window.checkpoint(true)).toEqual({
      lastUpdated: '2026-03-01T10:00:04Z',
      seen: { 'Appointment/a/_history/1': '2026-03-01T10:00:04Z', 'Appointment/b/_history/3': '2026-03-01T10:00:06Z' },
    });
  });

  it('keeps the cursor until the last page when the server did not sort', () => {
    const start = { lastUpdated: '2026-03-01T09:00:00Z', seen: {} };
    const window = new PollWindow(start, { sorted: false, settledBefore: at('2026-03-01T11:00:00Z') });
    window.stored([{ key: 'Device/x/_history/1', lastUpdated: '2026-03-01T10:30:00Z' }]);
    expect(window.movesMidRun).toBe(false);
    expect(window.checkpoint(false).lastUpdated).toBe('2026-03-01T09:00:00Z');
    window.stored([{ key: 'Device/y/_history/1', lastUpdated: '2026-03-01T10:10:00Z' }]);
    expect(window.checkpoint(true)).toEqual({ lastUpdated: '2026-03-01T10:30:00Z', seen: { 'Device/x/_history/1': '2026-03-01T10:30:00Z' } });
  });

  it('never moves the cursor backwards', () => {
    const start = { lastUpdated: '2026-03-01T10:00:00Z', seen: {} };
    const window = new PollWindow(start, { sorted: true, settledBefore: at('2026-03-01T09:00:00Z') });
    window.stored([{ key: 'Task/t/_history/2', lastUpdated: '2026-03-01T10:00:03Z' }]);
    expect(window.checkpoint(true).lastUpdated).toBe('2026-03-01T10:00:00Z');
  });
});
