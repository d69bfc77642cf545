import type { LineStatus, PurchaseOrderAckLine } from '../../connectors/x12/index.ts';

/** What the supplier said about one PO line, summed over its ACK segments (an 855 line may carry several). */
export interface LineAcknowledgment {
  lineNumber: string;
  productId: number;
  status: LineStatus;
  orderedQuantity: number;
  /** what the supplier will deliver in total: accepted + changed + backordered */
  confirmedQuantity: number;
  backorderedQuantity: number;
  rejectedQuantity: number;
  /** ACK05 / REST date: the new schedule (ship) date, ISO YYYY-MM-DD */
  promisedDate?: string;
  /** ACK01 codes as sent, e.g. 'IR' or 'IQ,IB' */
  codes: string;
  reason?: string;
}

// ACK01 (data element 668) codes that say why a line is rejected.
const REJECTION_REASONS: Record<string, string> = {
  IR: 'item rejected',
  ID: 'item deleted',
  R1: 'not a contract item',
  R2: 'invalid item product number',
  R3: 'invalid unit of issue',
  R4: 'contract item not available',
};

/**
 * Reads one acknowledged line (pure). Quantities without a number take the ordered quantity for accepted
 * lines and "whatever is left" for rejected ones (an 855 often rejects with ACK*IR*0: nothing of it comes).
 */
export function readAckLine(line: PurchaseOrderAckLine, po: { lineNumber: string; productId: number; quantity: number }): LineAcknowledgment {
  const ordered = po.quantity;
  let confirmed = 0;
  let backordered = 0;
  let rejected = 0;
  let counted = false;
  let rejectedWithoutQuantity = false;
  let date: string | undefined;
  const reasons: string[] = [];
  for (const s of line.statuses) {
    if (s.date) date = s.date;
    switch (s.status) {
      case 'accepted':
      case 'changed':
        confirmed += s.quantity ?? ordered;
        counted = true;
        break;
      case 'backordered':
        backordered += s.quantity ?? ordered;
        counted = true;
        break;
      case 'rejected':
        if (s.quantity) rejected += s.quantity;
        else rejectedWithoutQuantity = true;
        reasons.push(`${s.code} ${REJECTION_REASONS[s.code] ?? 'rejected'}${s.reason ? `: ${s.reason}` : ''}`);
        break;
      default:
        break;
    }
  }
  // No quantity-bearing status at all (e.g. only 'on hold'): the order stands as placed.
  if (!counted && !rejectedWithoutQuantity && rejected === 0) confirmed = ordered;
  if (rejectedWithoutQuantity) rejected = Math.max(0, ordered - confirmed - backordered);
  const total = confirmed + backordered;
  const statuses = new Set(line.statuses.map((s) => s.status));
  const status: LineStatus =
    total === 0 && rejected > 0 ? 'rejected'
    : backordered > 0 ? 'backordered'
    : statuses.has('changed') || total !== ordered ? 'changed'
    : statuses.size === 0 || statuses.has('accepted') ? 'accepted'
    : [...statuses][0]!;
  return {
    lineNumber: po.lineNumber,
    productId: po.productId,
    status,
    orderedQuantity: ordered,
    confirmedQuantity: total,
    backorderedQuantity: backordered,
    rejectedQuantity: rejected,
    ...(date ? { promisedDate: date } : {}),
    codes: line.statuses.map((s) => s.code).join(','),
    ...(reasons.length ? { reason: reasons.join('; ') } : {}),
  };
}
