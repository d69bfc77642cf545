import { describe, expect, it } from 'vitest';
import { poNameIn } from './exceptions.ts';

describe('the purchase order an exception names', () => {
  it('is read under every key the flows write it with', () => {
    expect(poNameIn({ poName: 'P00042' })).toBe('P00042'); // invoice match
    expect(poNameIn({ poNumber: 'P00043' })).toBe('P00043'); // X12 acknowledgment delays
    expect(poNameIn({ po: 'P00044', poKey: 'po:north:7:2026-11-24T10:00:00.000Z' })).toBe('P00044'); // supplier-cycle delays, receipts
    expect(poNameIn({ po: '' })).toBeUndefined();
    expect(poNameIn(null)).toBeUndefined();
  });
});
