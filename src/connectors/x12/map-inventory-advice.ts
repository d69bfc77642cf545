import type { InventoryAdvice, InventoryItem } from './canonical.ts';
import type { TransactionSet } from './envelope.ts';
import { body, el, isoDate, numberOf, optional, productIds, required, requiredSegment } from './segment-access.ts';

/**
 * 846 Inventory Inquiry/Advice to canonical (004010 table): BIA (01 purpose, 02 report type, 03 reference id,
 * 04 date); detail loop LIN (product ids from LIN02), PID05 description, QTY (01 quantity qualifier 673,
 * 02 quantity, 03 unit), lots as LIN/REF qualifier LT with DTM*036 expiry. No public 846 sample exists: this
 * follows the standard's table, tested with a hand-built 846.
 */
export function mapInventoryAdvice(transaction: TransactionSet): InventoryAdvice {
  const bia = requiredSegment(transaction, 'BIA');
  const advice: InventoryAdvice = {
    reportId: required(bia.segment, 3, 'reference identification', bia.position),
    reportDate: isoDate(required(bia.segment, 4, 'date', bia.position)),
    reportType: el(bia.segment, 2),
    items: [],
  };
  let item: InventoryItem | undefined;
  for (const { segment } of body(transaction)) {
    if (segment.id === 'LIN') {
      const product = productIds(segment, 2, 31);
      item = { product, quantities: [], lots: product.all.filter((a) => a.qualifier === 'LT').map((a) => ({ lot: a.value })) };
      advice.items.push(item);
    } else if (!item) {
      continue;
    } else if (segment.id === 'PID' && !item.description && el(segment, 5)) {
      item.description = el(segment, 5);
    } else if (segment.id === 'QTY') {
      item.quantities.push({ qualifier: el(segment, 1), quantity: numberOf(segment, 2) ?? 0, ...(optional(segment, 3) ? { unitOfMeasure: el(segment, 3) } : {}) });
    } else if (segment.id === 'REF' && el(segment, 1) === 'LT') {
      item.lots.push({ lot: el(segment, 2) });
    } else if (segment.id === 'DTM' && (el(segment, 1) === '036' || el(segment, 1) === '208') && item.lots.length > 0) {
      item.lots.at(-1)!.expiryDate = isoDate(el(segment, 2));
    } else if (segment.id === 'CTT') {
      item = undefined;
    }
  }
  return advice;
}
