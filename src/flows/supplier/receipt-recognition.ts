import { many2oneId, moveLineDoneValues, type OdooClient, type ReceivedLine } from '../../connectors/odoo/index.ts';
import type { Queryable } from '../../store/database.ts';
import { otherBatchValidatedPicking } from './store.ts';

/** Why a done picking is not this batch's validation, or undefined when it is. */
export type ForeignReason = 'validated_by_other_batch' | 'other_goods';

/**
 * A batch finds the picking it chose already done: a retry or replay after an earlier attempt of its own
 * validated it (the answer was lost), or someone else validated it while this batch was failing or parked.
 * Taken for its own in the second case, the batch would count the other goods as received
 * (carelane.po_line_receipts) while Odoo never got its own. It is this batch's validation only if
 * - no other batch recorded that picking as the one it validated, and
 * - the picking holds exactly what this batch brings: its done move lines, per product and lot, are this batch's
 *   lines (ReceiptGateway.receive replaces the picking's lines with the batch's before validating).
 */
export async function foreignValidation(db: Queryable, client: OdooClient, batchKey: string, pickingId: number, lines: ReceivedLine[]): Promise<ForeignReason | undefined> {
  if (await otherBatchValidatedPicking(db, batchKey, pickingId)) return 'validated_by_other_batch';
  const done = await doneByProductAndLot(client, pickingId);
  const ours = new Map<string, number>();
  for (const line of lines) ours.set(key(line.productId, line.lotName), (ours.get(key(line.productId, line.lotName)) ?? 0) + line.quantity);
  if (done.size !== ours.size) return 'other_goods';
  for (const [what, quantity] of ours) if (Math.abs((done.get(what) ?? Number.NaN) - quantity) > 1e-6) return 'other_goods';
  return undefined;
}

const key = (productId: number, lot: string | undefined): string => `${productId}\u0000${lot ?? ''}`;

/** The done quantities on a picking's move lines, per product and lot name. */
async function doneByProductAndLot(client: OdooClient, pickingId: number): Promise<Map<string, number>> {
  // the done-quantity field of a move line: qty_done on 16, quantity from 17 (versions.ts)
  const [doneField] = Object.keys(moveLineDoneValues(client.version, 0));
  const moveLines = await client.searchRead('stock.move.line', [['picking_id', '=', pickingId]], { fields: ['product_id', 'lot_id', doneField!] });
  const lotIds = [...new Set(moveLines.map((l) => many2oneId(l.lot_id)).filter((id): id is number => id !== undefined))];
  const lotNames = new Map((lotIds.length ? await client.read('stock.lot', lotIds, ['name']) : []).map((lot) => [lot.id, String(lot.name)]));
  const done = new Map<string, number>();
  for (const line of moveLines) {
    const quantity = Number(line[doneField!]);
    if (!(quantity > 0)) continue;
    const lotId = many2oneId(line.lot_id);
    const what = key(many2oneId(line.product_id) ?? 0, lotId === undefined ? undefined : lotNames.get(lotId));
    done.set(what, (done.get(what) ?? 0) + quantity);
  }
  return done;
}
