import type { OdooClient } from '../client.ts';
import { type GatewayOptions, signalled } from './options.ts';
import { createIdempotent, findByExternalIds } from '../external-ids.ts';
import { many2oneId, type OdooRecord } from '../types.ts';
import { hasReceiptStatus, purchaseLineUomField } from '../versions.ts';

export interface PurchaseLine {
  productId: number;
  quantity: number;
  priceUnit: number;
  uomId?: number;
  /** 'YYYY-MM-DD HH:MM:SS' UTC */
  datePlanned?: string;
  description?: string;
}

export interface PurchaseOrderRequest {
  /** idempotency key of the order; also written to `origin` (source document) so a lost create is found again */
  key: string;
  vendorId: number;
  lines: PurchaseLine[];
  /** the vendor's own reference (quotation or order number): `partner_ref` */
  vendorReference?: string;
}

/** reference/odoo.md §2.8; 19 has no 'done' (a boolean `locked` instead). */
export type PurchaseState = 'draft' | 'sent' | 'to approve' | 'purchase' | 'done' | 'cancel';
export type ReceiptStatus = 'pending' | 'partial' | 'full';

export interface PurchaseOrderStatus {
  orderId: number;
  name: string;
  state: PurchaseState;
  /** false in Odoo (no receipt yet) → undefined */
  receiptStatus: ReceiptStatus | undefined;
  pickingIds: number[];
}

export interface PurchaseOutcome extends PurchaseOrderStatus {
  created: boolean;
}

const STATUS_FIELDS = ['name', 'state', 'picking_ids'];
/** States in which button_confirm has nothing left to do. */
const CONFIRMED: readonly PurchaseState[] = ['to approve', 'purchase', 'done'];

/**
 * Purchase orders (reference/odoo.md §2.8): create the RFQ with its lines in one call ((0, 0, values) commands),
 * then `button_confirm`, which purchase_stock answers by creating the receipt. As with transfers, each call is its
 * own transaction (§1.4), so `place` is a resumable saga: a replay reads the order and does only what is missing.
 */
export class PurchaseGateway {
  private readonly client: OdooClient;

  constructor(client: OdooClient, options: GatewayOptions = {}) {
    this.client = signalled(client, options);
  }

  /** Creates the RFQ once per key (external id carelane.<key>, origin = key as the fallback). */
  async createRfq(request: PurchaseOrderRequest): Promise<{ orderId: number; created: boolean }> {
    const uomField = purchaseLineUomField(this.client.version);
    const lines = request.lines.map((line) => [
      0,
      0,
      {
        product_id: line.productId,
        product_qty: line.quantity,
        price_unit: line.priceUnit,
        ...(line.uomId ? { [uomField]: line.uomId } : {}),
        ...(line.datePlanned ? { date_planned: line.datePlanned } : {}),
        ...(line.description ? { name: line.description } : {}),
      },
    ]);
    const result = await createIdempotent(
      this.client,
      'purchase.order',
      [{ key: request.key, values: { partner_id: request.vendorId, origin: request.key, ...(request.vendorReference ? { partner_ref: request.vendorReference } : {}), order_line: lines } }],
      { findUnbound: (keys) => this.findByOrigin(keys) },
    );
    const { id, created } = result.get(request.key)!;
    return { orderId: id, created };
  }

  /** RFQ + confirmation; ends in 'purchase' (receipt created) or 'to approve' under two-step approval. */
  async place(request: PurchaseOrderRequest): Promise<PurchaseOutcome> {
    const { orderId, created } = await this.createRfq(request);
    let status = await this.status(orderId);
    if (status.state === 'draft' || status.state === 'sent') {
      await this.client.action('purchase.order', 'button_confirm', [orderId]);
      status = await this.status(orderId);
    }
    return { ...status, created };
  }

  /** Second step of two-step approval; needs a purchase manager's rights in Odoo [K]. */
  async approve(orderId: number): Promise<PurchaseOrderStatus> {
    await this.client.action('purchase.order', 'button_approve', [orderId]);
    return this.status(orderId);
  }

  async status(orderId: number): Promise<PurchaseOrderStatus> {
    const fields = hasReceiptStatus(this.client.version) ? [...STATUS_FIELDS, 'receipt_status'] : STATUS_FIELDS;
    const [row] = await this.client.read('purchase.order', [orderId], fields);
    return toStatus(row!);
  }

  /** The order of an idempotency key, by external id or, for a create whose answer was lost, by origin. */
  async findByKey(key: string): Promise<number | undefined> {
    return (await findByExternalIds(this.client, 'purchase.order', [key])).get(key) ?? (await this.findByOrigin([key])).get(key);
  }

  static isConfirmed(state: PurchaseState): boolean {
    return CONFIRMED.includes(state);
  }

  private async findByOrigin(keys: string[]): Promise<Map<string, number>> {
    const rows = await this.client.searchRead('purchase.order', [['origin', 'in', keys]], { fields: ['origin'], order: 'id' });
    const found = new Map<string, number>();
    for (const row of rows) if (!found.has(String(row.origin))) found.set(String(row.origin), row.id);
    return found;
  }
}

function toStatus(row: OdooRecord): PurchaseOrderStatus {
  const receipt = row.receipt_status;
  return {
    orderId: row.id,
    name: String(row.name),
    state: String(row.state) as PurchaseState,
    receiptStatus: receipt === 'pending' || receipt === 'partial' || receipt === 'full' ? receipt : undefined,
    pickingIds: Array.isArray(row.picking_ids) ? row.picking_ids.map((id) => many2oneId(id) ?? Number(id)) : [],
  };
}
