import { CarelaneError, permanentError } from '../../contracts/errors.ts';
import { parseHibc } from '../gs1/index.ts';
import type { HierarchyLevel, ShipNotice, ShipNoticeLot, ShippedItem } from './canonical.ts';
import type { X12Segment } from './tokenizer.ts';
import type { TransactionSet } from './envelope.ts';
import { body, el, isoDate, numberOf, optional, productIds, required, requiredSegment } from './segment-access.ts';

/**
 * 856 Ship Notice/Manifest to canonical. The HL segments (HL01 id, HL02 parent id, HL03 level code, data
 * element 735) build the shipment → order → tare/pack → item tree in any of the orders suppliers use (SOPI,
 * SOI, SOTPI). Each item takes its PO number from the nearest order level above it and its package mark (MAN)
 * from the nearest tare/pack above it. Lots: LIN pairs with qualifier LT, or REF*LT; expiry: DTM*036
 * (expiration) or DTM*208 (lot number expiration) in the item's level (HIDA healthcare 856 guideline usage).
 * Serials: LIN pairs with qualifier SN (data element 235 "Serial Number") or REF*SE (data element 128 "Serial
 * Number") in the item's level. UDI: a LIN pair with qualifier HI (235 "HIBC (Health Care Industry Bar Code)")
 * is parsed as an HIBCC label (its DI, and its lot, expiry and serial when the 856 does not give them itself);
 * a GS1 item's UDI-DI is its GTIN (UK/EN/UP pairs, `product.gtin`).
 */

const LEVELS: Record<string, HierarchyLevel['level']> = { S: 'shipment', O: 'order', T: 'tare', P: 'pack', I: 'item' };
const EXPIRY_QUALIFIERS = new Set(['036', '208']);

interface LevelData {
  level: HierarchyLevel;
  poNumber?: string;
  packageMark?: string;
  item?: ShippedItem;
}

export function mapShipNotice(transaction: TransactionSet): ShipNotice {
  const bsn = requiredSegment(transaction, 'BSN');
  const notice: ShipNotice = {
    shipmentId: required(bsn.segment, 2, 'shipment identification', bsn.position),
    noticeDate: isoDate(required(bsn.segment, 3, 'date', bsn.position)),
    purpose: el(bsn.segment, 1),
    hierarchy: [],
    items: [],
  };
  const levels = new Map<string, LevelData>();
  let current: LevelData | undefined;
  const item = (): ShippedItem | undefined => current?.item;
  const lastLot = (): ShipNoticeLot | undefined => item()?.lots.at(-1);

  for (const { segment, position } of body(transaction)) {
    switch (segment.id) {
      case 'HL': {
        const id = required(segment, 1, 'hierarchical id', position);
        const parentId = optional(segment, 2);
        if (parentId && !levels.has(parentId)) {
          throw permanentError(`HL02 ${parentId} names a parent level that does not precede HL ${id}`, { code: 'x12_element_invalid', where: { segment: 'HL', field: 'HL02', line: segment.line, position } });
        }
        const code = el(segment, 3);
        const level: HierarchyLevel = { id, ...(parentId ? { parentId } : {}), code, level: LEVELS[code] ?? 'other' };
        const parent = parentId ? levels.get(parentId) : undefined;
        current = { level, ...(parent?.poNumber ? { poNumber: parent.poNumber } : {}), ...(parent?.packageMark ? { packageMark: parent.packageMark } : {}) };
        levels.set(id, current);
        notice.hierarchy.push(level);
        break;
      }
      case 'PRF':
        if (current) current.poNumber = el(segment, 1);
        break;
      case 'MAN':
        if (current) current.packageMark = el(segment, 2);
        break;
      case 'REF':
        if (!current && el(segment, 1) === 'BM') notice.billOfLading = el(segment, 2);
        else if (current?.level.level === 'shipment' && el(segment, 1) === 'BM') notice.billOfLading = el(segment, 2);
        else if (el(segment, 1) === 'LT' && item()) item()!.lots.push({ lot: el(segment, 2) });
        else if (el(segment, 1) === 'SE' && item() && el(segment, 2)) (item()!.serials ??= []).push(el(segment, 2));
        break;
      case 'DTM':
        if (current?.level.level === 'shipment' && el(segment, 1) === '011') notice.shippedDate = isoDate(el(segment, 2));
        else if (EXPIRY_QUALIFIERS.has(el(segment, 1)) && lastLot()) lastLot()!.expiryDate = isoDate(el(segment, 2));
        break;
      case 'LIN': {
        if (!current) break;
        const product = productIds(segment, 2, 31);
        const lots: ShipNoticeLot[] = product.all.filter((a) => a.qualifier === 'LT').map((a) => ({ lot: a.value }));
        const serials = product.all.filter((a) => a.qualifier === 'SN').map((a) => a.value);
        const hibc = hibcUdi(segment, position);
        if (hibc?.lot && lots.length === 0) lots.push({ lot: hibc.lot, ...(hibc.expiryDate ? { expiryDate: hibc.expiryDate } : {}) });
        if (hibc?.serial && !serials.includes(hibc.serial)) serials.push(hibc.serial);
        current.item = {
          hierarchyId: current.level.id,
          ...(current.poNumber ? { poNumber: current.poNumber } : {}),
          ...(current.packageMark ? { packageMark: current.packageMark } : {}),
          ...(optional(segment, 1) ? { lineNumber: el(segment, 1) } : {}),
          product,
          quantity: 0,
          unitOfMeasure: '',
          lots,
          ...(serials.length > 0 ? { serials } : {}),
          ...(hibc ? { udi: hibc.udi } : {}),
        };
        notice.items.push(current.item);
        break;
      }
      case 'SN1':
        if (item()) {
          item()!.quantity = numberOf(segment, 2) ?? 0;
          item()!.unitOfMeasure = el(segment, 3);
          if (item()!.lots.length === 1 && item()!.lots[0]!.quantity === undefined) item()!.lots[0]!.quantity = item()!.quantity;
        }
        break;
    }
  }
  return notice;
}

/** The HIBCC label in a LIN's HI pair, if any; a wrong check character or syntax names the LIN element. */
function hibcUdi(lin: X12Segment, position: number): { udi: NonNullable<ShippedItem['udi']>; lot?: string; expiryDate?: string; serial?: string } | undefined {
  for (let p = 2; p < 31; p += 2) {
    if (el(lin, p) !== 'HI' || !el(lin, p + 1)) continue;
    const value = el(lin, p + 1);
    try {
      const data = parseHibc(value);
      if (!data.udiDi) throw permanentError('an HIBC secondary label alone carries no device identifier', { code: 'hibc_syntax' });
      return { udi: { issuer: 'HIBCC', value, di: data.udiDi }, ...(data.lot ? { lot: data.lot } : {}), ...(data.expiryDate ? { expiryDate: data.expiryDate } : {}), ...(data.serial ? { serial: data.serial } : {}) };
    } catch (error) {
      const reason = error instanceof CarelaneError ? error.message : String(error);
      const field = `LIN${String(p + 1).padStart(2, '0')}`;
      throw permanentError(`${field} is not a valid HIBC UDI: ${reason}`, { code: 'x12_element_invalid', where: { segment: 'LIN', field, line: lin.line, position } });
    }
  }
  return undefined;
}
