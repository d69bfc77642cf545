import { permanentError } from '../../../contracts/errors.ts';
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

export interface ReservationDetail {
  lines: Array<{ productId: number; requested: number; reserved: number }>;
  /** some line reserved less than requested (Odoo: partially available, the picking stays 'confirmed') */
  partial: boolean;
}

/** Odoo's datetime format: UTC 'YYYY-MM-DD HH:MM:SS' (reference/odoo.md §1.1); ISO strings and Dates accepted. */
export function odooDatetime(value: string | Date): string {
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(value)) return value;
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) throw permanentError(`not a date: ${String(value)}`, { code: 'odoo_bad_payload', where: { field: 'scheduledDate' } });
  return date.toISOString().slice(0, 19).replace('T', ' ');
}

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
            ...(request.scheduledDate ? { scheduled_date: odooDatetime(request.scheduledDate) } : {}),
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

  /**
   * Releases the reservation (`do_unreserve`) and cancels (`action_cancel`); unknown key → false. Idempotent: a
   * cancelled picking is left alone. A partially reserved picking is 'confirmed' with reserved lines, so every
   * state that can hold a reservation is unreserved first.
   */
  async cancel(key: string): Promise<boolean> {
    const pickingId = await this.findByKey(key);
    if (pickingId === undefined) return false;
    const state = await this.state(pickingId);
    if (state === 'cancel') return true;
    if (state === 'assigned' || state === 'confirmed' || state === 'waiting') await this.client.action('stock.picking', 'do_unreserve', [pickingId]);
    await this.client.action('stock.picking', 'action_cancel', [pickingId]);
    return true;
  }

  /**
   * Moves the transfer of `key` to a new date: `scheduled_date` on the picking, which Odoo's inverse writes to
   * every move (stock_picking.py _set_scheduled_date). A done or cancelled transfer cannot be rescheduled (Odoo
   * raises a UserError → business failure); an unknown key is a permanent error. Writing the same date twice is
   * harmless, so a retry needs no lookup of its own.
   */
  async reschedule(key: string, scheduledDate: string | Date): Promise<{ pickingId: number; scheduledDate: string; state: PickingState }> {
    const pickingId = await this.findByKey(key);
    if (pickingId === undefined) throw permanentError(`no Odoo transfer for ${key}`, { code: 'odoo_transfer_unknown', where: { field: 'transferKey' } });
    const date = odooDatetime(scheduledDate);
    await this.client.write('stock.picking', [pickingId], { scheduled_date: date });
    return { pickingId, scheduledDate: date, state: await this.state(pickingId) };
  }

  /** The picking's scheduled date as Odoo stores it (UTC 'YYYY-MM-DD HH:MM:SS') and its state. */
  async schedule(pickingId: number): Promise<{ scheduledDate: string | undefined; state: PickingState }> {
    const [row] = await this.client.read('stock.picking', [pickingId], ['scheduled_date', 'state']);
    return { scheduledDate: typeof row?.scheduled_date === 'string' ? row.scheduled_date : undefined, state: String(row?.state) as PickingState };
  }

  /** The picking created for an idempotency key (bound by external id). */
  async findByKey(key: string): Promise<number | undefined> {
    return (await findByExternalIds(this.client, 'stock.picking', [key])).get(key);
  }

  /**
   * Requested versus reserved quantity per product: what a partially available transfer could not reserve yet.
   * One round trip (the move lines).
   */
  async reservation(pickingId: number, lines: TransferLine[]): Promise<ReservationDetail> {
    const reserved = await this.reservedByProduct(pickingId);
    const requested = new Map<number, number>();
    for (const line of lines) requested.set(line.productId, (requested.get(line.productId) ?? 0) + line.quantity);
    const detail = [...requested].map(([productId, quantity]) => ({ productId, requested: quantity, reserved: reserved.get(productId) ?? 0 }));
    return { lines: detail, partial: detail.some((line) => line.reserved < line.requested) };
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
