import { permanentError, type CarelaneError } from '../../contracts/errors.ts';
import { hasValidCheckDigit } from './check-digit.ts';

/**
 * GS1 element strings (GS1 General Specifications section 3 "Application Identifier definitions" and 7.8
 * "Concatenation"; AI formats as in the GS1 Barcode Syntax Dictionary). Reads the bracketed human form
 * "(01)…(17)…(10)…", unbracketed data with FNC1 written '^' or GS (0x1D), and scanner output prefixed by a
 * symbology identifier. Pure.
 */

interface AiFormat {
  /** N numeric, X CSET 82 */
  type: 'N' | 'X';
  min: number;
  max: number;
  /** the AI has a predefined length and is never followed by FNC1 (General Specifications figure 7.8.5-2) */
  fixed: boolean;
  checkDigit?: boolean;
  /** N6 date YYMMDD; 'yymmd0' allows DD = 00 ("end of month", General Specifications 3.4.x for AIs 11-17) */
  date?: 'yymmd0';
  title: string;
}

const fixedN = (length: number, title: string, extra: Partial<AiFormat> = {}): AiFormat => ({ type: 'N', min: length, max: length, fixed: true, title, ...extra });

/** The AIs Carelane reads. Others are refused by name so that nothing is silently misread. */
export const AI_FORMATS: Record<string, AiFormat> = {
  '00': fixedN(18, 'SSCC', { checkDigit: true }),
  '01': fixedN(14, 'GTIN', { checkDigit: true }),
  '02': fixedN(14, 'CONTENT', { checkDigit: true }),
  '10': { type: 'X', min: 1, max: 20, fixed: false, title: 'BATCH/LOT' },
  '11': fixedN(6, 'PROD DATE', { date: 'yymmd0' }),
  '15': fixedN(6, 'BEST BEFORE', { date: 'yymmd0' }),
  '17': fixedN(6, 'USE BY or EXPIRY', { date: 'yymmd0' }),
  '21': { type: 'X', min: 1, max: 20, fixed: false, title: 'SERIAL' },
  '30': { type: 'N', min: 1, max: 8, fixed: false, title: 'VAR. COUNT' },
  '37': { type: 'N', min: 1, max: 8, fixed: false, title: 'COUNT' },
  '90': { type: 'X', min: 1, max: 30, fixed: false, title: 'INTERNAL' },
  ...Object.fromEntries(['91', '92', '93', '94', '95', '96', '97', '98', '99'].map((ai) => [ai, { type: 'X', min: 1, max: 90, fixed: false, title: 'INTERNAL' } satisfies AiFormat])),
};

/** GS1 AI encodable character set 82 (General Specifications figure 7.11-1). */
const CSET82 = /^[!"%&'()*+,\-./0-9:;<=>?A-Z_a-z]+$/;
const GS = '\u001d';

export interface Gs1Element {
  ai: string;
  value: string;
}

function gs1Error(message: string, code: string, field?: string): CarelaneError {
  return permanentError(message, { code, ...(field ? { where: { field } } : {}) });
}

function validateElement(ai: string, value: string): void {
  const format = AI_FORMATS[ai];
  if (!format) throw gs1Error(`AI (${ai}) is not supported`, 'gs1_ai_unknown', ai);
  if (value === '') throw gs1Error(`AI (${ai}) has no value`, 'gs1_value_empty', ai);
  if (value.length < format.min || value.length > format.max) {
    throw gs1Error(`AI (${ai}) ${format.title} must be ${format.min === format.max ? format.min : `${format.min} to ${format.max}`} characters, got ${value.length}`, 'gs1_value_length', ai);
  }
  if (format.type === 'N' ? !/^\d+$/.test(value) : !CSET82.test(value)) throw gs1Error(`AI (${ai}) has characters outside ${format.type === 'N' ? 'digits' : 'CSET 82'}: ${JSON.stringify(value)}`, 'gs1_value_charset', ai);
  if (format.checkDigit && !hasValidCheckDigit(value)) throw gs1Error(`AI (${ai}) ${value} has a wrong check digit`, 'gs1_check_digit', ai);
  if (format.date && !isValidGs1Date(value)) throw gs1Error(`AI (${ai}) ${value} is not a date YYMMDD`, 'gs1_date_invalid', ai);
}

function isValidGs1Date(yymmdd: string): boolean {
  const month = Number(yymmdd.slice(2, 4));
  const day = Number(yymmdd.slice(4, 6));
  if (month < 1 || month > 12) return false;
  if (day === 0) return true;
  // Leap years by the full year of the century rule (2000 is a leap year, 2100 is not).
  const year = resolveCentury(Number(yymmdd.slice(0, 2)));
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * Century of a YY (General Specifications 7.12 "Determination of century in dates"): a year 51 or more ahead of
 * the current one is in the previous century, 50 or more behind in the next.
 */
export function resolveCentury(yy: number, now: Date = new Date()): number {
  const current = now.getUTCFullYear();
  const century = Math.floor(current / 100) * 100;
  const diff = yy - (current % 100);
  if (diff >= 51) return century - 100 + yy;
  if (diff <= -50) return century + 100 + yy;
  return century + yy;
}

/** A YYMMDD AI value as an ISO date; DD = 00 means the last day of that month. */
export function gs1DateToIso(yymmdd: string, now: Date = new Date()): string {
  const year = resolveCentury(Number(yymmdd.slice(0, 2)), now);
  const month = Number(yymmdd.slice(2, 4));
  const day = Number(yymmdd.slice(4, 6)) || new Date(Date.UTC(year, month, 0)).getUTCDate();
  return `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/** "(01)09506000134352(17)201225(10)ABC" → elements. A backslash escapes a data '(' (syntax engine convention). */
export function parseBracketed(text: string): Gs1Element[] {
  if (!text.startsWith('(')) throw gs1Error('bracketed element string must start with "(AI)"', 'gs1_syntax');
  const elements: Gs1Element[] = [];
  let at = 0;
  while (at < text.length) {
    const close = text.indexOf(')', at);
    if (text[at] !== '(' || close < 0) throw gs1Error(`expected "(AI)" at position ${at + 1}`, 'gs1_syntax');
    const ai = text.slice(at + 1, close);
    if (!/^\d{2,4}$/.test(ai)) throw gs1Error(`"${ai}" is not an AI`, 'gs1_syntax');
    let value = '';
    at = close + 1;
    while (at < text.length && text[at] !== '(') {
      if (text[at] === '\\' && text[at + 1] === '(') {
        value += '(';
        at += 2;
      } else {
        value += text[at];
        at++;
      }
    }
    // '^' stands for FNC1 in unbracketed data: a literal one would be read back as a separator.
    if (value.includes('^')) throw gs1Error(`AI (${ai}) value contains "^", which is reserved for FNC1`, 'gs1_value_charset', ai);
    validateElement(ai, value);
    elements.push({ ai, value });
  }
  return elements;
}

/**
 * Unbracketed AI data: FNC1 as '^' (leading FNC1 optional) or GS. Predefined-length AIs end by their length,
 * the others at the next FNC1 or the end (General Specifications 7.8.5).
 */
export function parseUnbracketed(data: string): Gs1Element[] {
  const text = data.replaceAll(GS, '^').replace(/^\^/, '');
  if (text === '') throw gs1Error('no GS1 data', 'gs1_empty');
  const elements: Gs1Element[] = [];
  let at = 0;
  while (at < text.length) {
    const ai = [2, 3, 4].map((n) => text.slice(at, at + n)).find((candidate) => AI_FORMATS[candidate] !== undefined);
    if (!ai) throw gs1Error(`no supported AI at position ${at + 1}: ${JSON.stringify(text.slice(at, at + 4))}`, 'gs1_ai_unknown');
    const format = AI_FORMATS[ai]!;
    at += ai.length;
    let value: string;
    if (format.fixed) {
      value = text.slice(at, at + format.max);
      at += format.max;
      if (text[at] === '^') at++; // a superfluous FNC1 after a fixed-length AI is tolerated
    } else {
      const end = text.indexOf('^', at);
      value = text.slice(at, end < 0 ? text.length : end);
      at = end < 0 ? text.length : end + 1;
    }
    validateElement(ai, value);
    elements.push({ ai, value });
  }
  return elements;
}

/** Writes elements unbracketed with '^' for FNC1 (leading FNC1, then one after each variable-length AI but the last). */
export function toUnbracketed(elements: Gs1Element[]): string {
  return '^' + elements.map((e, i) => e.ai + e.value + (!AI_FORMATS[e.ai]?.fixed && i < elements.length - 1 ? '^' : '')).join('');
}

export function toBracketed(elements: Gs1Element[]): string {
  return elements.map((e) => `(${e.ai})${e.value.replaceAll('(', '\\(')}`).join('');
}

/**
 * Symbology identifiers that carry GS1 AI element strings (ISO/IEC 15424; General Specifications 5.1.2):
 * ]C1 GS1-128, ]d2 GS1 DataMatrix, ]Q3 GS1 QR Code, ]e0 GS1 DataBar, ]J1 GS1 DotCode.
 */
const GS1_SYMBOLOGIES: Record<string, string> = { ']C1': 'GS1-128', ']d2': 'GS1 DataMatrix', ']Q3': 'GS1 QR Code', ']e0': 'GS1 DataBar', ']J1': 'GS1 DotCode' };

export function parseScanData(scan: string): { symbology: string; elements: Gs1Element[] } {
  const prefix = scan.slice(0, 3);
  const symbology = GS1_SYMBOLOGIES[prefix];
  if (!symbology) throw gs1Error(`scan data does not start with a GS1 symbology identifier (]C1, ]d2, ]Q3, ]e0, ]J1): ${JSON.stringify(prefix)}`, 'gs1_symbology_unknown');
  const data = scan.slice(3);
  // In scan data a literal '^' is data, not FNC1; only GS separates.
  if (data.includes('^')) throw gs1Error('scan data contains "^", which cannot be an AI value character', 'gs1_value_charset');
  return { symbology, elements: parseUnbracketed(data) };
}

/** What a receiving flow needs from a GS1 element string, dates resolved to ISO. */
export interface Gs1ProductData {
  gtin?: string;
  sscc?: string;
  lot?: string;
  serial?: string;
  expiryDate?: string;
  productionDate?: string;
  bestBeforeDate?: string;
  variableCount?: number;
  count?: number;
}

export function interpretElements(elements: Gs1Element[], now: Date = new Date()): Gs1ProductData {
  const data: Gs1ProductData = {};
  for (const { ai, value } of elements) {
    if (ai === '01' || ai === '02') data.gtin ??= value;
    else if (ai === '00') data.sscc = value;
    else if (ai === '10') data.lot = value;
    else if (ai === '21') data.serial = value;
    else if (ai === '17') data.expiryDate = gs1DateToIso(value, now);
    else if (ai === '11') data.productionDate = gs1DateToIso(value, now);
    else if (ai === '15') data.bestBeforeDate = gs1DateToIso(value, now);
    else if (ai === '30') data.variableCount = Number(value);
    else if (ai === '37') data.count = Number(value);
  }
  return data;
}
