import { toGtin14 } from '../gs1/check-digit.ts';
import { permanentError } from '../../contracts/errors.ts';
import type { Party, ProductIds } from './canonical.ts';
import type { TransactionSet } from './envelope.ts';
import type { X12Segment } from './tokenizer.ts';

/** Small readers the mapping modules share. */

export const el = (segment: X12Segment, position: number): string => segment.elements[position] ?? '';
export const optional = (segment: X12Segment, position: number): string | undefined => el(segment, position) || undefined;

/** CCYYMMDD or YYMMDD (versions before 004010) to ISO; YY < 50 is read as 20YY. */
export function isoDate(value: string): string {
  if (/^\d{8}$/.test(value)) return `${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6, 8)}`;
  if (/^\d{6}$/.test(value)) return `${Number(value.slice(0, 2)) < 50 ? '20' : '19'}${value.slice(0, 2)}-${value.slice(2, 4)}-${value.slice(4, 6)}`;
  return value;
}

export function numberOf(segment: X12Segment, position: number): number | undefined {
  const value = el(segment, position);
  return value === '' ? undefined : Number(value);
}

/** Implied two decimals (N2, e.g. TDS01 '255438' = 2554.38) as a decimal string. */
export function impliedDecimal2(value: string): string {
  const negative = value.startsWith('-');
  const digits = value.replace('-', '').padStart(3, '0');
  return `${negative ? '-' : ''}${digits.slice(0, -2).replace(/^0+(?=\d)/, '')}.${digits.slice(-2)}`;
}

/** Qualifiers whose value is a GTIN in one of its forms (data element 235). */
const GTIN_QUALIFIERS = new Set(['UK', 'EN', 'UP', 'UA', 'UI', 'EA', 'UD']);
const VENDOR_QUALIFIERS = ['VN', 'VP', 'VA', 'SK'];
const BUYER_QUALIFIERS = ['BP', 'IN', 'CB'];

/** Reads qualifier/value pairs from `first` (a qualifier position) to `last`. */
export function productIds(segment: X12Segment, first: number, last: number): ProductIds {
  const all: ProductIds['all'] = [];
  for (let p = first; p < last; p += 2) {
    const qualifier = el(segment, p);
    const value = el(segment, p + 1);
    if (qualifier && value) all.push({ qualifier, value });
  }
  const ids: ProductIds = { all };
  for (const { qualifier, value } of all) {
    if (!ids.gtin && GTIN_QUALIFIERS.has(qualifier)) {
      const gtin = toGtin14(value);
      if (gtin) ids.gtin = gtin;
    }
  }
  const vendor = VENDOR_QUALIFIERS.map((q) => all.find((a) => a.qualifier === q)).find((a) => a !== undefined);
  if (vendor) ids.vendorPartNumber = vendor.value;
  const buyer = BUYER_QUALIFIERS.map((q) => all.find((a) => a.qualifier === q)).find((a) => a !== undefined);
  if (buyer) ids.buyerPartNumber = buyer.value;
  return ids;
}

export function party(n1: X12Segment): Party {
  return {
    role: el(n1, 1),
    ...(optional(n1, 2) ? { name: el(n1, 2) } : {}),
    ...(optional(n1, 3) ? { idQualifier: el(n1, 3) } : {}),
    ...(optional(n1, 4) ? { id: el(n1, 4) } : {}),
  };
}

/** The body of a transaction set (without ST and SE) with each segment's position (ST = 1). */
export function body(transaction: TransactionSet): Array<{ segment: X12Segment; position: number }> {
  const end = transaction.segments.at(-1)?.id === 'SE' ? -1 : undefined;
  return transaction.segments.slice(1, end).map((segment, i) => ({ segment, position: i + 2 }));
}

/** A mandatory value the mapping needs, else a precise permanent error. */
export function required(segment: X12Segment, position: number, what: string, segmentPosition: number): string {
  const value = el(segment, position);
  if (value === '') {
    const field = `${segment.id}${String(position).padStart(2, '0')}`;
    throw permanentError(`${field} (${what}) is empty`, { code: 'x12_element_missing', where: { segment: segment.id, field, line: segment.line, position: segmentPosition } });
  }
  return value;
}

export function requiredSegment(transaction: TransactionSet, id: string): { segment: X12Segment; position: number } {
  const found = body(transaction).find((s) => s.segment.id === id);
  if (!found) {
    throw permanentError(`transaction set ${transaction.type} ${transaction.controlNumber} has no ${id} segment`, { code: 'x12_segment_missing', where: { segment: id, line: transaction.segments[0]!.line } });
  }
  return found;
}
