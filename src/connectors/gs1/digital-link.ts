import { permanentError } from '../../contracts/errors.ts';
import { AI_FORMATS, parseBracketed, type Gs1Element } from './element-string.ts';

/**
 * GS1 Digital Link URIs (GS1 Digital Link standard 1.2, section 4 "URI syntax"): any domain, then a path of
 * AI/value pairs starting with a primary key (01 GTIN, 00 SSCC, …) followed by its qualifiers in order
 * (for 01: 22, 10, 21), then data attributes as a query string (e.g. ?17=201225). Values are percent-decoded;
 * a GTIN-8/12/13 in the path is normalised to 14 digits.
 * Example: https://id.gs1.org/01/09506000134352/10/ABC?17=201225
 */

const PRIMARY_KEYS = new Set(['00', '01']);
const QUALIFIERS: Record<string, string[]> = { '01': ['22', '10', '21'], '00': [] };

export function parseDigitalLink(uri: string): Gs1Element[] {
  const match = /^(https?):\/\/([^/?#]+)(\/[^?#]*)(?:\?([^#]*))?(?:#.*)?$/i.exec(uri);
  // Scheme must be all lower or all upper case (the syntax engine rejects mixed case).
  if (!match || (match[1] !== match[1]!.toLowerCase() && match[1] !== match[1]!.toUpperCase())) {
    throw permanentError(`not an http(s) URI: ${JSON.stringify(uri)}`, { code: 'gs1_dl_invalid' });
  }
  const segments = match[3]!.split('/').slice(1);
  // AI/value pairs are read backwards from the end of the path; anything before them is a free prefix
  // (e.g. https://example.com/some/path/01/…), and the first primary key reached that way starts the data.
  let start = -1;
  for (let i = segments.length - 2; i >= 0 && start < 0 && /^\d{2,4}$/.test(segments[i]!); i -= 2) if (PRIMARY_KEYS.has(segments[i]!)) start = i;
  if (start < 0) throw permanentError('the URI path has no GS1 primary key (/01/<gtin> or /00/<sscc>)', { code: 'gs1_dl_invalid' });
  const pathPairs = segments.slice(start);
  if (pathPairs.length % 2 !== 0 || pathPairs.some((s) => s === '')) throw permanentError('the URI path must be AI/value pairs', { code: 'gs1_dl_invalid' });
  const elements: Gs1Element[] = [];
  const primary = pathPairs[0]!;
  let lastQualifier = -1;
  for (let i = 0; i < pathPairs.length; i += 2) {
    const ai = pathPairs[i]!;
    let value = decodeURIComponent(pathPairs[i + 1]!);
    if (i > 0) {
      const rank = QUALIFIERS[primary]?.indexOf(ai) ?? -1;
      if (rank <= lastQualifier) throw permanentError(`/${ai} is not a key qualifier of /${primary} in this position`, { code: 'gs1_dl_invalid' });
      lastQualifier = rank;
    }
    if (ai === '01' && /^\d{8}$|^\d{12,13}$/.test(value)) value = value.padStart(14, '0');
    elements.push({ ai, value });
  }
  for (const pair of (match[4] ?? '').split('&').filter((p) => p !== '')) {
    const [ai, raw] = pair.split('=', 2);
    // Non-AI query parameters (e.g. linkType) are allowed and ignored.
    if (!ai || !/^\d{2,4}$/.test(ai) || !AI_FORMATS[ai]) continue;
    elements.push({ ai, value: decodeURIComponent(raw ?? '') });
  }
  // Validate each value with the element-string rules (length, charset, check digit, dates).
  return parseBracketed(elements.map((e) => `(${e.ai})${e.value.replaceAll('(', '\\(')}`).join(''));
}

/** Writes a Digital Link URI for a GTIN with optional lot, serial and expiry. */
export function toDigitalLink(data: { gtin: string; lot?: string; serial?: string; expiry?: string }, domain = 'https://id.gs1.org'): string {
  let uri = `${domain}/01/${data.gtin.padStart(14, '0')}`;
  if (data.lot) uri += `/10/${encodeURIComponent(data.lot)}`;
  if (data.serial) uri += `/21/${encodeURIComponent(data.serial)}`;
  if (data.expiry) uri += `?17=${data.expiry}`;
  return uri;
}
