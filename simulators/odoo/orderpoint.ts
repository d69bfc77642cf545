import type { Row } from './domain.ts';
import type { Env } from './orm.ts';

// Computed fields of stock.warehouse.orderpoint, following stock_orderpoint.py (odoo/odoo addons/stock):
// _compute_qty reads the product's qty_available / virtual_available with context {location: the rule's location}
// and adds _quantity_in_progress; _compute_qty_to_order orders up to max(min, max) when the forecast is strictly
// below the minimum, rounded UP to the multiple ("The procurement quantity will be rounded up to this multiple.
// If it is 0, the exact quantity will be used."). Simplifications, stated: every open move counts whatever its
// date (Odoo stops at lead_days_date), and quantity in progress is 0 (purchase_stock counts only RFQ lines linked
// to the rule by orderpoint_id, which Carelane's purchase orders never are).

/** Moves that are neither done, cancelled nor draft count in virtual_available (product.py _get_domain_locations). */
const OPEN_MOVE_STATES = new Set(['waiting', 'confirmed', 'partially_available', 'assigned']);

export async function orderpointComputed(env: Env, row: Row): Promise<Record<string, unknown>> {
  const locations = await descendants(env, Number(row.location_id));
  const productId = row.product_id;
  let onHand = 0;
  for (const quant of (await env.rows('stock.quant')).values()) {
    if (quant.product_id === productId && locations.has(Number(quant.location_id))) onHand += Number(quant.quantity ?? 0);
  }
  let incoming = 0;
  let outgoing = 0;
  for (const move of (await env.rows('stock.move')).values()) {
    if (move.product_id !== productId || !OPEN_MOVE_STATES.has(String(move.state))) continue;
    const from = locations.has(Number(move.location_id));
    const to = locations.has(Number(move.location_dest_id));
    if (to && !from) incoming += Number(move.product_uom_qty ?? 0);
    if (from && !to) outgoing += Number(move.product_uom_qty ?? 0);
  }
  const forecast = onHand + incoming - outgoing;
  const computed = quantityToOrder(forecast, Number(row.product_min_qty ?? 0), Number(row.product_max_qty ?? 0), await multipleOf(env, row));
  const manual = Number(row.qty_to_order_manual ?? 0);
  return {
    qty_on_hand: onHand,
    qty_forecast: forecast,
    // 18+: qty_to_order = qty_to_order_manual if set, else qty_to_order_computed (§2.7).
    qty_to_order: env.version >= 18 && manual ? manual : computed,
    ...(env.version >= 18 ? { qty_to_order_computed: computed } : {}),
    ...(env.version >= 19 ? { deadline_date: false } : {}),
  };
}

/** _compute_qty_to_order; Units' rounding is 0.01, the precision float_compare uses here. */
export function quantityToOrder(forecast: number, min: number, max: number, multiple: number): number {
  if (!(min - forecast > 0.005)) return 0;
  let quantity = Math.max(min, max) - forecast;
  const remainder = multiple > 0 ? quantity % multiple : 0;
  if (remainder > 0.005) quantity += multiple - remainder;
  return Math.round(quantity * 100) / 100;
}

/** ≤18 qty_multiple; 19: the replenishment unit's size in product units (`_round_to_multiple`), 0 = none. */
async function multipleOf(env: Env, row: Row): Promise<number> {
  if (env.version <= 18) return Number(row.qty_multiple ?? 0);
  if (typeof row.replenishment_uom_id !== 'number') return 0;
  const unit = (await env.rows('uom.uom')).get(row.replenishment_uom_id);
  return Number(unit?.relative_factor ?? 1);
}

async function descendants(env: Env, locationId: number): Promise<Set<number>> {
  const all = [...(await env.rows('stock.location')).values()];
  const found = new Set([locationId]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const location of all) {
      if (typeof location.location_id === 'number' && found.has(location.location_id) && !found.has(location.id)) {
        found.add(location.id);
        grew = true;
      }
    }
  }
  return found;
}
