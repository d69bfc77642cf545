import { permanentError, type CarelaneError } from '../../contracts/errors.ts';

/**
 * HIBCC's Health Industry Bar Code (ANSI/HIBC 2.6, "Supplier Labeling Standard"), the other UDI issuing agency
 * besides GS1 (FDA; FHIR NamingSystem hibcc). Data starts with '+' and ends with a mod-43 check character:
 * - primary: '+' LIC (4, first a letter) PCN (1–18 alphanumerics) U/M (1 digit) check;
 * - secondary, its own symbol: '+' data link check, where the link character is the primary's check character;
 * - concatenated: '+' primary '/' secondary-data check (no link character).
 * Secondary data: '$$' [8 qty(2) | 9 qty(5)] date lot; '$$+' … serial; '$' lot; '$+' serial; or the old
 * 5-digit Julian date YYJJJ followed by the lot. Date flags after '$$': 0/1 = MMYY (no flag), 2 MMDDYY,
 * 3 YYMMDD, 4 YYMMDDHH, 5 YYJJJ, 6 YYJJJHH, 7 no date. Supplemental fields follow as '/S' serial,
 * '/16D' manufacture date and '/14D' expiry as YYYYMMDD [K: HIBC 2.6 supplemental data identifiers].
 */

/** Code 39 character values used by the mod-43 check (ANSI/HIBC 2.6 appendix; ISO/IEC 16388). */
const CODE39 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-. $/+%';

export interface HibcData {
  kind: 'primary' | 'secondary' | 'concatenated';
  /** Labeler Identification Code */
  labelerId?: string;
  /** Product or Catalog Number */
  productNumber?: string;
  /** packaging level, 0–9 */
  unitOfMeasure?: number;
  /** the UDI-DI as FDA's GUDID and FHIR (system http://hl7.org/fhir/NamingSystem/hibcc-dI) use it: LIC + PCN + U/M */
  udiDi?: string;
  lot?: string;
  serial?: string;
  /** ISO date; a month-only expiry (MMYY) is its last day */
  expiryDate?: string;
  /** the hour of expiry when the date format carries one (flags 4 and 6) */
  expiryHour?: number;
  productionDate?: string;
  quantity?: number;
  /** secondary symbols: the primary's check character, which links the two labels */
  linkCharacter?: string;
  checkCharacter: string;
}

export function hibcCheckCharacter(data: string): string {
  let sum = 0;
  for (const [index, char] of [...data].entries()) {
    const value = CODE39.indexOf(char);
    if (value < 0) throw hibcError(`character ${JSON.stringify(char)} at position ${index + 1} is not in the HIBC character set`, 'hibc_charset', index + 1);
    sum += value;
  }
  return CODE39[sum % 43]!;
}

/** Symbology identifiers HIBC data arrives with (ISO/IEC 15424): Code 39, Code 128, Data Matrix, QR. */
const SCAN_PREFIX = /^\](A[0-9]|C0|d1|Q1)/;

export interface ParseHibcOptions {
  /** default true: a wrong check character is an error (a misread, or not HIBC) */
  verifyCheckCharacter?: boolean;
}

export function isHibc(text: string): boolean {
  return normalize(text).startsWith('+');
}

export function parseHibc(input: string, options: ParseHibcOptions = {}): HibcData {
  const text = normalize(input);
  if (!text.startsWith('+') || text.length < 3) throw hibcError('HIBC data starts with "+"', 'hibc_syntax', 1);
  const checkCharacter = text.at(-1)!;
  const data = text.slice(0, -1);
  const expected = hibcCheckCharacter(data);
  if (options.verifyCheckCharacter !== false && expected !== checkCharacter) {
    throw hibcError(`check character is ${JSON.stringify(checkCharacter)}, expected ${JSON.stringify(expected)}`, 'hibc_check_character', text.length);
  }
  const body = data.slice(1);
  if (/^[A-Z]/.test(body)) {
    const slash = body.indexOf('/');
    const primary = parsePrimary(slash < 0 ? body : body.slice(0, slash));
    if (slash < 0) return { kind: 'primary', ...primary, checkCharacter };
    return { kind: 'concatenated', ...primary, ...parseSecondary(body.slice(slash + 1), slash + 3), checkCharacter };
  }
  // A secondary symbol: the character before the check character links it to its primary.
  const linkCharacter = body.at(-1);
  if (!linkCharacter) throw hibcError('secondary HIBC data without a link character', 'hibc_syntax', text.length - 1);
  return { kind: 'secondary', ...parseSecondary(body.slice(0, -1), 2), linkCharacter, checkCharacter };
}

function parsePrimary(primary: string): Pick<HibcData, 'labelerId' | 'productNumber' | 'unitOfMeasure' | 'udiDi'> {
  if (!/^[A-Z][A-Z0-9]{3}[A-Z0-9]{1,18}[0-9]$/.test(primary)) {
    throw hibcError(`primary data ${JSON.stringify(primary)} is not LIC (4, a letter first) + product number (1–18) + unit of measure (digit)`, 'hibc_primary', 2);
  }
  return { labelerId: primary.slice(0, 4), productNumber: primary.slice(4, -1), unitOfMeasure: Number(primary.at(-1)), udiDi: primary };
}

type Secondary = Pick<HibcData, 'lot' | 'serial' | 'expiryDate' | 'expiryHour' | 'productionDate' | 'quantity'>;

function parseSecondary(secondary: string, offset: number): Secondary {
  const [main = '', ...supplemental] = secondary.split('/');
  const out: Secondary = {};
  let at = 0;
  const take = (length: number, what: string): string => {
    const value = main.slice(at, at + length);
    if (value.length !== length || !/^\d+$/.test(value)) throw hibcError(`${what} needs ${length} digits at position ${offset + at}`, 'hibc_secondary', offset + at);
    at += length;
    return value;
  };
  let identifier: 'lot' | 'serial' = 'lot';
  if (main.startsWith('$$')) {
    at = 2;
    if (main[at] === '+') {
      identifier = 'serial';
      at++;
    }
    if (main[at] === '8') {
      at++;
      out.quantity = Number(take(2, 'quantity'));
    } else if (main[at] === '9') {
      at++;
      out.quantity = Number(take(5, 'quantity'));
    }
    if (at < main.length) Object.assign(out, readDate(main, at, offset, (next) => (at = next)));
  } else if (main.startsWith('$')) {
    at = 1;
    if (main[at] === '+') {
      identifier = 'serial';
      at++;
    }
  } else if (/^\d{5}/.test(main)) {
    // The original secondary format: a 5-digit Julian date YYJJJ, then the lot.
    out.expiryDate = julian(take(5, 'Julian date'), offset);
  } else if (main !== '') {
    throw hibcError(`secondary data must start with "$$", "$" or a Julian date: ${JSON.stringify(main.slice(0, 8))}`, 'hibc_secondary', offset);
  }
  const rest = main.slice(at);
  if (rest) out[identifier] = rest;
  for (const field of supplemental) {
    if (field.startsWith('S')) out.serial = field.slice(1);
    else if (field.startsWith('16D')) out.productionDate = yyyymmdd(field.slice(3), offset);
    else if (field.startsWith('14D')) out.expiryDate = yyyymmdd(field.slice(3), offset);
    else throw hibcError(`unknown supplemental data field "/${field.slice(0, 4)}"`, 'hibc_secondary', offset);
  }
  return out;
}

function readDate(main: string, at: number, offset: number, advance: (next: number) => void): Pick<HibcData, 'expiryDate' | 'expiryHour'> {
  const flag = main[at]!;
  const digits = (from: number, length: number) => {
    const value = main.slice(from, from + length);
    if (value.length !== length || !/^\d+$/.test(value)) throw hibcError(`expiry date needs ${length} digits at position ${offset + from}`, 'hibc_date', offset + from);
    return value;
  };
  const date = (year: string, month: string, day?: string) => isoDate(2000 + Number(year), Number(month), day === undefined ? undefined : Number(day), offset + at);
  switch (flag) {
    case '0':
    case '1': {
      const v = digits(at, 4); // MMYY, no flag character
      advance(at + 4);
      return { expiryDate: date(v.slice(2), v.slice(0, 2)) };
    }
    case '2': {
      const v = digits(at + 1, 6); // MMDDYY
      advance(at + 7);
      return { expiryDate: date(v.slice(4), v.slice(0, 2), v.slice(2, 4)) };
    }
    case '3': {
      const v = digits(at + 1, 6); // YYMMDD
      advance(at + 7);
      return { expiryDate: date(v.slice(0, 2), v.slice(2, 4), v.slice(4)) };
    }
    case '4': {
      const v = digits(at + 1, 8); // YYMMDDHH
      advance(at + 9);
      return { expiryDate: date(v.slice(0, 2), v.slice(2, 4), v.slice(4, 6)), expiryHour: Number(v.slice(6)) };
    }
    case '5': {
      const v = digits(at + 1, 5); // YYJJJ
      advance(at + 6);
      return { expiryDate: julian(v, offset + at) };
    }
    case '6': {
      const v = digits(at + 1, 7); // YYJJJHH
      advance(at + 8);
      return { expiryDate: julian(v.slice(0, 5), offset + at), expiryHour: Number(v.slice(5)) };
    }
    case '7':
      advance(at + 1);
      return {};
    default:
      throw hibcError(`unknown date format flag ${JSON.stringify(flag)} after "$$"`, 'hibc_date', offset + at);
  }
}

function julian(yyjjj: string, position: number): string {
  const year = 2000 + Number(yyjjj.slice(0, 2));
  const day = Number(yyjjj.slice(2));
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day < 1 || day > (leap ? 366 : 365)) throw hibcError(`Julian day ${day} does not exist in ${year}`, 'hibc_date', position);
  return new Date(Date.UTC(year, 0, day)).toISOString().slice(0, 10);
}

function yyyymmdd(value: string, position: number): string {
  if (!/^\d{8}$/.test(value)) throw hibcError(`date ${JSON.stringify(value)} is not YYYYMMDD`, 'hibc_date', position);
  return isoDate(Number(value.slice(0, 4)), Number(value.slice(4, 6)), Number(value.slice(6)), position);
}

function isoDate(year: number, month: number, day: number | undefined, position: number): string {
  if (month < 1 || month > 12) throw hibcError(`month ${month} does not exist`, 'hibc_date', position);
  const last = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const d = day ?? last;
  if (d < 1 || d > last) throw hibcError(`day ${d} does not exist in ${year}-${String(month).padStart(2, '0')}`, 'hibc_date', position);
  return `${year}-${String(month).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

/** Drops a symbology identifier and Code 39's '*' start/stop characters printed in human-readable text. */
function normalize(text: string): string {
  return text.trim().replace(SCAN_PREFIX, '').replace(/^\*(.*)\*$/, '$1');
}

function hibcError(message: string, code: string, position: number): CarelaneError {
  return permanentError(`HIBC: ${message}`, { code, where: { position } });
}
