import type { OdooClient } from './client.ts';
import { ProductGateway, type Product } from './gateways/products.ts';

export interface ProductPrefetchOptions {
  /** how long an answer (found or not found) is trusted; default 5 minutes */
  ttlMs?: number;
  /** codes + barcodes per search_read (default 1000): bounds the domain Odoo has to parse */
  keysPerCall?: number;
  /** entries kept at most; the oldest go first (default 100,000) */
  maxEntries?: number;
  now?: () => number;
}

export interface ProductLookup {
  byCode: Map<string, Product>;
  byBarcode: Map<string, Product>;
}

interface Entry {
  /** null: Odoo has no such product (cached too, so a batch of unknown codes is not asked again) */
  product: Product | null;
  expiresAt: number;
}

/**
 * Crosswalk prefetch: the items of a batch (a demand, a ship notice, an inventory advice) are resolved to Odoo
 * products in ONE search_read by default_code OR barcode, instead of one call per line (reference/odoo.md §1.7: a
 * round trip is the unit of cost). Answers are cached for `ttlMs`; a product renamed or recoded in Odoo is seen
 * after the TTL at the latest. Negative answers are cached as well. Not shared across processes.
 */
export class ProductPrefetch {
  private readonly products: ProductGateway;
  private readonly ttlMs: number;
  private readonly keysPerCall: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly byCode = new Map<string, Entry>();
  private readonly byBarcode = new Map<string, Entry>();
  /** Odoo calls made so far by this cache */
  roundTrips = 0;

  constructor(client: OdooClient, options: ProductPrefetchOptions = {}) {
    this.products = new ProductGateway(client);
    this.ttlMs = options.ttlMs ?? 300_000;
    this.keysPerCall = options.keysPerCall ?? 1000;
    this.maxEntries = options.maxEntries ?? 100_000;
    this.now = options.now ?? Date.now;
  }

  /** Resolves every code and barcode, asking Odoo only for those not cached (or expired). */
  async lookup(keys: { codes?: string[]; barcodes?: string[] }): Promise<ProductLookup> {
    const now = this.now();
    const codes = [...new Set(keys.codes ?? [])];
    const barcodes = [...new Set(keys.barcodes ?? [])];
    const fresh = (cache: Map<string, Entry>, key: string) => (cache.get(key)?.expiresAt ?? 0) > now;
    const missingCodes = codes.filter((code) => !fresh(this.byCode, code));
    const missingBarcodes = barcodes.filter((barcode) => !fresh(this.byBarcode, barcode));
    // Answered from what this call fetched first: the cache may already have evicted part of a huge batch.
    const fetched = await this.fetch(missingCodes, missingBarcodes, now);
    const result: ProductLookup = { byCode: new Map(), byBarcode: new Map() };
    for (const code of codes) {
      const product = fetched.byCode.get(code) ?? this.byCode.get(code)?.product;
      if (product) result.byCode.set(code, product);
    }
    for (const barcode of barcodes) {
      const product = fetched.byBarcode.get(barcode) ?? this.byBarcode.get(barcode)?.product;
      if (product) result.byBarcode.set(barcode, product);
    }
    return result;
  }

  /** Forget everything, e.g. after Carelane itself created or recoded products. */
  invalidate(): void {
    this.byCode.clear();
    this.byBarcode.clear();
  }

  get size(): number {
    return this.byCode.size + this.byBarcode.size;
  }

  private async fetch(codes: string[], barcodes: string[], now: number): Promise<ProductLookup> {
    const fetched: ProductLookup = { byCode: new Map(), byBarcode: new Map() };
    const keys = [...codes.map((value) => ({ kind: 'code' as const, value })), ...barcodes.map((value) => ({ kind: 'barcode' as const, value }))];
    for (let start = 0; start < keys.length; start += this.keysPerCall) {
      const chunk = keys.slice(start, start + this.keysPerCall);
      const chunkCodes = chunk.filter((k) => k.kind === 'code').map((k) => k.value);
      const chunkBarcodes = chunk.filter((k) => k.kind === 'barcode').map((k) => k.value);
      this.roundTrips++;
      const found = await this.products.findByCodesOrBarcodes(chunkCodes, chunkBarcodes);
      const expiresAt = now + this.ttlMs;
      for (const code of chunkCodes) this.remember(this.byCode, code, { product: null, expiresAt });
      for (const barcode of chunkBarcodes) this.remember(this.byBarcode, barcode, { product: null, expiresAt });
      // A product found by its barcode also answers its code, and the other way round: fewer calls next time.
      for (const product of found) {
        if (product.defaultCode) {
          fetched.byCode.set(product.defaultCode, product);
          this.remember(this.byCode, product.defaultCode, { product, expiresAt });
        }
        if (product.barcode) {
          fetched.byBarcode.set(product.barcode, product);
          this.remember(this.byBarcode, product.barcode, { product, expiresAt });
        }
      }
    }
    return fetched;
  }

  private remember(cache: Map<string, Entry>, key: string, entry: Entry): void {
    cache.delete(key);
    cache.set(key, entry);
    // Map keeps insertion order: the first keys are the oldest answers.
    while (cache.size > this.maxEntries) cache.delete(cache.keys().next().value!);
  }
}
