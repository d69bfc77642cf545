// The subset of Odoo's data model the simulator serves, per version. Field names follow reference/odoo.md §2
// (OpenUpgrade analyses of the real models); only fields the Carelane gateways read or write are declared.

export type SimVersion = 16 | 17 | 18 | 19;

export type FieldType = 'char' | 'text' | 'integer' | 'float' | 'boolean' | 'selection' | 'many2one' | 'one2many' | 'datetime' | 'date' | 'json';

export interface FieldDef {
  type: FieldType;
  required?: boolean;
  relation?: string;
  /** one2many: the many2one on `relation` pointing back */
  inverse?: string;
  selection?: readonly string[];
  default?: unknown;
  /** a non-stored compute: answered on read (orderpoint.ts), refused in a domain, ignored on write */
  computed?: boolean;
}

export interface ModelDef {
  name: string;
  /** label used in Odoo's access error messages */
  description: string;
  fields: Record<string, FieldDef>;
  /** the many2one that makes `child_of` work (parent_path in Odoo) */
  parentField?: string;
  /** field shown as display_name in many2one values */
  nameField?: string;
}

const char = (required = false): FieldDef => ({ type: 'char', required });
const float = (defaultValue = 0): FieldDef => ({ type: 'float', default: defaultValue });
const m2o = (relation: string, required = false): FieldDef => ({ type: 'many2one', relation, required });
const bool = (defaultValue = false): FieldDef => ({ type: 'boolean', default: defaultValue });
// analytic.mixin's analytic_distribution (16+, reference/odoo.md §2.11): {"<account id>[,<id>…]": percentage}.
const json = (): FieldDef => ({ type: 'json' });
const sel = (selection: readonly string[], defaultValue?: string): FieldDef => ({ type: 'selection', selection, ...(defaultValue ? { default: defaultValue } : {}) });

/**
 * Purchase and vendor models (reference/odoo.md §2.2, §2.8, §2.10). product.supplierinfo uses `partner_id` on
 * every supported version (renamed from `name` in 16.0, §2.2); purchase.order.line `product_uom` became
 * `product_uom_id` in 19 (§2.1); 19 drops state 'done' for a boolean `locked` (§2.8); `receipt_status` exists
 * from 16 (purchase_stock, §2.8).
 */
function purchaseModels(version: SimVersion): ModelDef[] {
  const orderStates = version >= 19 ? ['draft', 'sent', 'to approve', 'purchase', 'cancel'] : ['draft', 'sent', 'to approve', 'purchase', 'done', 'cancel'];
  const uomField = version >= 19 ? 'product_uom_id' : 'product_uom';
  return [
    {
      name: 'product.supplierinfo',
      description: 'Supplier Pricelist',
      fields: {
        partner_id: m2o('res.partner', true),
        product_tmpl_id: m2o('product.template'),
        product_id: m2o('product.product'),
        product_code: char(),
        product_name: char(),
        sequence: { type: 'integer', default: 1 },
        min_qty: float(),
        price: float(),
        delay: { type: 'integer', default: 1 },
        date_start: { type: 'date' },
        date_end: { type: 'date' },
        company_id: m2o('res.company'),
      },
    },
    {
      name: 'purchase.order',
      description: 'Purchase Order',
      fields: {
        name: char(),
        partner_id: m2o('res.partner', true),
        partner_ref: char(),
        origin: char(),
        company_id: { ...m2o('res.company'), default: 1 },
        date_order: { type: 'datetime' },
        date_approve: { type: 'datetime' },
        state: sel(orderStates, 'draft'),
        order_line: { type: 'one2many', relation: 'purchase.order.line', inverse: 'order_id' },
        picking_ids: { type: 'one2many', relation: 'stock.picking', inverse: 'purchase_id' },
        amount_total: float(),
        receipt_status: sel(['pending', 'partial', 'full']),
        ...(version >= 19 ? { locked: bool() } : {}),
      },
    },
    {
      name: 'purchase.order.line',
      description: 'Purchase Order Line',
      fields: {
        order_id: m2o('purchase.order', true),
        name: char(),
        product_id: m2o('product.product', true),
        product_qty: { type: 'float', required: true },
        [uomField]: m2o('uom.uom'),
        price_unit: float(),
        date_planned: { type: 'datetime' },
        qty_received: float(),
        // purchase.py _compute_qty_invoiced: bills in any state but cancel count (draft included) [K]
        qty_invoiced: float(),
        analytic_distribution: json(),
        move_ids: { type: 'one2many', relation: 'stock.move', inverse: 'purchase_line_id' },
      },
    },
    {
      name: 'account.move',
      description: 'Journal Entry',
      fields: {
        name: char(),
        move_type: sel(['entry', 'out_invoice', 'out_refund', 'in_invoice', 'in_refund'], 'entry'),
        // the accounting date (defaults to today) and journal (defaults by move type: a 'general' journal for
        // entries) of account_move.py; line_ids are all journal items, invoice_line_ids the product ones [K]
        date: { type: 'date' },
        journal_id: m2o('account.journal'),
        line_ids: { type: 'one2many', relation: 'account.move.line', inverse: 'move_id' },
        partner_id: m2o('res.partner'),
        ref: char(),
        invoice_date: { type: 'date' },
        state: sel(['draft', 'posted', 'cancel'], 'draft'),
        invoice_origin: char(),
        // the entry a credit note reverses (account_move.py; set by the reversal wizard or directly) [K]
        reversed_entry_id: m2o('account.move'),
        invoice_line_ids: { type: 'one2many', relation: 'account.move.line', inverse: 'move_id' },
        amount_total: float(),
        payment_state: sel(['not_paid', 'in_payment', 'paid', 'partial', 'reversed', 'invoicing_legacy'], 'not_paid'),
      },
    },
    {
      name: 'account.move.line',
      description: 'Journal Item',
      fields: {
        move_id: m2o('account.move', true),
        product_id: m2o('product.product'),
        name: char(),
        quantity: float(1),
        price_unit: float(),
        purchase_line_id: m2o('purchase.order.line'),
        analytic_distribution: json(),
        account_id: m2o('account.account'),
        debit: float(),
        credit: float(),
      },
    },
    // Chart of accounts and journals (account module): account.account code/name/account_type (16+ selection,
    // e.g. 'expense', 'asset_current'), account.journal type sale|purchase|cash|bank|general [K field names].
    { name: 'account.account', description: 'Account', fields: { name: char(true), code: char(true), account_type: char(), company_id: m2o('res.company') } },
    { name: 'account.journal', description: 'Journal', fields: { name: char(true), code: char(true), type: sel(['sale', 'purchase', 'cash', 'bank', 'general'], 'general'), company_id: m2o('res.company') } },
  ];
}

/**
 * Cost centres (reference/odoo.md §2.11, §2.12): since the 16.0 analytic rework account.analytic.group is
 * account.analytic.plan and account.analytic.account.plan_id is required, on every supported version.
 * hr.department has no standard link to an analytic account (§2.12).
 */
function costCentreModels(): ModelDef[] {
  return [
    { name: 'account.analytic.plan', description: 'Analytic Plans', fields: { name: char(true), parent_id: m2o('account.analytic.plan'), company_id: m2o('res.company') } },
    {
      name: 'account.analytic.account',
      description: 'Analytic Account',
      fields: { name: char(true), code: char(), plan_id: m2o('account.analytic.plan', true), company_id: m2o('res.company'), partner_id: m2o('res.partner'), active: bool(true) },
    },
    { name: 'hr.employee', description: 'Employee', fields: { name: char(true), department_id: m2o('hr.department'), active: bool(true) } },
    {
      name: 'hr.department',
      description: 'Department',
      parentField: 'parent_id',
      nameField: 'complete_name',
      fields: { name: char(true), complete_name: char(), parent_id: m2o('hr.department'), manager_id: m2o('hr.employee'), company_id: { ...m2o('res.company'), default: 1 }, active: bool(true) },
    },
  ];
}

/**
 * Reorder rules (reference/odoo.md §2.7; stock_orderpoint.py): min/max per product and location. qty_on_hand,
 * qty_forecast are computed, not stored (orderpoint.ts computes them on read). qty_multiple exists up to 18 and
 * is replaced in 19 by `replenishment_uom_id` (OpenUpgrade stock 19.0: qty_multiple DEL, replenishment_uom_id
 * NEW). 16–17: qty_to_order is a stored compute; 18: computed, the manual value in `qty_to_order_manual` and
 * the rule's value in `qty_to_order_computed` (§2.7 [V U stock/18.0]); 19 stores qty_to_order_computed and adds
 * deadline_date (§2.7).
 */
function orderpointModel(version: SimVersion): ModelDef {
  return {
    name: 'stock.warehouse.orderpoint',
    description: 'Minimum Inventory Rule',
    fields: {
      name: char(),
      trigger: sel(['auto', 'manual'], 'auto'),
      active: bool(true),
      warehouse_id: m2o('stock.warehouse', true),
      location_id: m2o('stock.location', true),
      product_id: m2o('product.product', true),
      company_id: { ...m2o('res.company', true), default: 1 },
      product_min_qty: { type: 'float', required: true, default: 0 },
      product_max_qty: { type: 'float', required: true, default: 0 },
      ...(version <= 18 ? { qty_multiple: { type: 'float', required: true, default: 1 } } : { replenishment_uom_id: m2o('uom.uom'), deadline_date: { type: 'date', computed: true } }),
      qty_on_hand: { type: 'float', computed: true },
      qty_forecast: { type: 'float', computed: true },
      // stored on 16–17, yet recomputed whenever moves change: the simulator answers it on read on every version
      qty_to_order: { type: 'float', computed: true },
      ...(version >= 18 ? { qty_to_order_manual: float(), qty_to_order_computed: { type: 'float', computed: true } } : {}),
    },
  };
}

export function modelsFor(version: SimVersion): Map<string, ModelDef> {
  // 16–17: detailed_type (product = storable) drives type; 18: detailed_type deleted, type loses 'product',
  // is_storable added (reference/odoo.md §2.1, OpenUpgrade stock 18.0).
  const productType: Record<string, FieldDef> =
    version >= 18
      ? { type: sel(['consu', 'service', 'combo'], 'consu'), is_storable: bool() }
      : { detailed_type: sel(['consu', 'service', 'product'], 'consu'), type: sel(['consu', 'service', 'product'], 'consu') };
  // stock.move: quantity_done (16) → quantity + picked (17+); name required ≤18, removed in 19 (§2.6).
  const moveDone: Record<string, FieldDef> = version >= 17 ? { quantity: float(), picked: bool() } : { quantity_done: float() };
  const moveName: Record<string, FieldDef> = version <= 18 ? { name: char(true) } : {};
  // stock.move.line: reserved_uom_qty + qty_done (16) → quantity + picked (17+) (§2.6).
  const lineQty: Record<string, FieldDef> = version >= 17 ? { quantity: float(), picked: bool() } : { reserved_uom_qty: float(), qty_done: float() };
  const common: Record<string, FieldDef> = { create_date: { type: 'datetime' }, write_date: { type: 'datetime' } };
  const defs: ModelDef[] = [
    { name: 'res.users', description: 'User', fields: { name: char(true), login: char(true) } },
    // po_double_validation / _amount: purchase's two-step approval setting on the company [K field names].
    { name: 'res.company', description: 'Companies', fields: { name: char(true), po_double_validation: sel(['one_step', 'two_step'], 'one_step'), po_double_validation_amount: float(5000) } },
    { name: 'res.partner', description: 'Contact', fields: { name: char(true), is_company: bool(), ref: char(), supplier_rank: { type: 'integer', default: 0 }, active: bool(true) } },
    ...purchaseModels(version),
    ...costCentreModels(),
    // 19 reworked units: no categories, a unit is `relative_factor` × `relative_uom_id` [K field names, 19.0 uom].
    { name: 'uom.uom', description: 'Product Unit of Measure', fields: { name: char(true), ...(version >= 19 ? { relative_factor: float(1), relative_uom_id: m2o('uom.uom') } : {}) } },
    orderpointModel(version),
    // standard_price: the product's cost (company-dependent on product.product, related on the template) [K]
    { name: 'product.template', description: 'Product', fields: { name: char(true), default_code: char(), tracking: sel(['none', 'lot', 'serial'], 'none'), standard_price: float(), ...productType } },
    {
      name: 'product.product',
      description: 'Product Variant',
      fields: {
        name: char(true),
        default_code: char(),
        barcode: char(),
        product_tmpl_id: m2o('product.template'),
        tracking: sel(['none', 'lot', 'serial'], 'none'),
        uom_id: m2o('uom.uom'),
        standard_price: float(),
        active: bool(true),
        ...productType,
      },
    },
    {
      name: 'stock.location',
      description: 'Inventory Locations',
      parentField: 'location_id',
      nameField: 'complete_name',
      fields: { name: char(true), complete_name: char(), usage: sel(['supplier', 'view', 'internal', 'customer', 'inventory', 'production', 'transit'], 'internal'), location_id: m2o('stock.location'), active: bool(true) },
    },
    { name: 'stock.warehouse', description: 'Warehouse', fields: { name: char(true), code: char(true), lot_stock_id: m2o('stock.location') } },
    {
      name: 'stock.picking.type',
      description: 'Picking Type',
      fields: { name: char(true), code: sel(['incoming', 'outgoing', 'internal'], 'internal'), sequence_code: char(true), default_location_src_id: m2o('stock.location'), default_location_dest_id: m2o('stock.location'), warehouse_id: m2o('stock.warehouse') },
    },
    // stock.lot in every supported version: renamed from stock.production.lot in 16.0 (§2.5).
    { name: 'stock.lot', description: 'Lot/Serial', fields: { name: char(true), product_id: m2o('product.product', true), company_id: { ...m2o('res.company', true), default: 1 }, ref: char(), expiration_date: { type: 'datetime' } } },
    {
      name: 'stock.quant',
      description: 'Quants',
      fields: { product_id: m2o('product.product', true), location_id: m2o('stock.location', true), lot_id: m2o('stock.lot'), quantity: float(), reserved_quantity: float(), in_date: { type: 'datetime' } },
    },
    {
      name: 'stock.picking',
      description: 'Transfer',
      fields: {
        name: char(),
        picking_type_id: m2o('stock.picking.type', true),
        location_id: m2o('stock.location', true),
        location_dest_id: m2o('stock.location', true),
        partner_id: m2o('res.partner'),
        origin: char(),
        scheduled_date: { type: 'datetime' },
        state: sel(['draft', 'waiting', 'confirmed', 'assigned', 'done', 'cancel'], 'draft'),
        move_ids: { type: 'one2many', relation: 'stock.move', inverse: 'picking_id' },
        move_line_ids: { type: 'one2many', relation: 'stock.move.line', inverse: 'picking_id' },
        // purchase_stock's link to the order, and the picking a backorder was split from [K names]
        purchase_id: m2o('purchase.order'),
        backorder_id: m2o('stock.picking'),
        date_done: { type: 'datetime' },
      },
    },
    {
      name: 'stock.move',
      description: 'Stock Move',
      fields: {
        ...moveName,
        product_id: m2o('product.product', true),
        product_uom_qty: { type: 'float', required: true },
        product_uom: m2o('uom.uom'),
        location_id: m2o('stock.location', true),
        location_dest_id: m2o('stock.location', true),
        picking_id: m2o('stock.picking'),
        state: sel(['draft', 'waiting', 'confirmed', 'partially_available', 'assigned', 'done', 'cancel'], 'draft'),
        move_line_ids: { type: 'one2many', relation: 'stock.move.line', inverse: 'move_id' },
        purchase_line_id: m2o('purchase.order.line'),
        // the move's planned date; the picking's scheduled_date is written here by its inverse [K]
        date: { type: 'datetime' },
        ...moveDone,
      },
    },
    {
      name: 'stock.move.line',
      description: 'Product Moves (Stock Move Line)',
      fields: { move_id: m2o('stock.move'), picking_id: m2o('stock.picking'), product_id: m2o('product.product', true), location_id: m2o('stock.location', true), location_dest_id: m2o('stock.location', true), lot_id: m2o('stock.lot'), lot_name: char(), ...lineQty },
    },
    { name: 'ir.model.data', description: 'Model Data', fields: { module: char(true), name: char(true), model: char(true), res_id: { type: 'integer' }, noupdate: bool() } },
  ];
  return new Map(defs.map((def) => [def.name, { ...def, fields: { ...def.fields, ...common } }]));
}
