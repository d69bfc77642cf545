import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { computeCheckDigit, isValidGln, isValidGtin, toGtin14 } from './check-digit.ts';
import { parseDigitalLink, toDigitalLink } from './digital-link.ts';
import { AI_FORMATS, gs1DateToIso, interpretElements, parseBracketed, parseScanData, parseUnbracketed, toUnbracketed } from './element-string.ts';

const VECTORS = path.resolve(import.meta.dirname, '../../../../shared/realdata/gs1/gs1-syntax-engine/gs1-syntax-engine-test-vectors.json');
interface Vector { fn: string; args: unknown[]; comment: string | null }
const vectors = (JSON.parse(readFileSync(VECTORS, 'utf8')) as { vectors: Record<string, Vector[]> }).vectors;

/** Vectors apply when every AI they use is one Carelane supports (others are refused by design). */
const aisOf = (text: string) => [...text.matchAll(/\((\d+)\)/g)].map((m) => m[1]!);
const supported = (ais: string[]) => ais.length > 0 && ais.every((ai) => AI_FORMATS[ai] !== undefined);

describe('GS1 check digits', () => {
  it('computes and validates GTIN-8/12/13/14, GLN and SSCC check digits', () => {
    expect(computeCheckDigit('950600013435')).toBe(2); // GTIN-13 9506000134352 (GS1 General Specifications example)
    expect(isValidGtin('9506000134352')).toBe(true);
    expect(isValidGtin('9506000134353')).toBe(false);
    expect(isValidGtin('02345673')).toBe(true); // GTIN-8 from the syntax engine vectors
    expect(isValidGtin('614141123452')).toBe(true); // GTIN-12
    expect(toGtin14('614141123452')).toBe('00614141123452');
    expect(toGtin14('12345')).toBeUndefined();
    expect(isValidGln('0614141000005')).toBe(true);
    expect(isValidGln('0614141000006')).toBe(false);
  });

  it.each(vectors['lint_csum.c']!.map((v) => ({ fn: v.fn, value: String(v.args[1]) })).filter((v) => /^\d+$/.test(v.value)))('agrees with the syntax engine csum linter on $value ($fn)', ({ fn, value }) => {
    expect(value.length > 1 && computeCheckDigit(value.slice(0, -1)) === Number(value.at(-1))).toBe(fn === 'UNIT_TEST_PASS');
  });
});

describe('GS1 element strings', () => {
  const parseVectors = vectors['ai.c']!.filter((v) => v.fn === 'test_parseAIdata' && supported(aisOf(String(v.args[1]))));
  it('finds applicable syntax-engine vectors', () => expect(parseVectors.length).toBeGreaterThanOrEqual(8));

  it.each(parseVectors.map((v) => ({ ok: v.args[0] as boolean, input: String(v.args[1]), expected: String(v.args[2]), why: v.comment ?? '' })))(
    'bracketed $input → ok=$ok $why',
    ({ ok, input, expected }) => {
      if (ok) expect(toUnbracketed(parseBracketed(input))).toBe(expected);
      else expect(() => parseBracketed(input)).toThrow();
    },
  );

  // AI (235) is not one Carelane reads: vectors about it are left out.
  const scanVectors = vectors['scandata.c']!.filter((v) => v.fn === 'test_testProcessScanData' && !(v.comment ?? '').includes('(235)') && /^\][CdQeJ]/.test(String(v.args[1])) && ['C1', 'd2', 'Q3', 'e0', 'J1'].includes(String(v.args[1]).slice(1, 3)));
  it.each(scanVectors.map((v) => ({ ok: v.args[0] as boolean, scan: String(v.args[1]), expected: String(v.args[3]) })).filter((v) => !v.ok || v.expected.split('^').filter(Boolean).every((part) => ['01', '10', '99', '98', '97', '11'].some((ai) => part.startsWith(ai)))))(
    'scan data $scan → ok=$ok',
    ({ ok, scan, expected }) => {
      if (ok) expect(toUnbracketed(parseScanData(scan).elements)).toBe(expected);
      else expect(() => parseScanData(scan)).toThrow();
    },
  );

  it('reads a GS1-128 scan with FNC1 as GS and resolves DD=00 to the end of the month', () => {
    const { symbology, elements } = parseScanData(']C1010950600013435217250200\u001d10LOT-7\u001d2112345');
    expect(symbology).toBe('GS1-128');
    const now = new Date('2026-01-01T00:00:00Z');
    expect(interpretElements(elements, now)).toEqual({ gtin: '09506000134352', expiryDate: '2025-02-28', lot: 'LOT-7', serial: '12345' });
    expect(gs1DateToIso('240200', now)).toBe('2024-02-29');
    expect(parseUnbracketed('^01095060001343523000000012^3724')).toEqual([{ ai: '01', value: '09506000134352' }, { ai: '30', value: '00000012' }, { ai: '37', value: '24' }]);
  });

  it('refuses a wrong check digit, a bad date and an unknown symbology with the reason', () => {
    expect(() => parseBracketed('(01)09506000134353')).toThrow(expect.objectContaining({ code: 'gs1_check_digit' }));
    expect(() => parseBracketed('(01)09506000134352(17)251301')).toThrow(expect.objectContaining({ code: 'gs1_date_invalid' }));
    expect(() => parseScanData(']X1010950600013435')).toThrow(expect.objectContaining({ code: 'gs1_symbology_unknown' }));
  });
});

describe('GS1 Digital Link', () => {
  const dlVectors = vectors['dl.c']!.filter((v) => v.fn === 'test_parseDLuri').map((v) => ({ ok: v.args[0] as boolean, uri: String(v.args[1]), expected: String(v.args[2]), why: v.comment ?? '' }));
  // Apply the vectors whose AIs are all supported and whose path uses only the primary keys 00/01.
  const applicable = dlVectors.filter((v) => {
    const ais = [...v.expected.matchAll(/\^?(\d{2})/g)].length > 0 ? v.uri.split(/[/?&=]/).filter((s) => /^\d{2,4}$/.test(s)) : [];
    return v.ok && /^https?:\/\/[^/]+\/(00|01)\//i.test(v.uri) && !v.uri.includes('%') && ais.every((ai) => AI_FORMATS[ai] !== undefined) && !/[?&][a-z]/i.test(v.uri);
  });
  it('finds applicable syntax-engine vectors', () => expect(applicable.length).toBeGreaterThanOrEqual(5));
  it.each(applicable)('parses $uri', ({ uri, expected }) => {
    expect(toUnbracketed(parseDigitalLink(uri))).toBe(expected);
  });
  it.each(dlVectors.filter((v) => !v.ok && v.uri !== '' && !/\/(0[0-9]|[1-9]\d)\/\d/.test(v.uri)))('refuses $uri ($why)', ({ uri }) => {
    expect(() => parseDigitalLink(uri)).toThrow();
  });

  it('reads the brief\'s example and writes it back', () => {
    const uri = 'https://id.gs1.org/01/09506000134352/10/ABC%2F1?17=260500';
    const elements = parseDigitalLink(uri);
    expect(interpretElements(elements, new Date('2026-01-01T00:00:00Z'))).toEqual({ gtin: '09506000134352', lot: 'ABC/1', expiryDate: '2026-05-31' });
    expect(toDigitalLink({ gtin: '09506000134352', lot: 'ABC/1', expiry: '260500' })).toBe(uri);
  });
});
