import type { Row } from './domain.ts';
import { movesOf, nextPickingName, reserveMove, recomputePickingState } from './methods.ts';
import { type Env, odooNow, userError, validationError } from './orm.ts';
import { recomputeReceiptStatus } from './purchase.ts';

// stock.picking.button_validate as reference/odoo.md §2.6 describes it:
// - done quantities: move line `qty_done` on 16, `quantity` of *picked* lines on 17+ (OpenUpgrade stock 17.0);
// - 17+: when nothing is picked, every line is picked first (_pre_action_done_hook, §2.6);
// - 16: nothing done at all → the stock.immediate.transfer wizard (removed in 17, §2.6) unless `skip_immediate` [K];
// - less done than demanded → the stock.backorder.confirmation wizard, unless context `skip_backorder`; then a
//   backorder is created for every picking not listed in `picking_ids_not_to_backorder` [K], the rest is cancelled.
// Returns True, or the wizard's action dict (nothing changed).

const EPSILON = 1e-9;

export async function validatePickings(env: Env, pickings: Row[], context: Record<string, unknown>): Promise<unknown> {
  const noBackorder = new Set((Array.isArray(context.picking_ids_not_to_backorder) ? context.picking_ids_not_to_backorder : []).map(Number));
  const plans: Array<{ picking: Row; moves: Row[]; lines: Row[] }> = [];
  for (const picking of pickings) {
    if (picking.state === 'done' || picking.state === 'cancel') throw userError(`The transfer ${String(picking.name)} is ${String(picking.state)} and cannot be validated.`);
    if (picking.state === 'draft') throw userError('You cannot validate a draft transfer; mark it as to do first.');
    const moves = (await movesOf(env, picking)).filter((move) => move.state !== 'cancel' && move.state !== 'done');
    const lines = [...(await env.rows('stock.move.line')).values()].filter((line) => line.picking_id === picking.id);
    plans.push({ picking, moves, lines });
  }
  const done = (line: Row): number => (env.version >= 17 ? (line.picked === true ? Number(line.quantity ?? 0) : 0) : Number(line.qty_done ?? 0));
  for (const plan of plans) {
    if (plan.lines.some((line) => done(line) > 0)) continue;
    if (env.version >= 17) {
      for (const line of plan.lines) await env.update('stock.move.line', line, { picked: true });
    } else if (context.skip_immediate) {
      for (const line of plan.lines) await env.update('stock.move.line', line, { qty_done: Number(line.reserved_uom_qty ?? 0) });
    } else {
      return wizard('stock.immediate.transfer', 'Immediate Transfer?', plans.map((p) => p.picking.id));
    }
    if (!plan.lines.some((line) => done(line) > 0)) throw userError('You cannot validate a transfer if no quantities are reserved nor done. To force the transfer, encode quantities.');
  }
  const products = await env.rows('product.product');
  for (const { lines } of plans) {
    for (const line of lines) {
      const product = products.get(Number(line.product_id));
      if (done(line) > 0 && product && product.tracking !== 'none' && typeof line.lot_id !== 'number' && !line.lot_name) {
        throw userError(`You need to supply a Lot/Serial number for product:\n- ${String(product.name)}`);
      }
    }
  }
  const short = plans.some(({ moves, lines }) => moves.some((move) => doneOf(move, lines, done) < Number(move.product_uom_qty) - EPSILON));
  if (short && !context.skip_backorder) return wizard('stock.backorder.confirmation', 'Create Backorder?', plans.map((p) => p.picking.id));
  for (const plan of plans) await applyDone(env, plan, done, !noBackorder.has(plan.picking.id));
  return true;
}

const doneOf = (move: Row, lines: Row[], done: (line: Row) => number): number => lines.filter((line) => line.move_id === move.id).reduce((sum, line) => sum + done(line), 0);

function wizard(resModel: string, name: string, pickingIds: number[]): Record<string, unknown> {
  return { name, type: 'ir.actions.act_window', res_model: resModel, view_mode: 'form', views: [[false, 'form']], target: 'new', context: { button_validate_picking_ids: pickingIds, default_pick_ids: pickingIds.map((id) => [4, id]) } };
}

async function applyDone(env: Env, plan: { picking: Row; moves: Row[]; lines: Row[] }, done: (line: Row) => number, backorder: boolean): Promise<void> {
  const { picking, moves, lines } = plan;
  const [source] = await env.browse('stock.location', [Number(picking.location_id)]);
  const remainders: Array<{ move: Row; quantity: number }> = [];
  for (const line of lines) {
    const quantity = done(line);
    if (quantity <= 0) {
      await env.remove('stock.move.line', line);
      continue;
    }
    const lotId = typeof line.lot_id === 'number' ? line.lot_id : await lotFromName(env, Number(line.product_id), String(line.lot_name));
    if (source?.usage === 'internal') await takeFromQuant(env, line, quantity);
    await addToQuant(env, Number(line.product_id), Number(line.location_dest_id), lotId, quantity);
    await checkSerialQuantity(env, Number(line.product_id), Number(line.location_dest_id), lotId);
    await env.update('stock.move.line', line, { lot_id: lotId, ...(env.version >= 17 ? { quantity, picked: true } : { qty_done: quantity }) });
  }
  const purchaseLines = await env.rows('purchase.order.line');
  for (const move of moves) {
    const quantity = doneOf(move, lines, done);
    const demand = Number(move.product_uom_qty);
    if (demand - quantity > EPSILON) remainders.push({ move, quantity: demand - quantity });
    // stock_move.py _action_done splits the move: the done part stays, the rest goes to the backorder or is cancelled.
    if (quantity > 0) await env.update('stock.move', move, { state: 'done', product_uom_qty: quantity, ...(env.version >= 17 ? { quantity, picked: true } : { quantity_done: quantity }) });
    else await env.update('stock.move', move, { state: 'cancel' });
    const poLine = purchaseLines.get(Number(move.purchase_line_id));
    if (poLine && quantity > 0) await env.update('purchase.order.line', poLine, { qty_received: Number(poLine.qty_received ?? 0) + quantity });
  }
  await env.update('stock.picking', picking, { state: 'done', date_done: odooNow() });
  if (backorder && remainders.length > 0) await createBackorder(env, picking, remainders);
  if (typeof picking.purchase_id === 'number') await recomputeReceiptStatus(env, picking.purchase_id);
}

async function createBackorder(env: Env, picking: Row, remainders: Array<{ move: Row; quantity: number }>): Promise<void> {
  const { id: _id, name: _name, state: _state, date_done: _done, create_date: _c, write_date: _w, ...copied } = picking;
  const vals = { ...copied, backorder_id: picking.id, state: 'confirmed' };
  const backorder = await env.insert('stock.picking', { ...vals, name: await nextPickingName(env, vals) });
  for (const { move, quantity } of remainders) {
    const { id: _mid, state: _ms, create_date: _mc, write_date: _mw, quantity: _q, quantity_done: _qd, picked: _p, ...moveVals } = move;
    const copy = await env.insert('stock.move', { ...moveVals, picking_id: backorder.id, product_uom_qty: quantity, state: 'confirmed' });
    await reserveMove(env, backorder, copy);
  }
  await recomputePickingState(env, backorder);
}

// stock_move_line.py _create_and_assign_production_lot: lots named on incoming lines are created at validation;
// the simulator adopts an existing lot of the same name and product instead of violating uniqueness [K].
async function lotFromName(env: Env, productId: number, name: string): Promise<number | false> {
  if (!name || name === 'false') return false;
  const existing = (await env.search('stock.lot', [['name', '=', name], ['product_id', '=', productId]]))[0];
  return existing ? existing.id : (await env.insert('stock.lot', { name, product_id: productId, company_id: 1 })).id;
}

async function addToQuant(env: Env, productId: number, locationId: number, lotId: number | false, quantity: number): Promise<void> {
  const quant = [...(await env.rows('stock.quant')).values()].find((q) => q.product_id === productId && q.location_id === locationId && (q.lot_id || false) === lotId);
  if (quant) await env.update('stock.quant', quant, { quantity: Number(quant.quantity) + quantity });
  else await env.insert('stock.quant', { product_id: productId, location_id: locationId, lot_id: lotId, quantity, reserved_quantity: 0, in_date: odooNow() });
}

// stock_quant.py check_quantity (run on the quants a done move line changed): a serial number is one unit, so
// more than one of it in a location (other than inventory loss) is refused — a serial received twice, or a
// serial-tracked line of quantity above 1. The call's transaction is rolled back: nothing is validated.
async function checkSerialQuantity(env: Env, productId: number, locationId: number, lotId: number | false): Promise<void> {
  const product = (await env.rows('product.product')).get(productId);
  if (product?.tracking !== 'serial' || lotId === false) return;
  const [location] = await env.browse('stock.location', [locationId]);
  if (location?.usage === 'inventory') return;
  const quantity = [...(await env.rows('stock.quant')).values()]
    .filter((q) => q.product_id === productId && q.location_id === locationId && q.lot_id === lotId)
    .reduce((sum, q) => sum + Number(q.quantity), 0);
  if (Math.abs(quantity) - 1 > EPSILON) {
    const [lot] = await env.browse('stock.lot', [lotId]);
    throw validationError(`The serial number has already been assigned: \n Product: ${String(product.name)}, Serial Number: ${String(lot?.name)}`);
  }
}

async function takeFromQuant(env: Env, line: Row, quantity: number): Promise<void> {
  const quant = (await env.rows('stock.quant')).get(Number(line._quant_id));
  if (!quant) return;
  const reserved = env.version >= 17 ? Number(line.quantity ?? 0) : Number(line.reserved_uom_qty ?? 0);
  await env.update('stock.quant', quant, { quantity: Number(quant.quantity) - quantity, reserved_quantity: Math.max(0, Number(quant.reserved_quantity) - reserved) });
}
