import type { OdooClient } from '../client.ts';
import { type GatewayOptions, signalled } from './options.ts';
import { createIdempotent } from '../external-ids.ts';
import { many2oneId, type OdooRecord } from '../types.ts';
import { isStorable, productTypeFields, productTypeValues } from '../versions.ts';

export type Tracking = 'none' | 'lot' | 'serial';

/** A product variant (product.product) in Carelane's words, the same on every Odoo version. */
export interface Product {
  id: number;
  templateId: number | undefined;
  defaultCode: string | undefined;
  barcode: string | undefined;
  name: string;
  tracking: Tracking;
  storable: boolean;
}

export interface NewProduct {
  /** idempotency key, e.g. 'item:<item master id>' */
  key: string;
  defaultCode: string;
  name: string;
  barcode?: string;
  tracking?: Tracking;
  storable?: boolean;
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/** Products by internal reference or barcode (reference/odoo.md §2.1: both live on the variant). */
export class ProductGateway {
  private readonly client: OdooClient;

  constructor(client: OdooClient, options: GatewayOptions = {}) {
    this.client = signalled(client, options);
  }

  private fields(): string[] {
    return ['name', 'default_code', 'barcode', 'tracking', 'product_tmpl_id', ...productTypeFields(this.client.version)];
  }

  private toProduct(record: OdooRecord): Product {
    return {
      id: record.id,
      templateId: many2oneId(record.product_tmpl_id),
      defaultCode: text(record.default_code),
      barcode: text(record.barcode),
      name: String(record.name),
      tracking: (text(record.tracking) as Tracking | undefined) ?? 'none',
      storable: isStorable(this.client.version, record),
    };
  }

  /** One round trip for any number of codes. */
  async findByCodes(codes: string[]): Promise<Product[]> {
    if (codes.length === 0) return [];
    const rows = await this.client.searchRead('product.product', [['default_code', 'in', codes]], { fields: this.fields() });
    return rows.map((row) => this.toProduct(row));
  }

  async findByBarcodes(barcodes: string[]): Promise<Product[]> {
    if (barcodes.length === 0) return [];
    const rows = await this.client.searchRead('product.product', [['barcode', 'in', barcodes]], { fields: this.fields() });
    return rows.map((row) => this.toProduct(row));
  }

  /** Products matching any of the codes or any of the barcodes: one round trip (an OR domain). */
  async findByCodesOrBarcodes(codes: string[], barcodes: string[]): Promise<Product[]> {
    if (codes.length === 0 && barcodes.length === 0) return [];
    const domain =
      codes.length === 0 ? [['barcode', 'in', barcodes] as [string, string, unknown]] : barcodes.length === 0 ? [['default_code', 'in', codes] as [string, string, unknown]] : ['|', ['default_code', 'in', codes] as [string, string, unknown], ['barcode', 'in', barcodes] as [string, string, unknown]];
    const rows = await this.client.searchRead('product.product', domain, { fields: this.fields() });
    return rows.map((row) => this.toProduct(row));
  }

  async read(ids: number[]): Promise<Product[]> {
    return (await this.client.read('product.product', ids, this.fields())).map((row) => this.toProduct(row));
  }

  /**
   * Unit cost per product: `standard_price`, company-dependent on product.product (read as the API user's
   * company sees it) [K]. One round trip; a product Odoo does not return is absent from the map.
   */
  async standardPrices(ids: number[]): Promise<Map<number, number>> {
    if (ids.length === 0) return new Map();
    const rows = await this.client.read('product.product', ids, ['standard_price']);
    return new Map(rows.map((row) => [row.id, Number(row.standard_price ?? 0)]));
  }

  /**
   * Creates the products that do not exist yet (by external id, then by default_code for a create whose
   * answer was lost) in one `create` with a list of values; returns the id per key.
   */
  async ensure(items: NewProduct[]): Promise<Map<string, { id: number; created: boolean }>> {
    const version = this.client.version;
    const codeByKey = new Map(items.map((item) => [item.key, item.defaultCode]));
    return createIdempotent(
      this.client,
      'product.product',
      items.map((item) => ({
        key: item.key,
        values: {
          name: item.name,
          default_code: item.defaultCode,
          ...(item.barcode ? { barcode: item.barcode } : {}),
          tracking: item.tracking ?? 'none',
          ...productTypeValues(version, item.storable ?? true),
        },
      })),
      {
        findUnbound: async (keys) => {
          const codes = keys.map((key) => codeByKey.get(key)!);
          const rows = await this.client.searchRead('product.product', [['default_code', 'in', codes]], { fields: ['default_code'] });
          const idByCode = new Map(rows.map((row) => [String(row.default_code), row.id]));
          return new Map(keys.flatMap((key) => (idByCode.has(codeByKey.get(key)!) ? [[key, idByCode.get(codeByKey.get(key)!)!] as [string, number]] : [])));
        },
      },
    );
  }
}
