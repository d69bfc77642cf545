import { CarelaneError, permanentError } from '../../contracts/errors.ts';
import { interpretElements, parseBracketed, parseScanData, parseUnbracketed, toGtin14, type Gs1Element } from '../../connectors/gs1/index.ts';

/**
 * A receipt batch as Carelane takes it, from POST /api/v1/receipts or a warehouse system's receipt message
 * (message type RECEIPT, this JSON): the PO, and what was received as GS1 scans and/or plain lines.
 * `batchId` makes it idempotent: the same batch sent twice is received once.
 */
export interface ReceiptDocument {
  batchId: string;
  poNumber: string;
  /** true: the rest of a short receipt will not come (no backorder); default false: Odoo keeps a backorder */
  closeRest: boolean;
  lines: ReceiptLine[];
}

export interface ReceiptLine {
  gtin?: string;
  productId?: number;
  lot?: string;
  serial?: string;
  /** YYYY-MM-DD */
  expiryDate?: string;
  quantity: number;
  /** where it came from, for errors: scans[3] or lines[0] */
  from: string;
}

export const RECEIPT_MESSAGE_TYPE = 'RECEIPT';

const invalid = (field: string, message: string) => permanentError(`receipt ${field}: ${message}`, { code: 'receipt_invalid', where: { field } });

/**
 * One scan: GS1 element string in brackets ("(01)…(10)…"), scan data with a symbology identifier ("]C1…",
 * "]d2…", FNC1 as GS), or the bare unbracketed string. AIs used: (01)/(02) GTIN, (10) lot, (21) serial, (17)
 * expiry, (30) variable count, (37) count; quantity = (37) ?? (30) ?? 1 (one scan, one unit).
 */
export function readScan(scan: string, at: string, now: Date = new Date()): ReceiptLine {
  let elements: Gs1Element[];
  try {
    const text = scan.trim();
    elements = text.startsWith('(') ? parseBracketed(text) : text.startsWith(']') ? parseScanData(text).elements : parseUnbracketed(text);
  } catch (error) {
    if (error instanceof CarelaneError) throw permanentError(`receipt ${at}: ${error.message}`, { code: error.code, where: { field: `${at}${error.where?.field ? ` AI (${error.where.field})` : ''}` } });
    throw error;
  }
  const data = interpretElements(elements, now);
  if (!data.gtin) throw invalid(at, 'names no GTIN (AI 01 or 02)');
  const quantity = data.count ?? data.variableCount ?? 1;
  if (!(quantity > 0)) throw invalid(at, 'quantity (AI 30/37) must be above 0');
  return {
    gtin: toGtin14(data.gtin) ?? data.gtin,
    ...(data.lot ? { lot: data.lot } : {}),
    ...(data.serial ? { serial: data.serial } : {}),
    ...(data.expiryDate ? { expiryDate: data.expiryDate } : {}),
    quantity: data.serial ? 1 : quantity,
    from: at,
  };
}

/** Validates a receipt body (API or message payload); errors name the field. */
export function readReceiptDocument(input: unknown, now: Date = new Date()): ReceiptDocument {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw invalid('body', 'must be an object');
  const body = input as Record<string, unknown>;
  const text = (value: unknown, field: string): string => {
    if (typeof value !== 'string' || !value.trim() || value.length > 200) throw invalid(field, 'must be a non-empty string of at most 200 characters');
    return value.trim();
  };
  const batchId = text(body.batchId, 'batchId');
  const poNumber = text(body.poNumber, 'poNumber');
  const lines: ReceiptLine[] = [];
  if (body.scans !== undefined) {
    if (!Array.isArray(body.scans)) throw invalid('scans', 'must be a list of GS1 element strings');
    body.scans.forEach((scan, index) => lines.push(readScan(text(scan, `scans[${index}]`), `scans[${index}]`, now)));
  }
  if (body.lines !== undefined) {
    if (!Array.isArray(body.lines)) throw invalid('lines', 'must be a list');
    body.lines.forEach((value, index) => {
      const at = `lines[${index}]`;
      if (typeof value !== 'object' || value === null) throw invalid(at, 'must be an object');
      const line = value as Record<string, unknown>;
      const quantity = line.quantity;
      if (typeof quantity !== 'number' || !Number.isFinite(quantity) || quantity <= 0) throw invalid(`${at}.quantity`, 'must be a number above 0');
      const gtin = line.gtin === undefined ? undefined : toGtin14(text(line.gtin, `${at}.gtin`));
      if (line.gtin !== undefined && !gtin) throw invalid(`${at}.gtin`, 'is not a valid GTIN');
      const productId = line.productId;
      if (productId !== undefined && !(typeof productId === 'number' && Number.isInteger(productId) && productId > 0)) throw invalid(`${at}.productId`, 'must be an Odoo product id');
      if (!gtin && productId === undefined) throw invalid(at, 'needs gtin or productId');
      // a serial number names one unit (GS1 AI 21; Odoo: one move line of quantity 1 per serial)
      if (line.serial !== undefined && quantity !== 1) throw invalid(`${at}.quantity`, 'must be 1 with a serial number (one line per serial)');
      const expiryDate = line.expiryDate === undefined ? undefined : text(line.expiryDate, `${at}.expiryDate`);
      if (expiryDate !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(expiryDate)) throw invalid(`${at}.expiryDate`, 'must be a date YYYY-MM-DD');
      lines.push({
        ...(gtin ? { gtin } : {}),
        ...(productId !== undefined ? { productId: productId as number } : {}),
        ...(line.lot !== undefined ? { lot: text(line.lot, `${at}.lot`) } : {}),
        ...(line.serial !== undefined ? { serial: text(line.serial, `${at}.serial`) } : {}),
        ...(expiryDate ? { expiryDate } : {}),
        quantity,
        from: at,
      });
    });
  }
  if (lines.length === 0) throw invalid('body', 'needs scans or lines');
  if (body.closeRest !== undefined && typeof body.closeRest !== 'boolean') throw invalid('closeRest', 'must be true or false');
  return { batchId, poNumber, closeRest: body.closeRest === true, lines };
}
