import type { OdooClient } from '../client.ts';
import { type GatewayOptions, signalled } from './options.ts';
import { createIdempotent } from '../external-ids.ts';
import { many2oneId, type Domain, type OdooRecord } from '../types.ts';
import { supplierInfoPartnerField } from '../versions.ts';

/** A vendor (res.partner with supplier_rank > 0, reference/odoo.md §2.2). */
export interface Vendor {
  id: number;
  name: string;
  /** Odoo's `ref`, where Carelane keeps the vendor's code in the item master */
  ref: string | undefined;
}

export interface NewVendor {
  /** idempotency key, e.g. 'vendor:<vendor master id>' */
  key: string;
  name: string;
  ref: string;
}

/** One line of a vendor pricelist (product.supplierinfo, §2.2). */
export interface VendorPrice {
  id: number;
  vendorId: number;
  productTemplateId: number | undefined;
  /** set when the price is for one variant only */
  productId: number | undefined;
  price: number;
  minQuantity: number;
  /** lead time in days */
  delayDays: number;
  sequence: number;
  dateStart: string | undefined;
  dateEnd: string | undefined;
}

export interface NewVendorPrice {
  key: string;
  vendorId: number;
  productTemplateId: number;
  productId?: number;
  price: number;
  minQuantity?: number;
  delayDays?: number;
  sequence?: number;
  vendorProductCode?: string;
}

export interface SellerQuery {
  productId: number;
  productTemplateId: number;
  quantity?: number;
  /** 'YYYY-MM-DD'; default today (UTC) */
  date?: string;
  /** restrict to one vendor, as _select_seller's partner_id does */
  vendorId?: number;
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

export class VendorGateway {
  private readonly client: OdooClient;

  constructor(client: OdooClient, options: GatewayOptions = {}) {
    this.client = signalled(client, options);
  }

  /** Vendors by `ref` (the reliable key, as Bahmni keys partners on it, §4.2) or exact name: one round trip. */
  async find(query: { refs?: string[]; names?: string[] }): Promise<Vendor[]> {
    const refs = query.refs ?? [];
    const names = query.names ?? [];
    if (refs.length === 0 && names.length === 0) return [];
    const domain: Domain = refs.length > 0 && names.length > 0 ? ['|', ['ref', 'in', refs], ['name', 'in', names]] : refs.length > 0 ? [['ref', 'in', refs]] : [['name', 'in', names]];
    const rows = await this.client.searchRead('res.partner', domain, { fields: ['name', 'ref'], order: 'id' });
    return rows.map((row) => ({ id: row.id, name: String(row.name), ref: text(row.ref) }));
  }

  /** Creates missing vendors as companies with supplier_rank 1; a vendor found by `ref` is adopted, not duplicated. */
  async ensure(items: NewVendor[]): Promise<Map<string, { id: number; created: boolean }>> {
    const refByKey = new Map(items.map((item) => [item.key, item.ref]));
    return createIdempotent(
      this.client,
      'res.partner',
      items.map((item) => ({ key: item.key, values: { name: item.name, ref: item.ref, is_company: true, supplier_rank: 1 } })),
      {
        findUnbound: async (keys) => {
          const found = await this.find({ refs: keys.map((key) => refByKey.get(key)!) });
          const idByRef = new Map(found.map((vendor) => [vendor.ref, vendor.id]));
          return new Map(keys.flatMap((key) => (idByRef.has(refByKey.get(key)) ? [[key, idByRef.get(refByKey.get(key))!] as [string, number]] : [])));
        },
      },
    );
  }

  /** Pricelist lines of some products' templates (and their variant-specific lines): one round trip. */
  async prices(productTemplateIds: number[]): Promise<VendorPrice[]> {
    if (productTemplateIds.length === 0) return [];
    const partner = supplierInfoPartnerField(this.client.version);
    const rows = await this.client.searchRead('product.supplierinfo', [['product_tmpl_id', 'in', productTemplateIds]], {
      fields: [partner, 'product_tmpl_id', 'product_id', 'price', 'min_qty', 'delay', 'sequence', 'date_start', 'date_end'],
      order: 'sequence, id',
    });
    return rows.map((row) => toVendorPrice(row, partner));
  }

  /** Pricelist lines are keyed by the caller (e.g. 'price:<vendor>:<item>:<min qty>'); one create for all missing. */
  async ensurePrices(items: NewVendorPrice[]): Promise<Map<string, { id: number; created: boolean }>> {
    const partner = supplierInfoPartnerField(this.client.version);
    return createIdempotent(
      this.client,
      'product.supplierinfo',
      items.map((item) => ({
        key: item.key,
        values: {
          [partner]: item.vendorId,
          product_tmpl_id: item.productTemplateId,
          ...(item.productId ? { product_id: item.productId } : {}),
          price: item.price,
          min_qty: item.minQuantity ?? 0,
          delay: item.delayDays ?? 1,
          sequence: item.sequence ?? 1,
          ...(item.vendorProductCode ? { product_code: item.vendorProductCode } : {}),
        },
      })),
    );
  }

  /** The vendor price Odoo would pick for a purchase of `quantity` (see selectSeller): one round trip. */
  async preferredVendor(query: SellerQuery): Promise<VendorPrice | undefined> {
    return selectSeller(await this.prices([query.productTemplateId]), query);
  }
}

/**
 * Odoo's product.product._select_seller, computed here because a method whose name starts with `_` cannot be
 * called over RPC. Following its source (product_product.py, 16–19; excerpts seen, unnamed):
 * 1. keep lines valid on `date` (date_start ≤ date ≤ date_end), for the vendor if one is given, whose
 *    min_qty ≤ quantity, and whose product_id is empty or this variant (_get_filtered_sellers);
 * 2. in the order of _prepare_sellers — (sequence, −min_qty, price, id) [K] — the first line's vendor wins;
 * 3. among that vendor's lines, the cheapest: 16 sorts by `price`; 17+ by (price_discounted, sequence, id),
 *    which equals price when no discount is set (Carelane writes none).
 */
export function selectSeller(prices: VendorPrice[], query: SellerQuery): VendorPrice | undefined {
  const date = query.date ?? new Date().toISOString().slice(0, 10);
  const quantity = query.quantity ?? 0;
  const eligible = prices
    .filter((line) => line.productTemplateId === query.productTemplateId)
    .filter((line) => !(line.dateStart && line.dateStart > date) && !(line.dateEnd && line.dateEnd < date))
    .filter((line) => query.vendorId === undefined || line.vendorId === query.vendorId)
    .filter((line) => quantity >= line.minQuantity)
    .filter((line) => line.productId === undefined || line.productId === query.productId)
    .sort((a, b) => a.sequence - b.sequence || b.minQuantity - a.minQuantity || a.price - b.price || a.id - b.id);
  const first = eligible[0];
  if (!first) return undefined;
  return eligible.filter((line) => line.vendorId === first.vendorId).sort((a, b) => a.price - b.price || a.sequence - b.sequence || a.id - b.id)[0];
}

function toVendorPrice(row: OdooRecord, partnerField: string): VendorPrice {
  return {
    id: row.id,
    vendorId: many2oneId(row[partnerField]) ?? 0,
    productTemplateId: many2oneId(row.product_tmpl_id),
    productId: many2oneId(row.product_id),
    price: Number(row.price ?? 0),
    minQuantity: Number(row.min_qty ?? 0),
    delayDays: Number(row.delay ?? 0),
    sequence: Number(row.sequence ?? 0),
    dateStart: text(row.date_start),
    dateEnd: text(row.date_end),
  };
}
