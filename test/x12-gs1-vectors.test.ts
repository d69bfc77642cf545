import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AI_FORMATS, hasValidCheckDigit, parseBracketed, parseDigitalLink, parseScanData, parseUnbracketed, toUnbracketed } from '../src/connectors/gs1/index.ts';

/**
 * EVERY vector of the GS1 Syntax Engine test suite (realdata/gs1/gs1-syntax-engine, the reference
 * implementation of the GS1 Barcode Syntax Dictionary) is either checked against Carelane's GS1 reader or
 * skipped for a reason named here — never silently. A vector is skipped only when:
 * - it tests a function of the engine Carelane does not have (error markup, AI lookup helpers, URI escaping,
 *   generating scan data or Digital Link URIs from element strings, GCP-length linting), or its input is a C
 *   expression not carried in the JSON;
 * - it uses an AI Carelane does not read (AI_FORMATS lists the ones it does: Carelane refuses unknown AIs
 *   by name rather than guessing their format);
 * - it tests a rule Carelane does not enforce (AI association rules: requisites, mutual exclusions, repeats).
 * The test fails when a vector has no verdict and no reason, or when a checked vector disagrees.
 */

interface Vector { fn: string; line: number; args: unknown[]; comment: string | null }
const FILE = path.resolve(import.meta.dirname, '../../shared/realdata/gs1/gs1-syntax-engine/gs1-syntax-engine-test-vectors.json');
const vectors = (JSON.parse(readFileSync(FILE, 'utf8')) as { vectors: Record<string, Vector[]> }).vectors;

type Verdict = { check: () => void; deviation?: string } | { skip: string };
const isCExpr = (value: unknown) => typeof value === 'object' && value !== null && 'c_expr' in value;
const throws = (f: () => unknown): boolean => {
  try {
    f();
    return false;
  } catch {
    return true;
  }
};
const aisIn = (bracketed: string) => [...bracketed.matchAll(/\((\d{2,4})\)/g)].map((m) => m[1]!);
const unsupported = (ais: string[]) => [...new Set(ais.filter((ai) => AI_FORMATS[ai] === undefined))];
/** AIs named in unbracketed data that Carelane refuses: the first unknown AI stops parsing (gs1_ai_unknown names it). */
function unknownAiOf(parse: () => unknown): string | undefined {
  try {
    parse();
    return undefined;
  } catch (error) {
    const e = error as { code?: string; where?: { field?: string } };
    return e.code === 'gs1_ai_unknown' ? (e.where?.field ?? '?') : undefined;
  }
}

/** AIs a Digital Link URI names: numeric path segments in key positions and numeric query keys. */
function aisInUri(uri: string): string[] {
  const match = /^https?:\/\/[^/]+(\/[^?#]*)?(\?[^#]*)?/i.exec(uri);
  const segments = (match?.[1] ?? '').split('/').filter(Boolean);
  const start = segments.findIndex((s) => /^\d{2,4}$/.test(s));
  const pathAis = start < 0 ? [] : segments.slice(start).filter((_, i) => i % 2 === 0).filter((s) => /^\d{2,4}$/.test(s));
  const queryAis = (match?.[2] ?? '').slice(1).split('&').map((p) => p.split('=')[0]!).filter((k) => /^\d{2,4}$/.test(k));
  return [...pathAis, ...queryAis];
}

/**
 * Vectors where Carelane's GS1 reader (src/connectors/gs1) differs from the engine today. Each is asserted to
 * still differ, so fixing the reader makes this test say which entry to remove.
 */
const KNOWN_DEVIATIONS: Record<string, string> = {
  'ai.c:1708': 'parseUnbracketed accepts data without a leading FNC1 ("991234"): lenient on purpose for hand-typed data',
  'dl.c:1392': 'IPv6 zone id in the host is accepted (Carelane only checks the scheme and path)',
  'dl.c:1437': 'convenience alpha "/gtin/" (older Digital Link versions) is not read',
  'dl.c:1438': 'convenience alphas "/gtin/…/ser/" (older Digital Link versions) are not read',
  'dl.c:1439': 'convenience alpha "/sscc/" (older Digital Link versions) is not read',
  'dl.c:1454': 'a GTIN-13 in /01/ is accepted (and padded); Digital Link 1.2 requires the 14-digit form',
  'dl.c:1464': 'a GTIN-12 in /01/ is accepted (and padded); Digital Link 1.2 requires the 14-digit form',
  'dl.c:1474': 'a GTIN-8 in /01/ is accepted (and padded); Digital Link 1.2 requires the 14-digit form',
  'dl.c:1553': 'a numeric query key that is not an AI (999) is ignored instead of refused',
  'dl.c:1730': 'a key qualifier (10) in the query instead of the path is accepted',
  'dl.c:1740': 'an AI repeated in path and query (01) is not refused',
  'dl.c:1744': 'an AI repeated in path and query (10) is not refused',
  'dl.c:1748': 'an AI repeated in the query (99) is not refused',
  'dl.c:1757': 'outcome depends on an engine option set in C (unknown AIs not permitted); 1767 is the same URI with it permitted',
  'dl.c:1763': 'outcome depends on an engine option set in C (unknown AIs not permitted); 1767 is the same URI with it permitted',
};

const ENGINE_ONLY: Record<string, string> = {
  test_existsInAIdata: 'engine helper (search an AI in parsed data): no Carelane counterpart',
  test_errMarkup: 'engine error markup "|X|": Carelane errors name the AI and the reason instead',
  test_URIunescape: 'engine URI unescape helper: Carelane uses decodeURIComponent',
  test_URIescape: 'engine URI escape helper: Carelane uses encodeURIComponent',
  test_testGenerateScanData: 'generating scan data for symbologies: Carelane reads scans, it does not print barcodes',
  test_testGenerateDLuri: 'generating Digital Link URIs from arbitrary element strings: Carelane writes only GTIN/lot/serial/expiry URIs (toDigitalLink)',
};

function verdict(file: string, v: Vector): Verdict {
  const deviation = KNOWN_DEVIATIONS[`${file}:${v.line}`];
  if (deviation) return { deviation, check: checkOf(file, v) };
  return verdictOf(file, v);
}
function checkOf(file: string, v: Vector): () => void {
  const found = verdictOf(file, v, true);
  if (!('check' in found)) throw new Error(`deviation ${file}:${v.line} is not a checkable vector`);
  return found.check;
}

/** `force`: check even a vector that names an AI Carelane does not read (the known deviations) */
function verdictOf(file: string, v: Vector, force = false): Verdict {
  const a = v.args;
  if (ENGINE_ONLY[v.fn]) return { skip: ENGINE_ONLY[v.fn]! };
  if (a.some((x, i) => isCExpr(x) && !((i === 0 || i === 2) && file.startsWith('lint_')) && !(file === 'scandata.c' && i === 2) && !(file === 'ai.c' && v.fn === 'test_validateAIs' && i === 1))) return { skip: 'input is a C expression, not carried in the JSON' };
  const pass = v.fn === 'UNIT_TEST_PASS';
  switch (file) {
    case 'lint_csum.c':
      return { check: () => expect(hasValidCheckDigit(String(a[1]))).toBe(pass) };
    case 'lint_cset82.c': {
      const value = String(a[1]);
      if (value === '') return { skip: 'empty value: Carelane refuses an empty AI value before the character-set check' };
      // AI (91) is CSET 82, 1..90 characters; bracketed input, since '^' would be read as FNC1 in unbracketed data.
      if (value.length > 90 || value.includes('(')) return { skip: 'value longer than AI (91) allows or containing "(" (bracketed syntax): no CSET 82 AI can carry it in Carelane\'s reader' };
      return { check: () => expect(throws(() => parseBracketed(`(91)${value}`))).toBe(!pass) };
    }
    case 'lint_yymmd0.c':
      return { check: () => expect(throws(() => parseBracketed(`(17)${String(a[1])}`))).toBe(!pass) };
    case 'lint_yymmdd.c': {
      const value = String(a[1]);
      // AIs (11) (15) (17) are YYMMD0 (DD = 00 means end of month); Carelane reads no AI with the strict YYMMDD format.
      if (/^\d{4}00$/.test(value)) return { skip: 'DD = 00: valid for the YYMMD0 AIs Carelane reads, invalid only for strict-YYMMDD AIs (e.g. (7006)) Carelane does not read' };
      return { check: () => expect(throws(() => parseBracketed(`(17)${value}`))).toBe(!pass) };
    }
    case 'lint_gcppos1.c':
      return { skip: 'GS1 Company Prefix position linter needs the GCP length table: Carelane does not lint GCPs' };
    case 'ai.c': {
      if (v.fn === 'test_validateAIs') {
        const missing = unsupported(aisIn(String(a[2])));
        return { skip: missing.length ? `AI not read by Carelane: ${missing.join(' ')}` : 'AI association rules (requisites, exclusions, repeats) are not enforced by Carelane' };
      }
      const ok = a[0] as boolean;
      const input = String(a[1]);
      if (v.fn === 'test_parseAIdata') {
        const missing = unsupported(aisIn(input));
        if (missing.length) return { skip: `AI not read by Carelane: ${missing.join(' ')}` };
        return { check: () => (ok ? expect(toUnbracketed(parseBracketed(input))).toBe(String(a[2])) : expect(() => parseBracketed(input)).toThrow()) };
      }
      // test_processAIdata: unbracketed data with '^' as FNC1
      const unknown = unknownAiOf(() => parseUnbracketed(input));
      if (unknown) return { skip: `AI not read by Carelane: ${unknown}` };
      return { check: () => (ok ? expect(() => parseUnbracketed(input)).not.toThrow() : expect(() => parseUnbracketed(input)).toThrow()) };
    }
    case 'dl.c': {
      const ok = a[0] as boolean;
      const uri = String(a[1]);
      const missing = unsupported(aisInUri(uri));
      if (missing.length && !force) return { skip: `AI not read by Carelane: ${missing.join(' ')}` };
      return { check: () => (ok ? expect(toUnbracketed(parseDigitalLink(uri))).toBe(String(a[2])) : expect(() => parseDigitalLink(uri)).toThrow()) };
    }
    case 'scandata.c': {
      const ok = a[0] as boolean;
      const scan = String(a[1]);
      // ]Q1 ]d1 ]J0 carry plain (non-GS1) data, ]E0/]E4 are EAN-13/EAN-8: the engine returns their raw data.
      if (ok && !/^\](C1|d2|Q3|e0|J1)/.test(scan)) return { skip: 'not a GS1 element-string symbology (plain-data QR/DataMatrix/DotCode or EAN/UPC): Carelane reads GS1-128, GS1 DataMatrix/QR/DotCode and DataBar only' };
      const unknown = unknownAiOf(() => parseScanData(scan));
      if (unknown) return { skip: `AI not read by Carelane: ${unknown}` };
      return { check: () => (ok ? expect(toUnbracketed(parseScanData(scan).elements)).toBe(String(a[3])) : expect(() => parseScanData(scan)).toThrow()) };
    }
  }
  return { skip: `no rule for ${file} ${v.fn}` };
}

// A vector Carelane refuses only because of an AI it does not read proves nothing about the vector's own rule
// (even when the engine also refuses it): it counts as skipped, with the AI named.
const all = Object.entries(vectors).flatMap(([file, list]) => list.map((v) => ({ file, v, name: `${file}:${v.line} ${v.fn} ${JSON.stringify(v.args.filter((x) => !isCExpr(x)))}`.slice(0, 200), verdict: verdict(file, v) })));
const checked = all.filter((x): x is typeof x & { verdict: { check: () => void } } => 'check' in x.verdict && !x.verdict.deviation);
const deviating = all.filter((x): x is typeof x & { verdict: { check: () => void; deviation: string } } => 'check' in x.verdict && x.verdict.deviation !== undefined);
const skipped = all.filter((x): x is typeof x & { verdict: { skip: string } } => 'skip' in x.verdict);

describe('GS1 Syntax Engine vectors', () => {
  it.each(checked.map((x) => ({ name: x.name, check: x.verdict.check })))('$name', ({ check }) => check());

  it.each(deviating.map((x) => ({ name: x.name, check: x.verdict.check, why: x.verdict.deviation })))('known deviation, still differs: $name — $why', ({ check }) => {
    expect(check).toThrow();
  });

  it('skips only for a named reason, and reports them', () => {
    expect(skipped.filter((x) => x.verdict.skip.startsWith('no rule'))).toEqual([]);
    const tally = new Map<string, number>();
    for (const x of skipped) {
      const reason = x.verdict.skip.startsWith('AI not read') ? 'AI not read by Carelane' : x.verdict.skip;
      tally.set(reason, (tally.get(reason) ?? 0) + 1);
    }
    const missingAis = [...new Set(skipped.flatMap((x) => (x.verdict.skip.startsWith('AI not read') ? x.verdict.skip.split(': ')[1]!.split(' ') : [])))].sort();
    console.info(`GS1 vectors: ${all.length} total, ${checked.length} checked, ${deviating.length} known deviations, ${skipped.length} skipped\n${[...tally].map(([r, n]) => `  ${n}  ${r}`).join('\n')}\n  AIs not read: ${missingAis.join(' ')}`);
    expect(checked.length + deviating.length + skipped.length).toBe(all.length);
  });
});
