import type { OdooClient } from '../client.ts';
import { type GatewayOptions, signalled } from './options.ts';
import { createIdempotent } from '../external-ids.ts';
import { many2oneId, type Domain, type OdooRecord } from '../types.ts';
import { lotModel } from '../versions.ts';

/** A warehouse (stock.warehouse): its short code and the stock location its goods live under (lot_stock_id) [K]. */
export interface Warehouse {
  id: number;
  name: string;
  code: string;
  stockLocationId: number | undefined;
}

export interface StockLocation {
  id: number;
  name: string;
  completeName: string;
  usage: string;
  parentId: number | undefined;
}

/** One stock.quant row: on hand and reserved per product, location and lot (reference/odoo.md §2.4). */
export interface StockBalance {
  productId: number;
  locationId: number;
  lotId: number | undefined;
  quantity: number;
  reservedQuantity: number;
  /** quantity − reserved_quantity, what a new reservation can take */
  available: number;
}

export interface Lot {
  id: number;
  name: string;
  productId: number;
  /** UTC 'YYYY-MM-DD HH:MM:SS' as Odoo sends datetimes (§1.1), product_expiry's field */
  expirationDate: string | undefined;
}

export interface NewLot {
  key: string;
  name: string;
  productId: number;
  expirationDate?: string;
}

const QUANT_FIELDS = ['product_id', 'location_id', 'lot_id', 'quantity', 'reserved_quantity'];

export class StockGateway {
  private readonly client: OdooClient;

  constructor(client: OdooClient, options: GatewayOptions = {}) {
    this.client = signalled(client, options);
  }

  /** Every warehouse in one round trip: where a site's storeroom sits (the crosswalk names its stock location). */
  async warehouses(): Promise<Warehouse[]> {
    const rows = await this.client.searchRead('stock.warehouse', [], { fields: ['name', 'code', 'lot_stock_id'], order: 'id' });
    return rows.map((row) => ({ id: row.id, name: String(row.name), code: String(row.code), stockLocationId: many2oneId(row.lot_stock_id) }));
  }

  async internalLocations(): Promise<StockLocation[]> {
    const rows = await this.client.searchRead('stock.location', [['usage', '=', 'internal']], { fields: ['name', 'complete_name', 'usage', 'location_id'], order: 'id' });
    return rows.map((row) => ({
      id: row.id,
      name: String(row.name),
      completeName: String(row.complete_name || row.name),
      usage: String(row.usage),
      parentId: many2oneId(row.location_id),
    }));
  }

  /**
   * Balances under a location and its children (`child_of`, §2.4) for some or all products: one search_read,
   * whatever the number of products.
   */
  async balances(locationId: number, productIds?: number[]): Promise<StockBalance[]> {
    const domain: Domain = [['location_id', 'child_of', locationId]];
    if (productIds) domain.push(['product_id', 'in', productIds]);
    const rows = await this.client.searchRead('stock.quant', domain, { fields: QUANT_FIELDS, order: 'id' });
    return rows.map(toBalance);
  }

  async lots(productIds: number[]): Promise<Lot[]> {
    if (productIds.length === 0) return [];
    const rows = await this.client.searchRead(lotModel(this.client.version), [['product_id', 'in', productIds]], { fields: ['name', 'product_id', 'expiration_date'], order: 'id' });
    return rows.map(toLot);
  }

  /** Lots are unique per (name, product) (§2.5 [K]); an existing lot with that pair is adopted, not duplicated. */
  async ensureLots(items: NewLot[]): Promise<Map<string, { id: number; created: boolean }>> {
    const model = lotModel(this.client.version);
    const pairKey = (name: string, productId: number) => `${productId}\u0000${name}`;
    const byKey = new Map(items.map((item) => [item.key, item]));
    return createIdempotent(
      this.client,
      model,
      items.map((item) => ({
        key: item.key,
        values: { name: item.name, product_id: item.productId, ...(item.expirationDate ? { expiration_date: item.expirationDate } : {}) },
      })),
      {
        findUnbound: async (keys) => {
          const wanted = keys.map((key) => byKey.get(key)!);
          const rows = await this.client.searchRead(model, [['name', 'in', wanted.map((lot) => lot.name)], ['product_id', 'in', wanted.map((lot) => lot.productId)]], { fields: ['name', 'product_id'] });
          const idByPair = new Map(rows.map((row) => [pairKey(String(row.name), many2oneId(row.product_id) ?? 0), row.id]));
          return new Map(keys.flatMap((key) => {
            const lot = byKey.get(key)!;
            const id = idByPair.get(pairKey(lot.name, lot.productId));
            return id === undefined ? [] : [[key, id] as [string, number]];
          }));
        },
      },
    );
  }
}

function toBalance(row: OdooRecord): StockBalance {
  const quantity = Number(row.quantity ?? 0);
  const reservedQuantity = Number(row.reserved_quantity ?? 0);
  return {
    productId: many2oneId(row.product_id) ?? 0,
    locationId: many2oneId(row.location_id) ?? 0,
    lotId: many2oneId(row.lot_id),
    quantity,
    reservedQuantity,
    available: quantity - reservedQuantity,
  };
}

function toLot(row: OdooRecord): Lot {
  return {
    id: row.id,
    name: String(row.name),
    productId: many2oneId(row.product_id) ?? 0,
    expirationDate: typeof row.expiration_date === 'string' && row.expiration_date ? row.expiration_date : undefined,
  };
}
