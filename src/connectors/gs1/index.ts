// The GS1 door: identifiers (GTIN, GLN, SSCC), element strings, scan data and Digital Link URIs.
export { computeCheckDigit, hasValidCheckDigit, isValidGtin, isValidGln, toGtin14, withCheckDigit } from './check-digit.ts';
export {
  AI_FORMATS, parseBracketed, parseUnbracketed, parseScanData, toBracketed, toUnbracketed, interpretElements, gs1DateToIso, resolveCentury,
  type Gs1Element, type Gs1ProductData,
} from './element-string.ts';
export { parseDigitalLink, toDigitalLink } from './digital-link.ts';
export { parseHibc, isHibc, hibcCheckCharacter, type HibcData, type ParseHibcOptions } from './hibcc.ts';
