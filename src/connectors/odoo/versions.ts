import type { OdooVersion } from './types.ts';

// Field and model names that differ between the supported versions. Each line cites reference/odoo.md §2,
// whose facts come from OpenUpgrade's upgrade analyses (diffs of the real Odoo models).

/** `stock.production.lot` was renamed `stock.lot` IN 16.0 (§2.5; OpenUpgrade stock 16.0 pre-migration
 * `_models_renames`), so every supported version uses stock.lot. */
export const lotModel = (_version: OdooVersion): string => 'stock.lot';

/** 16–17: `detailed_type` ∈ consu/service/product (product = storable); 18+: `type` ∈ consu/service/combo plus
 * boolean `is_storable` (§2.1, OpenUpgrade stock 18.0). */
export function productTypeValues(version: OdooVersion, storable: boolean): Record<string, unknown> {
  return version >= 18 ? { type: 'consu', is_storable: storable } : { detailed_type: storable ? 'product' : 'consu' };
}
export const productTypeFields = (version: OdooVersion): string[] => (version >= 18 ? ['type', 'is_storable'] : ['detailed_type']);
export function isStorable(version: OdooVersion, record: Record<string, unknown>): boolean {
  return version >= 18 ? record.is_storable === true : record.detailed_type === 'product';
}

/** Done quantity of a move: `quantity_done` ≤16, `quantity` (+ boolean `picked`) from 17 (§2.6, OpenUpgrade
 * stock 17.0 `_field_renames`). */
export const moveDoneQuantityField = (version: OdooVersion): string => (version >= 17 ? 'quantity' : 'quantity_done');

/** `stock.move.name` is required up to 18 and removed in 19 (§2.6). */
export const moveNeedsName = (version: OdooVersion): boolean => version <= 18;

/** purchase.order.line `product_uom` → `product_uom_id` in 19 (§2.1, OpenUpgrade purchase 19.0). */
export const purchaseLineUomField = (version: OdooVersion): string => (version >= 19 ? 'product_uom_id' : 'product_uom');

/** product.supplierinfo's vendor: `name` was renamed `partner_id` in 16.0, so every supported version uses
 * partner_id (§2.2, OpenUpgrade product 16.0). */
export const supplierInfoPartnerField = (_version: OdooVersion): string => 'partner_id';

/** purchase.order.receipt_status (pending/partial/full) is new in 16.0 (purchase_stock, §2.8): present on all. */
export const hasReceiptStatus = (version: OdooVersion): boolean => version >= 16;

/** Done quantity on a move line: `qty_done` on 16; `quantity` + `picked` from 17 (§2.6, OpenUpgrade stock 17.0). */
export function moveLineDoneValues(version: OdooVersion, quantity: number): Record<string, unknown> {
  return version >= 17 ? { quantity, picked: true } : { qty_done: quantity };
}

/** purchase.order 'done' is replaced by a boolean `locked` in 19 (§2.8, OpenUpgrade purchase 19.0). */
export const purchaseHasDoneState = (version: OdooVersion): boolean => version <= 18;

/**
 * analytic.mixin's JSON `analytic_distribution` on move lines, PO lines … exists from the 16.0 analytic rework
 * (§2.11, OpenUpgrade analytic 16.0), so on every supported version; kept as a function for the version table.
 */
export const hasAnalyticDistribution = (version: OdooVersion): boolean => version >= 16;

/** {"<account id>[,<account id>…]": percentage 0–100}; comma-joined keys combine plans (17+, §2.11). */
export type AnalyticDistribution = Record<string, number>;

/** account.analytic.account's plan: `plan_id`, required since 16.0 (account.analytic.group renamed plan, §2.11). */
export const analyticPlanField = (_version: OdooVersion): string => 'plan_id';

/** stock.warehouse.orderpoint's rounding: `qty_multiple` up to 18, removed in 19 for `replenishment_uom_id`
 * (§2.7, OpenUpgrade stock 19.0). */
export const orderpointMultipleField = (version: OdooVersion): string => (version >= 19 ? 'replenishment_uom_id' : 'qty_multiple');

/** 18+: the to-order quantity a user typed is kept in `qty_to_order_manual` (§2.7, OpenUpgrade stock 18.0). */
export const orderpointHasManualQuantity = (version: OdooVersion): boolean => version >= 18;
