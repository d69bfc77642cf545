import type { Row } from './domain.ts';
import type { MethodSpec } from './methods.ts';
import { movesOf, nextPickingName, recomputePickingState, reserveMove } from './methods.ts';
import { type Env, odooNow, userError } from './orm.ts';
import { validatePickings } from './validate.ts';

// Purchase flow of the simulator (reference/odoo.md §2.8, §2.10): RFQ → button_confirm (→ 'to approve' under
// two-step approval) → receipt picking with moves; bills carry purchase_line_id. Behaviour follows Odoo's
// purchase / purchase_stock modules; the method names are long-standing [K], the field facts are cited in §2.8.

const action = (run: (env: Env, records: Row[], context: Record<string, unknown>) => Promise<unknown>): MethodSpec => ({
  model: false,
  readOnly: false,
  params: [],
  run: async (env, model, ids, _args, context) => run(env, await env.browse(model, ids), context),
});

const linesOf = async (env: Env, order: Row): Promise<Row[]> => [...(await env.rows('purchase.order.line')).values()].filter((line) => line.order_id === order.id);

export const purchaseMethods: Record<string, Record<string, MethodSpec>> = {
  'purchase.order': {
    // purchase.py button_confirm: orders not in draft/sent are skipped; _approval_allowed() decides between
    // approve and 'to approve'. Returns True.
    button_confirm: action(async (env, orders) => {
      for (const order of orders) {
        if (order.state !== 'draft' && order.state !== 'sent') continue;
        if ((await linesOf(env, order)).length === 0) throw userError('You cannot confirm a purchase order without any line.');
        if (await approvalAllowed(env, order)) await approve(env, order);
        else await env.update('purchase.order', order, { state: 'to approve' });
      }
      return true;
    }),
    button_approve: action(async (env, orders) => {
      for (const order of orders) if (order.state === 'to approve') await approve(env, order);
      return true;
    }),
    button_cancel: action(async (env, orders) => {
      for (const order of orders) {
        const pickings = [...(await env.rows('stock.picking')).values()].filter((p) => p.purchase_id === order.id);
        // purchase_stock: a PO whose receipt is done cannot be cancelled [K wording].
        if (pickings.some((p) => p.state === 'done')) throw userError('Unable to cancel purchase order as some receptions have already been done.');
        for (const picking of pickings) await env.update('stock.picking', picking, { state: 'cancel' });
        await env.update('purchase.order', order, { state: 'cancel' });
      }
      return true;
    }),
  },
  'stock.picking': {
    button_validate: action((env, pickings, context) => validatePickings(env, pickings, context)),
  },
  'account.move': {
    // account_move.py action_post → _post(soft=False): a bill needs its date and at least one line; the
    // sequence name (BILL/<year>/<n>) is given at posting, drafts are '/'. Returns False since 16 [K].
    action_post: action(async (env, moves) => {
      for (const move of moves) {
        if (move.state !== 'draft') throw userError('Only draft journal entries can be posted.');
        // is_purchase_document(): bills and refunds alike need their date [K wording].
        if ((move.move_type === 'in_invoice' || move.move_type === 'in_refund') && !move.invoice_date) throw userError('The Bill/Refund date is required to validate this document.');
        const lines = await billLinesOf(env, move);
        if (lines.length === 0) throw userError('You need to add a line before posting.');
        if (move.move_type === 'entry') await checkBalanced(env, move, lines);
        await env.update('account.move', move, { state: 'posted', name: move.move_type === 'entry' ? await nextEntryName(env, move) : await nextBillName(env, move) });
      }
      return false;
    }),
    // Only drafts can be cancelled [K]; a cancelled bill no longer counts in qty_invoiced.
    button_cancel: action(async (env, moves) => {
      for (const move of moves) {
        if (move.state !== 'draft') throw userError('Only draft journal entries can be cancelled.');
        await env.update('account.move', move, { state: 'cancel' });
        await recomputeQtyInvoiced(env, await billLinesOf(env, move));
      }
      return true;
    }),
    button_draft: action(async (env, moves) => {
      for (const move of moves) {
        if (move.state !== 'posted' && move.state !== 'cancel') continue;
        await env.update('account.move', move, { state: 'draft' });
        await recomputeQtyInvoiced(env, await billLinesOf(env, move));
      }
      return true;
    }),
  },
};

/**
 * purchase.py _approval_allowed [K]: one_step, or two_step with amount_total below the company's threshold, or
 * the user is a purchase manager. The simulated API user is treated as a buyer, not a manager, so the threshold
 * applies; set res.company.po_double_validation to 'two_step' to exercise 'to approve'.
 */
async function approvalAllowed(env: Env, order: Row): Promise<boolean> {
  const [company] = await env.browse('res.company', [Number(order.company_id ?? 1)]);
  if (company?.po_double_validation !== 'two_step') return true;
  return Number(order.amount_total ?? 0) < Number(company.po_double_validation_amount ?? 0);
}

async function approve(env: Env, order: Row): Promise<void> {
  await env.update('purchase.order', order, { state: 'purchase', date_approve: odooNow() });
  await createReceipt(env, order);
}

/**
 * purchase_stock _create_picking: one incoming picking of the warehouse's receipt type, one move per storable
 * line (linked by purchase_line_id), confirmed and assigned at once (nothing to reserve at a vendor).
 */
async function createReceipt(env: Env, order: Row, only?: Row[]): Promise<void> {
  const type = [...(await env.rows('stock.picking.type')).values()].find((t) => t.code === 'incoming');
  if (!type) throw userError('Make sure you have at least an incoming picking type defined');
  const vals = {
    picking_type_id: type.id,
    location_id: type.default_location_src_id,
    location_dest_id: type.default_location_dest_id,
    partner_id: order.partner_id,
    origin: order.name,
    purchase_id: order.id,
    state: 'assigned',
  };
  const picking = await env.insert('stock.picking', { ...vals, name: await nextPickingName(env, vals) });
  for (const line of only ?? (await linesOf(env, order))) {
    await env.insert('stock.move', {
      ...(env.version <= 18 ? { name: String(line.name || order.name) } : {}),
      product_id: line.product_id,
      product_uom_qty: line.product_qty,
      location_id: picking.location_id,
      location_dest_id: picking.location_dest_id,
      picking_id: picking.id,
      purchase_line_id: line.id,
      state: 'confirmed',
    });
  }
  for (const move of await movesOf(env, picking)) await reserveMove(env, picking, move);
  await recomputePickingState(env, picking);
  await env.update('purchase.order', order, { receipt_status: 'pending' });
}

/** Computed fields the simulator stores after a create: PO name and amount_total, bill name. */
export async function afterPurchaseCreate(env: Env, model: string, row: Row): Promise<void> {
  if (model === 'purchase.order') {
    const lines = await linesOf(env, row);
    const count = [...(await env.rows('purchase.order')).values()].length;
    await env.update('purchase.order', row, {
      name: row.name || `P${String(count).padStart(5, '0')}`,
      amount_total: lines.reduce((sum, line) => sum + Number(line.product_qty) * Number(line.price_unit ?? 0), 0),
      date_order: row.date_order || odooNow(),
    });
    for (const line of lines) if (!line.date_planned) await env.update('purchase.order.line', line, { date_planned: await plannedDate(env, row, line) });
  }
  if (model === 'account.move') {
    const lines = await billLinesOf(env, row);
    const entry = row.move_type === 'entry' || !row.move_type;
    await env.update('account.move', row, {
      name: row.name || '/',
      date: row.date || String(row.invoice_date || odooNow().slice(0, 10)),
      ...(entry && !row.journal_id ? { journal_id: await defaultGeneralJournal(env) } : {}),
      // an entry's total is its debits (amount_total_signed); a bill's the sum of its product lines
      amount_total: entry ? lines.reduce((sum, line) => sum + Number(line.debit ?? 0), 0) : lines.reduce((sum, line) => sum + Number(line.quantity ?? 0) * Number(line.price_unit ?? 0), 0),
    });
    await recomputeQtyInvoiced(env, lines);
  }
}

/**
 * purchase.order.line _get_date_planned(seller) [K]: the order date plus the vendor's lead time (`delay` days of
 * the product.supplierinfo row of this vendor and product), the order date itself when the vendor has none.
 */
async function plannedDate(env: Env, order: Row, line: Row): Promise<string> {
  const [product] = await env.browse('product.product', [Number(line.product_id)]);
  const sellers = [...(await env.rows('product.supplierinfo')).values()].filter(
    (info) => info.partner_id === order.partner_id && (info.product_id === line.product_id || (!info.product_id && info.product_tmpl_id === product?.product_tmpl_id)),
  );
  const delay = sellers.length > 0 ? Math.min(...sellers.map((info) => Number(info.delay ?? 0))) : 0;
  const ordered = Date.parse(`${String(order.date_order || odooNow()).replace(' ', 'T')}Z`);
  return new Date(ordered + delay * 86_400_000).toISOString().slice(0, 19).replace('T', ' ');
}

/** A written bill line may change its PO line's invoiced quantity; a PO line's new quantity changes its receipt. */
export async function afterPurchaseWrite(env: Env, model: string, row: Row, before?: Row): Promise<void> {
  if (model === 'account.move.line') await recomputeQtyInvoiced(env, [row]);
  if (model === 'purchase.order.line' && before && Number(before.product_qty) !== Number(row.product_qty)) await updateReceiptQuantity(env, row, Number(before.product_qty));
}

/**
 * purchase_stock PurchaseOrderLine.write → _create_or_update_picking on a confirmed order: a quantity below what
 * was received is refused ("You cannot decrease the ordered quantity below the received quantity. Create a
 * return first."); otherwise the open receipt move takes the difference (a decrease is a negative move merged
 * into it by stock.move._merge_moves, and a move brought to zero is cancelled). A draft/RFQ line has no move.
 */
async function updateReceiptQuantity(env: Env, line: Row, previous: number): Promise<void> {
  const [order] = await env.browse('purchase.order', [Number(line.order_id)]);
  if (order?.state !== 'purchase') return;
  const wanted = Number(line.product_qty);
  if (wanted < Number(line.qty_received ?? 0) - 1e-9) throw userError('You cannot decrease the ordered quantity below the received quantity.\nCreate a return first.');
  let delta = wanted - previous;
  const pickings = await env.rows('stock.picking');
  const open = [...(await env.rows('stock.move')).values()]
    .filter((m) => m.purchase_line_id === line.id && m.state !== 'done' && m.state !== 'cancel' && !['done', 'cancel'].includes(String(pickings.get(Number(m.picking_id))?.state)))
    .sort((a, b) => b.id - a.id);
  for (const move of open) {
    if (delta === 0) break;
    const picking = pickings.get(Number(move.picking_id))!;
    const quantity = Math.max(0, Number(move.product_uom_qty) + delta);
    delta -= quantity - Number(move.product_uom_qty);
    for (const moveLine of [...(await env.rows('stock.move.line')).values()].filter((l) => l.move_id === move.id)) await env.remove('stock.move.line', moveLine);
    if (quantity <= 1e-9) {
      await env.update('stock.move', move, { state: 'cancel', product_uom_qty: 0 });
    } else {
      await env.update('stock.move', move, { product_uom_qty: quantity, state: 'confirmed' });
      await reserveMove(env, picking, move);
    }
    const live = (await movesOf(env, picking)).filter((m) => m.state !== 'cancel');
    if (live.length === 0) await env.update('stock.picking', picking, { state: 'cancel' });
    else await recomputePickingState(env, picking);
  }
  if (delta > 1e-9) await createReceipt(env, order, [{ ...line, product_qty: delta }]);
  await recomputeReceiptStatus(env, order.id);
}

const billLinesOf = async (env: Env, move: Row): Promise<Row[]> => [...(await env.rows('account.move.line')).values()].filter((line) => line.move_id === move.id);

/**
 * purchase.py _compute_qty_invoiced [K; also seen in public copies of it]: the quantities of the PO line's bill
 * lines whose bill is not cancelled, draft bills included; in_invoice adds, in_refund subtracts.
 */
async function recomputeQtyInvoiced(env: Env, billLines: Row[]): Promise<void> {
  const poLineIds = new Set(billLines.map((line) => line.purchase_line_id).filter((id): id is number => typeof id === 'number'));
  if (poLineIds.size === 0) return;
  const moves = await env.rows('account.move');
  const allLines = [...(await env.rows('account.move.line')).values()];
  for (const poLineId of poLineIds) {
    const [poLine] = await env.browse('purchase.order.line', [poLineId]);
    let invoiced = 0;
    for (const line of allLines.filter((l) => l.purchase_line_id === poLineId)) {
      const move = moves.get(Number(line.move_id));
      if (!move || move.state === 'cancel') continue;
      if (move.move_type === 'in_invoice') invoiced += Number(line.quantity ?? 0);
      if (move.move_type === 'in_refund') invoiced -= Number(line.quantity ?? 0);
    }
    await env.update('purchase.order.line', poLine!, { qty_invoiced: invoiced });
  }
}

/**
 * account_move.py _search_default_journal: a journal entry without journal_id gets the company's first journal
 * of type 'general' (Miscellaneous Operations); none → UserError naming the company and types [K wording].
 */
async function defaultGeneralJournal(env: Env): Promise<number> {
  const journal = [...(await env.rows('account.journal')).values()].filter((j) => j.type === 'general').sort((a, b) => a.id - b.id)[0];
  if (journal) return journal.id;
  const [company] = await env.browse('res.company', [1]);
  throw userError(`No journal could be found in company ${String(company?.name ?? '')} for any of those types: general`);
}

/**
 * account_move.py _check_balanced, run when an entry is posted: the debits must equal the credits (to the
 * currency's 2 decimals) [K wording of the UserError]; every line of an entry needs its account.
 */
async function checkBalanced(env: Env, move: Row, lines: Row[]): Promise<void> {
  const debit = lines.reduce((sum, line) => sum + Number(line.debit ?? 0), 0);
  const credit = lines.reduce((sum, line) => sum + Number(line.credit ?? 0), 0);
  if (lines.some((line) => !line.account_id)) throw userError('Missing required account on accountable line.');
  if (Math.abs(debit - credit) >= 0.005) {
    const [journal] = await env.browse('account.journal', [Number(move.journal_id)]);
    throw userError(
      `The move (${String(move.name || '/')}) is not balanced.\nThe total of debits equals ${debit.toFixed(2)} and the total of credits equals ${credit.toFixed(2)}.\n` +
        `You might want to specify a default account on journal "${String(journal?.name ?? '')}" to automatically balance each move.`,
    );
  }
}

/** sequence.mixin's starting sequence for a general journal: <journal code>/<year>/<month>/<n:04> [K]. */
async function nextEntryName(env: Env, move: Row): Promise<string> {
  const [journal] = await env.browse('account.journal', [Number(move.journal_id)]);
  const month = String(move.date ?? odooNow()).slice(0, 7);
  const prefix = `${String(journal?.code ?? 'MISC')}/${month.replace('-', '/')}/`;
  const posted = [...(await env.rows('account.move')).values()].filter((m) => m.state === 'posted' && String(m.name).startsWith(prefix)).length;
  return `${prefix}${String(posted + 1).padStart(4, '0')}`;
}

async function nextBillName(env: Env, move: Row): Promise<string> {
  const year = String(move.invoice_date ?? odooNow()).slice(0, 4);
  const posted = [...(await env.rows('account.move')).values()].filter((m) => m.move_type === move.move_type && m.state === 'posted').length;
  return `${move.move_type === 'in_refund' ? 'RBILL' : 'BILL'}/${year}/${String(posted + 1).padStart(5, '0')}`;
}

/**
 * purchase_stock _compute_receipt_status [K]: no picking (or all cancelled) → False; all done/cancelled →
 * 'full'; some done → 'partial'; otherwise 'pending'.
 */
export async function recomputeReceiptStatus(env: Env, orderId: number): Promise<void> {
  const [order] = await env.browse('purchase.order', [orderId]);
  const pickings = [...(await env.rows('stock.picking')).values()].filter((p) => p.purchase_id === orderId);
  const live = pickings.filter((p) => p.state !== 'cancel');
  const status = live.length === 0 ? false : live.every((p) => p.state === 'done') ? 'full' : live.some((p) => p.state === 'done') ? 'partial' : 'pending';
  await env.update('purchase.order', order!, { receipt_status: status });
}
