/**
 * GS1 check digits (GS1 General Specifications section 7.9.1 "Standard check digit calculations for GS1 data
 * structures"): from the right, digits are weighted 3, 1, 3, 1 … (the check digit itself excluded); the check
 * digit brings the weighted sum up to a multiple of ten. The same algorithm serves GTIN-8/12/13/14, GLN (13)
 * and SSCC (18).
 */

/** The check digit for the digits that precede it. */
export function computeCheckDigit(digitsWithoutCheck: string): number {
  if (!/^\d+$/.test(digitsWithoutCheck)) throw new TypeError(`not digits: ${JSON.stringify(digitsWithoutCheck)}`);
  let sum = 0;
  for (let i = 0; i < digitsWithoutCheck.length; i++) {
    const digit = digitsWithoutCheck.charCodeAt(digitsWithoutCheck.length - 1 - i) - 48;
    sum += i % 2 === 0 ? digit * 3 : digit;
  }
  return (10 - (sum % 10)) % 10;
}

/** Whether the last digit of `digits` is the right check digit for the others. */
export function hasValidCheckDigit(digits: string): boolean {
  return /^\d{2,}$/.test(digits) && computeCheckDigit(digits.slice(0, -1)) === Number(digits.at(-1));
}

const GTIN_LENGTHS = new Set([8, 12, 13, 14]);

/** A GTIN-8, -12, -13 or -14 with a valid check digit. */
export function isValidGtin(value: string): boolean {
  return GTIN_LENGTHS.has(value.length) && hasValidCheckDigit(value);
}

/**
 * The 14-digit form of a GTIN (GS1 General Specifications 4.3: GTIN-8/12/13 are right-justified in a
 * 14-digit field with leading zeros), or undefined when the value is not a valid GTIN.
 */
export function toGtin14(value: string): string | undefined {
  const trimmed = value.trim();
  return isValidGtin(trimmed) ? trimmed.padStart(14, '0') : undefined;
}

/** A GLN (Global Location Number): 13 digits with a valid check digit (GS1 General Specifications 3.4.x, AI 414). */
export function isValidGln(value: string): boolean {
  return value.length === 13 && hasValidCheckDigit(value);
}

/** Appends the check digit: '629104150021' → '6291041500213'. */
export function withCheckDigit(digitsWithoutCheck: string): string {
  return digitsWithoutCheck + String(computeCheckDigit(digitsWithoutCheck));
}
