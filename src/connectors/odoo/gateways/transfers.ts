import type { OdooClient } from '../client.ts';
import { type GatewayOptions, signalled } from './options.ts';
import { createIdempotent, findByExternalIds } from '../external-ids.ts';
import { many2oneId } from '../types.ts';
import { moveNeedsName } from '../versions.ts';

export interface TransferLine {
  productId: number;
  quantity: number;
  uomId?: number;
}

export interface TransferRequest {
  /** idempotency key of the demand; also written to `origin` so a lost create can be found again */
  key: string;
  pickingTypeId: number;
  sourceLocationId: number;
  destinationLocationId: number;
  lines: TransferLine[];
  scheduledDate?: string;
}

export type PickingState = 'draft' | 'waiting' | 'confirmed' | 'assigned' | 'done' | 'cancel';

export interface TransferOutcome {
  pickingId: number;
  created: boolean;
  state: PickingState;
}

/**
 * Internal transfers that reserve stock for a demand (reference/odoo.md §2.6): create picking + moves, then
 * `action_confirm`, then `action_assign`. Each call is its own Odoo transaction (§1.4), so this is a resumable
 * saga: every run reads the picking's state and performs only the steps still missing. A retry after any
 * failure, ambiguous ones included, converges on one picking in state assigned (or confirmed if stock is short).
 */
export class TransferGateway {
  private readonly client: OdooClient;

  constructor(client: OdooClient, options: GatewayOptions = {}) {
    this.client = signalled(client, options);
  }

  async reserve(request: TransferRequest): Promise<TransferOutcome> {
    const version = this.client.version;
    const moves = request.lines.map((line) => [
      0,
      0,
      {
        ...(moveNeedsName(version) ? { name: request.key } : {}),
        product_id: line.productId,
        product_uom_qty: line.quantity,
        ...(line.uomId ? { product_uom: line.uomId } : {}),
        location_id: request.sourceLocationId,
        location_dest_id: request.destinationLocationId,
      },
    ]);
    const created = await createIdempotent(
      this.client,
      'stock.picking',
      [
        {
          key: request.key,
          values: {
            picking_type_id: request.pickingTypeId,
            location_id: request.sourceLocationId,
            location_dest_id: request.destinationLocationId,
            origin: request.key,
            ...(request.scheduledDate ? { scheduled_date: request.scheduledDate } : {}),
            // one2many command (0, 0, values) creates the moves in the same call and transaction
            move_ids: moves,
          },
        },
      ],
      { findUnbound: (keys) => this.findByOrigin(keys) },
    );
    const { id: pickingId, created: isNew } = created.get(request.key)!;
    let state: PickingState = isNew ? 'draft' : await this.state(pickingId);
    if (state === 'draft') {
      await this.client.action('stock.picking', 'action_confirm', [pickingId]);
      state = 'confirmed';
    }
    if (state === 'confirmed' || state === 'waiting') {
      await this.client.action('stock.picking', 'action_assign', [pickingId]);
      state = await this.state(pickingId);
    }
    return { pickingId, created: isNew, state };
  }

  /** Releases the reservation (`do_unreserve`) and cancels (`action_cancel`); unknown key → false. */
  async cancel(key: string): Promise<boolean> {
    const pickingId = (await findByExternalIds(this.client, 'stock.picking', [key])).get(key);
    if (pickingId === undefined) return false;
    const state = await this.state(pickingId);
    if (state === 'cancel') return true;
    if (state === 'assigned') await this.client.action('stock.picking', 'do_unreserve', [pickingId]);
    await this.client.action('stock.picking', 'action_cancel', [pickingId]);
    return true;
  }

  async unreserve(pickingId: number): Promise<void> {
    await this.client.action('stock.picking', 'do_unreserve', [pickingId]);
  }

  async state(pickingId: number): Promise<PickingState> {
    const [row] = await this.client.read('stock.picking', [pickingId], ['state']);
    return String(row?.state) as PickingState;
  }

  /** Reserved quantity per product on the picking's move lines (quantity 17+, reserved_uom_qty 16, §2.6). */
  async reservedByProduct(pickingId: number): Promise<Map<number, number>> {
    const field = this.client.version >= 17 ? 'quantity' : 'reserved_uom_qty';
    const rows = await this.client.searchRead('stock.move.line', [['picking_id', '=', pickingId]], { fields: ['product_id', field] });
    const reserved = new Map<number, number>();
    for (const row of rows) {
      const productId = many2oneId(row.product_id) ?? 0;
      reserved.set(productId, (reserved.get(productId) ?? 0) + Number(row[field] ?? 0));
    }
    return reserved;
  }

  private async findByOrigin(keys: string[]): Promise<Map<string, number>> {
    const rows = await this.client.searchRead('stock.picking', [['origin', 'in', keys]], { fields: ['origin'], order: 'id' });
    const found = new Map<string, number>();
    for (const row of rows) if (!found.has(String(row.origin))) found.set(String(row.origin), row.id);
    return found;
  }
}
