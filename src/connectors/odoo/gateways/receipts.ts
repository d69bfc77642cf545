import { businessError } from '../../../contracts/errors.ts';
import type { OdooClient } from '../client.ts';
import { type GatewayOptions, signalled } from './options.ts';
import { many2oneId } from '../types.ts';
import { moveLineDoneValues } from '../versions.ts';
import { StockGateway } from './stock.ts';

export interface ReceivedLine {
  productId: number;
  quantity: number;
  /** lot or serial number printed on the goods */
  lotName?: string;
  /** product_expiry's expiration_date, 'YYYY-MM-DD HH:MM:SS' UTC; given → the lot is created first with it */
  expirationDate?: string;
}

export interface ReceiptRequest {
  pickingId: number;
  lines: ReceivedLine[];
  /** a short receipt leaves a backorder for the rest (default), or closes the rest (vendor will not deliver) */
  backorder?: boolean;
}

export interface ReceiptOutcome {
  pickingId: number;
  /** true when an earlier attempt had already validated the picking */
  alreadyDone: boolean;
  backorderId: number | undefined;
}

/**
 * Validates an incoming picking with the quantities and lots actually received (reference/odoo.md §2.5, §2.6):
 * 1. lots with an expiry date are created first (stock.lot, idempotent by name + product); other lots are passed
 *    by `lot_name` and Odoo creates them at validation;
 * 2. the lines Odoo prepared for the picking are replaced by the received ones (`qty_done` on 16, `quantity` +
 *    `picked` on 17+, versions.ts);
 * 3. `button_validate` with context `skip_backorder` (+ `picking_ids_not_to_backorder` when the rest is closed,
 *    §2.6 [K]) so no wizard is returned; 16 also gets `skip_immediate` [K].
 * A replay after an ambiguous failure reads the picking first: once done, nothing is sent again.
 */
export class ReceiptGateway {
  private readonly client: OdooClient;

  constructor(client: OdooClient, options: GatewayOptions = {}) {
    this.client = signalled(client, options);
  }

  async receive(request: ReceiptRequest): Promise<ReceiptOutcome> {
    const { pickingId } = request;
    const [picking] = await this.client.read('stock.picking', [pickingId], ['state', 'location_id', 'location_dest_id', 'move_ids']);
    if (picking!.state === 'done') return { pickingId, alreadyDone: true, backorderId: await this.backorderOf(pickingId) };
    const moves = await this.client.searchRead('stock.move', [['picking_id', '=', pickingId], ['state', 'not in', ['done', 'cancel']]], { fields: ['product_id', 'product_uom_qty', 'move_line_ids'], order: 'id' });
    const lotIds = await this.lotsWithExpiry(request.lines);
    const open = new Map(moves.map((move) => [move.id, Number(move.product_uom_qty)]));
    const lineValues = request.lines.map((line) => {
      const move = moves.find((m) => many2oneId(m.product_id) === line.productId && open.get(m.id)! > 0) ?? moves.find((m) => many2oneId(m.product_id) === line.productId);
      if (!move) throw businessError('receipt_mismatch', `product ${line.productId} is not expected on receipt ${pickingId}`, { code: 'odoo_receipt_unexpected_product', where: { field: 'lines.productId' } });
      open.set(move.id, open.get(move.id)! - line.quantity);
      const lotId = line.lotName ? lotIds.get(lotKey(line.productId, line.lotName)) : undefined;
      return {
        move_id: move.id,
        picking_id: pickingId,
        product_id: line.productId,
        location_id: many2oneId(picking!.location_id),
        location_dest_id: many2oneId(picking!.location_dest_id),
        ...(lotId ? { lot_id: lotId } : line.lotName ? { lot_name: line.lotName } : {}),
        ...moveLineDoneValues(this.client.version, line.quantity),
      };
    });
    const prepared = moves.flatMap((move) => (Array.isArray(move.move_line_ids) ? move.move_line_ids.map(Number) : []));
    if (prepared.length > 0) await this.client.call({ model: 'stock.move.line', method: 'unlink', ids: prepared });
    await this.client.create('stock.move.line', lineValues);
    const backorder = request.backorder ?? true;
    const context = {
      skip_backorder: true,
      picking_ids_not_to_backorder: backorder ? [] : [pickingId],
      ...(this.client.version <= 16 ? { skip_immediate: true } : {}),
    };
    const result = await this.client.action('stock.picking', 'button_validate', [pickingId], { context });
    if (result !== true) {
      const wizard = typeof result === 'object' && result !== null ? String((result as { res_model?: unknown }).res_model) : String(result);
      throw businessError('delivery_failed', `Odoo asked for the ${wizard} wizard to validate receipt ${pickingId}`, { code: 'odoo_wizard_required' });
    }
    const shortened = [...open.values()].some((left) => left > 1e-9);
    return { pickingId, alreadyDone: false, backorderId: backorder && shortened ? await this.backorderOf(pickingId) : undefined };
  }

  /** Open (not done/cancelled) receipts of a purchase order. */
  async openReceipts(orderId: number): Promise<number[]> {
    return this.client.search('stock.picking', [['purchase_id', '=', orderId], ['state', 'not in', ['done', 'cancel']]], { order: 'id' });
  }

  async isDone(pickingId: number): Promise<boolean> {
    const [picking] = await this.client.read('stock.picking', [pickingId], ['state']);
    return picking!.state === 'done';
  }

  /** The picking split off a short receipt to hold the rest. */
  async backorderOf(pickingId: number): Promise<number | undefined> {
    const [id] = await this.client.search('stock.picking', [['backorder_id', '=', pickingId]], { limit: 1, order: 'id' });
    return id;
  }

  private async lotsWithExpiry(lines: ReceivedLine[]): Promise<Map<string, number>> {
    const wanted = lines.filter((line) => line.lotName && line.expirationDate);
    if (wanted.length === 0) return new Map();
    const created = await new StockGateway(this.client).ensureLots(
      wanted.map((line) => ({ key: `lot:${lotKey(line.productId, line.lotName!)}`, name: line.lotName!, productId: line.productId, expirationDate: line.expirationDate! })),
    );
    return new Map([...created].map(([key, { id }]) => [key.slice(4), id]));
  }
}

const lotKey = (productId: number, lotName: string): string => `${productId}:${lotName}`;
