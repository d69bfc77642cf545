import type { InvoiceTolerance } from '../../config/schema.ts';

/**
 * The 3-way match (docs/finance.md "Invoice match"): per invoice line, the purchase order (agreed price and
 * ordered quantity), the receipt (quantity received) and the invoice (quantity and price billed). Odoo
 * Community has no 3-way match module (reference/odoo.md §2.10: account_3way_match is Enterprise), so Carelane
 * computes it here. Pure: figures in, verdicts out.
 */

export interface MatchLineInput {
  lineNumber: string;
  productId: number | undefined;
  purchaseLineId: number | undefined;
  orderedQuantity: number;
  poPrice: number;
  receivedQuantity: number;
  /** billed on this PO line by earlier bills (not this invoice) */
  previouslyInvoiced: number;
  invoicedQuantity: number;
  /** decimal string as the supplier wrote it */
  invoicedPrice: string;
}

export type LineVerdict = 'ok' | 'price_variance' | 'quantity_variance' | 'not_on_order';

export interface MatchedLine extends MatchLineInput {
  priceDifference: number;
  /** billed in total (earlier bills + this one) beyond what was received */
  quantityOverReceived: number;
  verdicts: LineVerdict[];
}

export type MatchOutcome = 'matched' | 'price_variance' | 'quantity_variance';

export interface MatchResult {
  outcome: MatchOutcome;
  lines: MatchedLine[];
}

/** Rounded to 1/10,000 so float noise from Odoo's price_unit never makes a variance. */
const round4 = (value: number): number => Math.round(value * 10_000) / 10_000;

/**
 * A price is within tolerance when it differs from the PO price by no more than the larger of the percent and
 * the absolute allowance (both ways: a lower price is a variance too, it usually means a wrong item or unit).
 * A quantity is within when everything billed on the line so far stays within the allowance over what was
 * received; billing less than received is not a variance (the rest comes on a later bill).
 */
export function matchInvoice(lines: MatchLineInput[], tolerance: InvoiceTolerance): MatchResult {
  const matched = lines.map((line): MatchedLine => {
    const verdicts: LineVerdict[] = [];
    const price = Number(line.invoicedPrice);
    const priceDifference = round4(price - line.poPrice);
    const quantityOverReceived = round4(line.previouslyInvoiced + line.invoicedQuantity - line.receivedQuantity);
    if (line.purchaseLineId === undefined) {
      verdicts.push('not_on_order');
      return { ...line, priceDifference, quantityOverReceived, verdicts };
    }
    const priceAllowance = Math.max((Math.abs(line.poPrice) * tolerance.pricePercent) / 100, tolerance.priceAbsolute);
    if (Math.abs(priceDifference) > round4(priceAllowance)) verdicts.push('price_variance');
    const quantityAllowance = Math.max((line.receivedQuantity * tolerance.quantityPercent) / 100, tolerance.quantityAbsolute);
    if (quantityOverReceived > round4(quantityAllowance)) verdicts.push('quantity_variance');
    if (verdicts.length === 0) verdicts.push('ok');
    return { ...line, priceDifference, quantityOverReceived, verdicts };
  });
  const has = (verdict: LineVerdict) => matched.some((line) => line.verdicts.includes(verdict));
  // One exception per invoice: price first (money at stake per unit), then quantity; the evidence lists both.
  const outcome: MatchOutcome = has('price_variance') ? 'price_variance' : has('quantity_variance') || has('not_on_order') ? 'quantity_variance' : 'matched';
  return { outcome, lines: matched };
}

/** The tolerance of a vendor: its own entry (flows.invoiceMatch.vendors) or the default. */
export function toleranceFor(vendorRef: string | undefined, defaults: InvoiceTolerance, vendors: ReadonlyArray<{ vendorRef: string; tolerance: InvoiceTolerance }>): InvoiceTolerance {
  return (vendorRef ? vendors.find((v) => v.vendorRef === vendorRef)?.tolerance : undefined) ?? defaults;
}
