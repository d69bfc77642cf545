import type { OdooClient } from '../client.ts';
import { createIdempotent } from '../external-ids.ts';
import { many2oneId, type OdooRecord } from '../types.ts';
import { orderpointHasManualQuantity, orderpointMultipleField } from '../versions.ts';
import { type GatewayOptions, signalled } from './options.ts';

/** A reorder rule (stock.warehouse.orderpoint) with the quantities Odoo computes for it. */
export interface ReorderRule {
  orderpointId: number;
  productId: number;
  locationId: number;
  warehouseId: number | undefined;
  trigger: 'auto' | 'manual';
  /** Odoo's qty_forecast: on hand + incoming − outgoing under the rule's location (virtual_available) */
  forecast: number;
  onHand: number;
  min: number;
  max: number;
  /** qty_multiple (≤18) or the replenishment unit's size in product units (19); 0 = no rounding */
  multiple: number;
  /** what to order now: Odoo's own rule (orderQuantity), or on 18+ the quantity a user typed in Odoo */
  toOrder: number;
  /** true when toOrder is a user's manual quantity (18+ qty_to_order_manual), not the rule's */
  manual: boolean;
}

export interface NewReorderRule {
  /** idempotency key → external id carelane.<key> */
  key: string;
  productId: number;
  locationId: number;
  warehouseId: number;
  min: number;
  max: number;
  /** ≤18 only (qty_multiple; Odoo's default is 1); 19 rounds with a replenishment unit instead */
  multiple?: number;
  /** 19 only: uom.uom whose size is the multiple */
  replenishmentUomId?: number;
  trigger?: 'auto' | 'manual';
}

export interface BelowMinimumOptions {
  /** location ids per search_read (default 200): keeps the domain and the answer bounded */
  locationsPerCall?: number;
  /** records per search_read page (default 2000) */
  pageSize?: number;
}

/**
 * Odoo's reorder quantity (stock_orderpoint.py _compute_qty_to_order): when the forecast is strictly below the
 * minimum, order up to max(min, max), rounded UP to the multiple; otherwise nothing. Units' rounding (0.01) is
 * the tolerance Odoo's float_compare uses for the comparisons.
 */
export function orderQuantity(forecast: number, min: number, max: number, multiple: number): number {
  if (!(min - forecast > 0.005)) return 0;
  let quantity = Math.max(min, max) - forecast;
  const remainder = multiple > 0 ? quantity % multiple : 0;
  if (remainder > 0.005) quantity += multiple - remainder;
  return Math.round(quantity * 100) / 100;
}

/**
 * Reorder rules (reference/odoo.md §2.7). Odoo computes qty_forecast on read, so `belowMinimum` is one
 * search_read per page of rules (plus, on 19, one read of the replenishment units); the filter "forecast below
 * min" runs here, because qty_forecast is not stored and Odoo refuses it in a domain. Replenishment itself is
 * the caller's (a purchase order through PurchaseGateway): procurement.group.run cannot be called over RPC (§2.7).
 */
export class OrderpointGateway {
  private readonly client: OdooClient;

  constructor(client: OdooClient, options: GatewayOptions = {}) {
    this.client = signalled(client, options);
  }

  private fields(): string[] {
    return [
      'product_id',
      'location_id',
      'warehouse_id',
      'trigger',
      'product_min_qty',
      'product_max_qty',
      'qty_on_hand',
      'qty_forecast',
      orderpointMultipleField(this.client.version),
      ...(orderpointHasManualQuantity(this.client.version) ? ['qty_to_order_manual'] : []),
    ];
  }

  /** Active rules on these locations (exact location, as Odoo's rule is per location), every quantity computed. */
  async rules(locationIds: number[], options: BelowMinimumOptions = {}): Promise<ReorderRule[]> {
    const perCall = options.locationsPerCall ?? 200;
    const pageSize = options.pageSize ?? 2000;
    const rows: OdooRecord[] = [];
    const unique = [...new Set(locationIds)];
    for (let start = 0; start < unique.length; start += perCall) {
      const chunk = unique.slice(start, start + perCall);
      for (let offset = 0; ; offset += pageSize) {
        const page = await this.client.searchRead('stock.warehouse.orderpoint', [['location_id', 'in', chunk]], { fields: this.fields(), order: 'location_id,id', limit: pageSize, offset });
        rows.push(...page);
        if (page.length < pageSize) break;
      }
    }
    const multiples = await this.unitMultiples(rows);
    return rows.map((row) => this.toRule(row, multiples));
  }

  /** The rules whose forecast is below their minimum, with what to order: the replenishment flow's question. */
  async belowMinimum(locationIds: number[], options: BelowMinimumOptions = {}): Promise<ReorderRule[]> {
    return (await this.rules(locationIds, options)).filter((rule) => rule.toOrder > 0);
  }

  /** Creates the rules not created yet (external id per key) in one create with a list of values. */
  async ensure(items: NewReorderRule[]): Promise<Map<string, { id: number; created: boolean }>> {
    const v19 = this.client.version >= 19;
    return createIdempotent(
      this.client,
      'stock.warehouse.orderpoint',
      items.map((item) => ({
        key: item.key,
        values: {
          product_id: item.productId,
          location_id: item.locationId,
          warehouse_id: item.warehouseId,
          product_min_qty: item.min,
          product_max_qty: item.max,
          trigger: item.trigger ?? 'auto',
          ...(v19 ? (item.replenishmentUomId ? { replenishment_uom_id: item.replenishmentUomId } : {}) : { qty_multiple: item.multiple ?? 1 }),
        },
      })),
      {
        // A rule is unique per product and location (product_location_check), so that finds a lost create.
        findUnbound: async (keys) => {
          const wanted = items.filter((item) => keys.includes(item.key));
          const rows = await this.client.searchRead('stock.warehouse.orderpoint', [['product_id', 'in', wanted.map((i) => i.productId)]], { fields: ['product_id', 'location_id'] });
          const found = new Map<string, number>();
          for (const item of wanted) {
            const row = rows.find((r) => many2oneId(r.product_id) === item.productId && many2oneId(r.location_id) === item.locationId);
            if (row) found.set(item.key, row.id);
          }
          return found;
        },
      },
    );
  }

  /** 19: the size of each replenishment unit in product units (uom.uom relative_factor [K]); one read. */
  private async unitMultiples(rows: OdooRecord[]): Promise<Map<number, number>> {
    if (this.client.version < 19) return new Map();
    const ids = [...new Set(rows.map((row) => many2oneId(row.replenishment_uom_id)).filter((id): id is number => id !== undefined))];
    const units = await this.client.read('uom.uom', ids, ['relative_factor']);
    return new Map(units.map((unit) => [unit.id, Number(unit.relative_factor ?? 1)]));
  }

  private toRule(row: OdooRecord, unitMultiples: Map<number, number>): ReorderRule {
    const min = Number(row.product_min_qty ?? 0);
    const max = Number(row.product_max_qty ?? 0);
    const forecast = Number(row.qty_forecast ?? 0);
    const unit = many2oneId(row.replenishment_uom_id);
    const multiple = this.client.version >= 19 ? (unit === undefined ? 0 : (unitMultiples.get(unit) ?? 0)) : Number(row.qty_multiple ?? 0);
    const manualQuantity = Number(row.qty_to_order_manual ?? 0);
    const manual = orderpointHasManualQuantity(this.client.version) && manualQuantity > 0;
    return {
      orderpointId: row.id,
      productId: many2oneId(row.product_id)!,
      locationId: many2oneId(row.location_id)!,
      warehouseId: many2oneId(row.warehouse_id),
      trigger: row.trigger === 'manual' ? 'manual' : 'auto',
      forecast,
      onHand: Number(row.qty_on_hand ?? 0),
      min,
      max,
      multiple,
      toOrder: manual ? manualQuantity : orderQuantity(forecast, min, max, multiple),
      manual,
    };
  }
}
