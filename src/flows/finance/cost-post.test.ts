import { describe, expect, it } from 'vitest';
import { adoptPostedPrices, type CostLine } from './cost-post.ts';

const line = (productId: number, quantity: number, unitCost: number): CostLine => ({ productId, serviceLine: 'unassigned', serviceLineAccountId: null, quantity, events: 1, late: 0, unitCost, amount: quantity * unitCost });

describe('a cost entry already posted in Odoo (retried after the post)', () => {
  it("records Odoo's amounts, not prices read again since", () => {
    // first attempt posted gauze at 2.50 and a drape credit at 12.00; standard_price has moved to 3.00 / 15.00 since
    const lines = [line(1, 4, 3), line(2, -1, 15)];
    const posted = [
      { accountId: 600, name: 'Supplies used', debit: 10, credit: 0, productId: 1, quantity: 4 },
      { accountId: 600, name: 'Supplies used', debit: 0, credit: 12, productId: 2, quantity: -1 },
      { accountId: 110, name: 'Counterpart', debit: 2, credit: 0 },
    ];
    expect(adoptPostedPrices(lines, posted, 600)).toBe(-2);
    expect(lines.map((l) => [l.unitCost, l.amount])).toEqual([[2.5, 10], [12, -12]]);
  });
});
