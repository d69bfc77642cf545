import type { DomainItem, Row } from './domain.ts';
import { purchaseMethods, afterPurchaseCreate, afterPurchaseWrite } from './purchase.ts';
import { type Env, odooNow, typeError, userError, validationError } from './orm.ts';

// Model methods the simulator answers. Parameter names are the Python ones, which JSON-2 requires as named
// arguments (reference/odoo.md §1.4) and which execute_kw binds keyword arguments to.

interface MethodSpec {
  /** @api.model methods take no ids (JSON-2 answers 422 if ids are given, §1.4) */
  model: boolean;
  params: readonly string[];
  readOnly: boolean;
  /** `context` is the call's context (execute_kw kw['context'] or JSON-2's body key, §1.1, §1.4) */
  run(env: Env, model: string, ids: number[], args: Record<string, unknown>, context: Record<string, unknown>): Promise<unknown>;
}

const generic: Record<string, MethodSpec> = {
  search_read: {
    model: true,
    readOnly: true,
    params: ['domain', 'fields', 'offset', 'limit', 'order'],
    async run(env, model, _ids, a) {
      const rows = await env.search(model, (a.domain as DomainItem[]) ?? [], searchOptions(a));
      return env.presentAll(model, rows, a.fields as string[] | undefined);
    },
  },
  search: {
    model: true,
    readOnly: true,
    params: ['domain', 'offset', 'limit', 'order'],
    async run(env, model, _ids, a) {
      return (await env.search(model, (a.domain as DomainItem[]) ?? [], searchOptions(a))).map((row) => row.id);
    },
  },
  search_count: {
    model: true,
    readOnly: true,
    params: ['domain', 'limit'],
    async run(env, model, _ids, a) {
      return (await env.search(model, (a.domain as DomainItem[]) ?? [])).length;
    },
  },
  read: {
    model: false,
    readOnly: true,
    params: ['fields', 'load'],
    async run(env, model, ids, a) {
      return env.presentAll(model, await env.browseForRead(model, ids), a.fields as string[] | undefined);
    },
  },
  create: {
    model: true,
    readOnly: false,
    params: ['vals_list'],
    async run(env, model, _ids, a) {
      const single = !Array.isArray(a.vals_list);
      const list = (single ? [a.vals_list] : a.vals_list) as Array<Record<string, unknown>>;
      const ids: number[] = [];
      for (const vals of list) ids.push((await createRecord(env, model, vals ?? {})).id);
      // @api.model_create_multi: a dict in → one id out, a list in → a list of ids.
      return single ? ids[0] : ids;
    },
  },
  write: {
    model: false,
    readOnly: false,
    params: ['vals'],
    async run(env, model, ids, a) {
      const def = env.model(model);
      const vals = env.checkValues(def, (a.vals as Record<string, unknown>) ?? {});
      for (const row of await env.browse(model, ids)) {
        await checkConstraints(env, model, { ...row, ...vals }, row.id);
        if (model === 'stock.picking' && 'scheduled_date' in vals) await setScheduledDate(env, row, vals.scheduled_date);
        const before = { ...row };
        await env.update(model, row, vals);
        await afterPurchaseWrite(env, model, row, before);
      }
      return true;
    },
  },
  unlink: {
    model: false,
    readOnly: false,
    params: [],
    async run(env, model, ids) {
      for (const row of await env.browse(model, ids)) await env.remove(model, row);
      return true;
    },
  },
};

const modelSpecific: Record<string, Record<string, MethodSpec>> = {
  'res.users': {
    context_get: { model: true, readOnly: true, params: [], run: async () => ({ lang: 'en_US', tz: 'UTC' }) },
  },
  'stock.picking': {
    action_confirm: recordAction(async (env, pickings) => {
      for (const picking of pickings) {
        const moves = await movesOf(env, picking);
        // stock_picking.py action_confirm on a picking without moves [K wording].
        if (moves.length === 0) throw userError('Please add some items to move.');
        for (const move of moves) if (move.state === 'draft') await env.update('stock.move', move, { state: 'confirmed' });
        if (picking.state === 'draft') await env.update('stock.picking', picking, { state: 'confirmed' });
      }
      return true;
    }),
    action_assign: recordAction(async (env, pickings) => {
      for (const picking of pickings) {
        if (picking.state === 'draft') throw userError('You cannot reserve a draft transfer; confirm it first.');
        for (const move of await movesOf(env, picking)) await reserveMove(env, picking, move);
        await recomputePickingState(env, picking);
      }
      return true;
    }),
    // Returns None like stock_picking.py do_unreserve: XML-RPC then answers fault 1 after the commit (§1.1).
    do_unreserve: recordAction(async (env, pickings) => {
      for (const picking of pickings) {
        await unreserve(env, picking);
        await recomputePickingState(env, picking);
      }
      return null;
    }),
    action_cancel: recordAction(async (env, pickings) => {
      for (const picking of pickings) {
        if (picking.state === 'done') throw userError('You cannot cancel a transfer that is done.');
        await unreserve(env, picking);
        for (const move of await movesOf(env, picking)) await env.update('stock.move', move, { state: 'cancel' });
        await env.update('stock.picking', picking, { state: 'cancel' });
      }
      return true;
    }),
  },
};

export function findMethod(model: string, method: string): MethodSpec | undefined {
  return modelSpecific[model]?.[method] ?? purchaseMethods[model]?.[method] ?? (Object.hasOwn(generic, method) ? generic[method] : undefined);
}

export type { MethodSpec };

/**
 * Positional RPC arguments → named ones: the first positional is the ids for record methods (reference/odoo.md
 * §1.1), the rest follow the Python signature; an unknown keyword is Python's TypeError.
 */
export function bindArguments(spec: MethodSpec, method: string, positional: unknown[], named: Record<string, unknown>): { ids: number[]; args: Record<string, unknown> } {
  const rest = [...positional];
  let ids: number[] = [];
  if (!spec.model) {
    const first = rest.shift();
    ids = Array.isArray(first) ? first.map(Number) : typeof first === 'number' ? [first] : [];
  }
  const args: Record<string, unknown> = {};
  rest.forEach((value, index) => {
    const name = spec.params[index];
    if (!name) throw typeError(`${method}() takes ${spec.params.length + 1} positional arguments but ${positional.length + 1} were given`);
    args[name] = value;
  });
  for (const [name, value] of Object.entries(named)) {
    if (name === 'context') continue;
    if (!spec.params.includes(name)) throw typeError(`${method}() got an unexpected keyword argument '${name}'`);
    args[name] = value;
  }
  return { ids, args };
}

export function recordAction(run: (env: Env, records: Row[], context: Record<string, unknown>) => Promise<unknown>): MethodSpec {
  return { model: false, readOnly: false, params: [], run: async (env, model, ids, _args, context) => run(env, await env.browse(model, ids), context) };
}

function searchOptions(a: Record<string, unknown>) {
  return {
    ...(typeof a.order === 'string' ? { order: a.order } : {}),
    ...(typeof a.offset === 'number' ? { offset: a.offset } : {}),
    ...(typeof a.limit === 'number' ? { limit: a.limit } : {}),
  };
}

export async function createRecord(env: Env, model: string, vals: Record<string, unknown>): Promise<Row> {
  const def = env.model(model);
  const clean = env.withDefaults(def, env.checkValues(def, vals));
  // stock_quant.py create outside inventory mode (reference/odoo.md §2.4); the simulator seeds quants directly.
  if (model === 'stock.quant') throw userError("Quant's creation is restricted, you can't do this operation.");
  await checkConstraints(env, model, clean, undefined);
  if (model === 'product.product' && clean.product_tmpl_id === undefined) {
    // _inherits product.template: a variant created alone brings its template (simplified: copied once).
    const tmplFields = Object.keys(env.model('product.template').fields);
    const template = await env.insert('product.template', Object.fromEntries(Object.entries(clean).filter(([k]) => tmplFields.includes(k))));
    clean.product_tmpl_id = template.id;
  }
  if (model === 'product.product' || model === 'product.template') Object.assign(clean, derivedType(env, clean));
  if (model === 'stock.picking' && !clean.name) clean.name = await nextPickingName(env, clean);
  // name defaults to ir.sequence 'stock.orderpoint' (prefix OP/) [K format].
  if (model === 'stock.warehouse.orderpoint' && !clean.name) clean.name = `OP/${String((await env.rows(model)).size + 1).padStart(5, '0')}`;
  if (model === 'stock.location') clean.complete_name = await completeName(env, 'stock.location', 'location_id', '/', clean);
  // hr_department.py _compute_complete_name joins with ' / ' [K].
  if (model === 'hr.department') clean.complete_name = await completeName(env, 'hr.department', 'parent_id', ' / ', clean);
  const row = await env.insert(model, clean);
  // one2many commands: (0, 0, values) creates a child linked through the inverse many2one.
  for (const [name, field] of Object.entries(def.fields)) {
    if (field.type !== 'one2many' || !Array.isArray(vals[name])) continue;
    for (const command of vals[name] as unknown[]) {
      if (!Array.isArray(command) || command[0] !== 0) throw valueErrorCommand(name);
      await createRecord(env, field.relation!, { ...(command[2] as Record<string, unknown>), [field.inverse!]: row.id });
    }
  }
  await afterPurchaseCreate(env, model, row);
  return row;
}

const valueErrorCommand = (field: string) => validationError(`Only (0, 0, values) commands are simulated for ${field}`);

// 16–17: type follows detailed_type ('product' = storable) (reference/odoo.md §2.1).
function derivedType(env: Env, vals: Record<string, unknown>): Record<string, unknown> {
  return env.version <= 17 && typeof vals.detailed_type === 'string' ? { type: vals.detailed_type } : {};
}

async function checkConstraints(env: Env, model: string, vals: Record<string, unknown>, selfId: number | undefined): Promise<void> {
  if (model === 'product.product' && typeof vals.barcode === 'string' && vals.barcode) {
    const clash = (await env.search(model, [['barcode', '=', vals.barcode]])).find((row) => row.id !== selfId);
    // product.py _check_barcode_uniqueness (a Python check since 16, reference/odoo.md §2.1) [K wording].
    if (clash) throw validationError(`Barcode(s) already assigned:\n\n- Barcode "${vals.barcode}" already assigned to product(s): ${String(clash.name)}`);
  }
  if (model === 'stock.lot') {
    const clash = (await env.search(model, [['name', '=', vals.name], ['product_id', '=', vals.product_id]])).find((row) => row.id !== selfId);
    // stock_lot.py _check_unique_lot [K wording].
    if (clash) throw validationError(`The combination of serial number and product must be unique across a company.\nFollowing combination contains duplicates:\n - Product: ${String(vals.product_id)}, Serial Number: ${String(vals.name)}`);
  }
  if (model === 'ir.model.data') {
    const clash = (await env.search(model, [['module', '=', vals.module], ['name', '=', vals.name]])).find((row) => row.id !== selfId);
    // ir_model_data_module_name_uniq_index: the IntegrityError surfaces as a ValidationError (§1.6).
    if (clash) throw validationError(`The operation cannot be completed: duplicate key value violates unique constraint "ir_model_data_module_name_uniq_index" (${String(vals.module)}.${String(vals.name)})`);
  }
  if (model === 'stock.warehouse.orderpoint') {
    const clash = (await env.search(model, [['product_id', '=', vals.product_id], ['location_id', '=', vals.location_id], ['company_id', '=', vals.company_id ?? 1]])).find((row) => row.id !== selfId);
    // _sql_constraints product_location_check / qty_multiple_check (≤18) of stock_orderpoint.py.
    if (clash) throw validationError('The combination of product and location must be unique.');
    if (typeof vals.qty_multiple === 'number' && vals.qty_multiple < 0) throw validationError('Qty Multiple must be greater than or equal to zero.');
  }
  if ((model === 'stock.move' || model === 'stock.quant') && typeof vals.product_uom_qty === 'number' && vals.product_uom_qty <= 0) {
    throw validationError('The quantity of a stock move must be positive.');
  }
}

export async function nextPickingName(env: Env, vals: Record<string, unknown>): Promise<string> {
  const [type] = await env.browse('stock.picking.type', [Number(vals.picking_type_id)]).catch(() => [undefined]);
  const count = (await env.rows('stock.picking')).size + 1;
  return `WH/${String(type?.sequence_code ?? 'INT')}/${String(count).padStart(5, '0')}`;
}

async function completeName(env: Env, model: string, parentField: string, separator: string, vals: Record<string, unknown>): Promise<string> {
  const parentId = vals[parentField];
  if (typeof parentId !== 'number') return String(vals.name);
  const [parent] = await env.browse(model, [parentId]);
  return `${String(parent!.complete_name ?? parent!.name)}${separator}${String(vals.name)}`;
}

export async function movesOf(env: Env, picking: Row): Promise<Row[]> {
  return [...(await env.rows('stock.move')).values()].filter((move) => move.picking_id === picking.id);
}

const reservedField = (env: Env) => (env.version >= 17 ? 'quantity' : 'reserved_uom_qty');

/**
 * Reserves a move from quants under its source location, earliest expiry first (FEFO, reference/odoo.md §2.5),
 * then oldest quant. Creates move lines with the reserved quantity and raises quant.reserved_quantity (§2.4).
 */
export async function reserveMove(env: Env, picking: Row, move: Row): Promise<void> {
  if (!['confirmed', 'partially_available', 'waiting'].includes(String(move.state))) return;
  const lines = [...(await env.rows('stock.move.line')).values()].filter((line) => line.move_id === move.id);
  const field = reservedField(env);
  const [source] = await env.browse('stock.location', [Number(move.location_id)]);
  if (source?.usage !== 'internal') {
    // Goods from a vendor (or any non-internal location) are not held in quants: Odoo reserves the whole demand
    // at once, which is why a receipt is 'assigned' (Ready) right after the PO is confirmed [K].
    const open = Number(move.product_uom_qty) - lines.reduce((sum, line) => sum + Number(line[field] ?? 0), 0);
    if (open > 0) {
      await env.insert('stock.move.line', { move_id: move.id, picking_id: picking.id, product_id: move.product_id, location_id: move.location_id, location_dest_id: move.location_dest_id, lot_id: false, [field]: open, ...(env.version >= 17 ? { picked: false } : { qty_done: 0 }) });
    }
    await env.update('stock.move', move, { state: 'assigned' });
    return;
  }
  let needed = Number(move.product_uom_qty) - lines.reduce((sum, line) => sum + Number(line[field] ?? 0), 0);
  const quants = await env.search('stock.quant', [['product_id', '=', move.product_id], ['location_id', 'child_of', move.location_id]]);
  const lots = await env.rows('stock.lot');
  const expiry = (quant: Row) => String(lots.get(Number(quant.lot_id))?.expiration_date ?? '9999');
  quants.sort((a, b) => expiry(a).localeCompare(expiry(b)) || a.id - b.id);
  for (const quant of quants) {
    if (needed <= 0) break;
    const free = Number(quant.quantity) - Number(quant.reserved_quantity);
    if (free <= 0) continue;
    const take = Math.min(free, needed);
    needed -= take;
    await env.update('stock.quant', quant, { reserved_quantity: Number(quant.reserved_quantity) + take });
    await env.insert('stock.move.line', {
      move_id: move.id,
      picking_id: picking.id,
      product_id: move.product_id,
      location_id: quant.location_id,
      location_dest_id: move.location_dest_id,
      lot_id: quant.lot_id ?? false,
      [field]: take,
      _quant_id: quant.id,
    });
  }
  const reserved = Number(move.product_uom_qty) - needed;
  await env.update('stock.move', move, { state: needed <= 0 ? 'assigned' : reserved > 0 ? 'partially_available' : 'confirmed' });
}

async function unreserve(env: Env, picking: Row): Promise<void> {
  const field = reservedField(env);
  const quants = await env.rows('stock.quant');
  for (const line of [...(await env.rows('stock.move.line')).values()].filter((l) => l.picking_id === picking.id)) {
    const quant = quants.get(Number(line._quant_id));
    if (quant) await env.update('stock.quant', quant, { reserved_quantity: Math.max(0, Number(quant.reserved_quantity) - Number(line[field] ?? 0)) });
    await env.remove('stock.move.line', line);
  }
  for (const move of await movesOf(env, picking)) {
    if (move.state === 'assigned' || move.state === 'partially_available') await env.update('stock.move', move, { state: 'confirmed' });
  }
}

// A picking is 'assigned' once every move is fully reserved [K: move_type 'direct' also shows partially
// reserved pickings as ready; the simulator keeps the stricter 'one' rule].
export async function recomputePickingState(env: Env, picking: Row): Promise<void> {
  const moves = (await movesOf(env, picking)).filter((move) => move.state !== 'cancel');
  const state = moves.length > 0 && moves.every((move) => move.state === 'assigned') ? 'assigned' : 'confirmed';
  if (picking.state !== state) await env.update('stock.picking', picking, { state });
}

export const nowForSeed = odooNow;

/**
 * stock_picking.py _set_scheduled_date (the inverse of scheduled_date): refused on a done or cancelled transfer,
 * otherwise written to every move's `date` [K wording].
 */
async function setScheduledDate(env: Env, picking: Row, date: unknown): Promise<void> {
  if (picking.state === 'done' || picking.state === 'cancel') throw userError('You cannot change the Scheduled Date on a done or cancelled transfer.');
  for (const move of await movesOf(env, picking)) await env.update('stock.move', move, { date });
}
