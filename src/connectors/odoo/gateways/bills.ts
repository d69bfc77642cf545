import type { OdooClient } from '../client.ts';
import { createIdempotent, findByExternalIds } from '../external-ids.ts';
import { many2oneId, type OdooRecord } from '../types.ts';
import { type AnalyticDistribution, hasAnalyticDistribution } from '../versions.ts';
import { type GatewayOptions, signalled } from './options.ts';

export interface BillLine {
  /** the purchase.order.line billed: the link Odoo's purchase module and a 3-way match rely on (§2.10) */
  purchaseLineId: number;
  productId: number;
  quantity: number;
  priceUnit: number;
  /** cost centre split, e.g. {"7": 100} (analytic.mixin, 16+, §2.11) */
  analyticDistribution?: AnalyticDistribution;
  description?: string;
}

export interface VendorBillRequest {
  /** idempotency key of the bill → external id carelane.<key> */
  key: string;
  vendorId: number;
  /** the vendor's own invoice number: `ref`, also the lookup for a create whose answer was lost */
  vendorInvoiceNumber: string;
  /** 'YYYY-MM-DD'; required by Odoo to post a bill */
  invoiceDate: string;
  lines: BillLine[];
  /** the PO name(s), shown as Source in Odoo (invoice_origin) */
  origin?: string;
}

/**
 * A vendor credit note (refund): account.move with move_type 'in_refund' (§2.10), lines on the PO lines they
 * credit (quantities positive: Odoo's purchase module subtracts refund lines from qty_invoiced [K]). The fields
 * are the same on 16–19; what changed is only the UI reversal wizard (account.move.reversal's refund_method ≤16,
 * separate buttons from 17 [K]), which Carelane does not use: it creates the refund directly, like a bill.
 */
export interface VendorCreditNoteRequest {
  /** idempotency key → external id carelane.<key> */
  key: string;
  vendorId: number;
  /** the vendor's credit note number: `ref`, also the lookup for a create whose answer was lost */
  vendorCreditNoteNumber: string;
  /** 'YYYY-MM-DD'; Odoo requires it to post ("The Bill/Refund date is required") */
  invoiceDate: string;
  lines: BillLine[];
  /** the posted bill this credit note reverses (reversed_entry_id), when known */
  reversedBillId?: number;
  origin?: string;
}

export type MoveType = 'in_invoice' | 'in_refund';

export type BillState = 'draft' | 'posted' | 'cancel';

export interface BilledLine {
  lineId: number;
  purchaseLineId: number | undefined;
  productId: number | undefined;
  quantity: number;
  priceUnit: number;
  analyticDistribution: AnalyticDistribution | undefined;
}

/** One PO line as a 3-way match needs it: ordered, received and billed quantities and the agreed price (§2.10). */
export interface PurchaseLineMatch {
  purchaseLineId: number;
  orderId: number | undefined;
  productId: number | undefined;
  orderedQuantity: number;
  receivedQuantity: number;
  /** every bill line not cancelled counts in Odoo, drafts included [K]; this bill's own lines are part of it */
  invoicedQuantity: number;
  priceUnit: number;
}

export interface VendorBill {
  billId: number;
  /** in_invoice (bill) or in_refund (credit note) */
  moveType: MoveType;
  /** the bill a credit note reverses (reversed_entry_id) */
  reversedBillId: number | undefined;
  /** '/' until posted, then the journal sequence (e.g. BILL/2025/00001) */
  name: string;
  state: BillState;
  vendorId: number | undefined;
  vendorInvoiceNumber: string | undefined;
  invoiceDate: string | undefined;
  amountTotal: number;
  lines: BilledLine[];
  purchaseLines: PurchaseLineMatch[];
}

export interface BillOutcome extends VendorBill {
  created: boolean;
}

const BILL_FIELDS = ['name', 'state', 'move_type', 'reversed_entry_id', 'partner_id', 'ref', 'invoice_date', 'amount_total', 'invoice_line_ids'];
const PURCHASE_LINE_FIELDS = ['order_id', 'product_id', 'product_qty', 'qty_received', 'qty_invoiced', 'price_unit'];

/**
 * Vendor bills on purchase order lines (reference/odoo.md §2.10): `account.move` with move_type 'in_invoice' and
 * `invoice_line_ids` (0, 0, {purchase_line_id, …}) written directly, because the `purchase_id` auto-complete is a
 * store=False onchange helper that does nothing over RPC. Then `action_post`. Each call is its own transaction
 * (§1.4), so `record` is a resumable saga: create once (external id, else vendor + `ref`), post if still draft,
 * read back. Round trips when new: 1 external-id lookup, 1 ref lookup, 1 create, 1 bind, 1 post, 3 reads.
 */
export class BillGateway {
  private readonly client: OdooClient;

  constructor(client: OdooClient, options: GatewayOptions = {}) {
    this.client = signalled(client, options);
  }

  /** Creates the draft bill once per key; a bill of the same vendor with the same `ref` is adopted, not duplicated. */
  async createDraft(request: VendorBillRequest): Promise<{ billId: number; created: boolean }> {
    return this.createMove('in_invoice', request, request.vendorInvoiceNumber, {});
  }

  /** Creates the draft credit note once per key (external id, else same vendor + `ref` among in_refund moves). */
  async createCreditNoteDraft(request: VendorCreditNoteRequest): Promise<{ billId: number; created: boolean }> {
    return this.createMove('in_refund', request, request.vendorCreditNoteNumber, request.reversedBillId ? { reversed_entry_id: request.reversedBillId } : {});
  }

  /** Create (once), post, and read back a credit note; the PO lines' qty_invoiced goes down by its quantities. */
  async recordCreditNote(request: VendorCreditNoteRequest): Promise<BillOutcome> {
    const { billId, created } = await this.createCreditNoteDraft(request);
    if (created) await this.client.action('account.move', 'action_post', [billId]);
    else await this.post(billId);
    return { ...(await this.read(billId)), created };
  }

  private async createMove(
    moveType: MoveType,
    request: { key: string; vendorId: number; invoiceDate: string; lines: BillLine[]; origin?: string },
    reference: string,
    extra: Record<string, unknown>,
  ): Promise<{ billId: number; created: boolean }> {
    const analytic = hasAnalyticDistribution(this.client.version);
    const lines = request.lines.map((line) => [
      0,
      0,
      {
        purchase_line_id: line.purchaseLineId,
        product_id: line.productId,
        quantity: line.quantity,
        price_unit: line.priceUnit,
        ...(line.description ? { name: line.description } : {}),
        ...(analytic && line.analyticDistribution ? { analytic_distribution: line.analyticDistribution } : {}),
      },
    ]);
    const values = {
      move_type: moveType,
      partner_id: request.vendorId,
      ref: reference,
      invoice_date: request.invoiceDate,
      ...(request.origin ? { invoice_origin: request.origin } : {}),
      ...extra,
      invoice_line_ids: lines,
    };
    const result = await createIdempotent(this.client, 'account.move', [{ key: request.key, values }], {
      findUnbound: async (keys) => {
        const id = await this.findByVendorReference(request.vendorId, reference, moveType);
        return new Map(id === undefined ? [] : keys.map((key) => [key, id] as [string, number]));
      },
    });
    const { id, created } = result.get(request.key)!;
    return { billId: id, created };
  }

  /** `action_post` (draft → posted); a bill already posted is left alone, so a replay sends nothing. */
  async post(billId: number): Promise<void> {
    if ((await this.state(billId)) === 'draft') await this.client.action('account.move', 'action_post', [billId]);
  }

  async state(billId: number): Promise<BillState> {
    const [row] = await this.client.read('account.move', [billId], ['state']);
    return String(row!.state) as BillState;
  }

  /** Create (once), post, and read back with the PO lines' received and invoiced quantities. */
  async record(request: VendorBillRequest): Promise<BillOutcome> {
    const { billId, created } = await this.createDraft(request);
    // A new bill is a draft by construction; only a replay needs to read the state first.
    if (created) await this.client.action('account.move', 'action_post', [billId]);
    else await this.post(billId);
    return { ...(await this.read(billId)), created };
  }

  /** The bill, its product lines, and the PO lines they bill: three round trips. */
  async read(billId: number): Promise<VendorBill> {
    const [bill] = await this.client.read('account.move', [billId], BILL_FIELDS);
    const lineIds = Array.isArray(bill!.invoice_line_ids) ? bill!.invoice_line_ids.map(Number) : [];
    const lineFields = ['product_id', 'quantity', 'price_unit', 'purchase_line_id', ...(hasAnalyticDistribution(this.client.version) ? ['analytic_distribution'] : [])];
    const lines = (await this.client.read('account.move.line', lineIds, lineFields)).map(toBilledLine);
    const purchaseLineIds = [...new Set(lines.map((line) => line.purchaseLineId).filter((id): id is number => id !== undefined))];
    return { ...toBill(bill!), lines, purchaseLines: await this.purchaseLines(purchaseLineIds) };
  }

  /** PO lines with the quantities a 3-way match compares (§2.10: on Community, compute the match yourself). */
  async purchaseLines(purchaseLineIds: number[]): Promise<PurchaseLineMatch[]> {
    const rows = await this.client.read('purchase.order.line', purchaseLineIds, PURCHASE_LINE_FIELDS);
    return rows.map((row) => ({
      purchaseLineId: row.id,
      orderId: many2oneId(row.order_id),
      productId: many2oneId(row.product_id),
      orderedQuantity: Number(row.product_qty ?? 0),
      receivedQuantity: Number(row.qty_received ?? 0),
      invoicedQuantity: Number(row.qty_invoiced ?? 0),
      priceUnit: Number(row.price_unit ?? 0),
    }));
  }

  /** The bill of an idempotency key by its external id (bound bills only: what `lookup` may trust). */
  async findByKey(key: string): Promise<number | undefined> {
    return (await findByExternalIds(this.client, 'account.move', [key])).get(key);
  }

  static isPosted(state: BillState): boolean {
    return state === 'posted';
  }

  /** A vendor's bill with that invoice number, not cancelled: the natural key of a vendor bill. */
  private async findByVendorReference(vendorId: number, reference: string, moveType: MoveType): Promise<number | undefined> {
    const [id] = await this.client.search(
      'account.move',
      [
        ['move_type', '=', moveType],
        ['partner_id', '=', vendorId],
        ['ref', '=', reference],
        ['state', '!=', 'cancel'],
      ],
      { limit: 1, order: 'id' },
    );
    return id;
  }
}

function toBill(row: OdooRecord): Omit<VendorBill, 'lines' | 'purchaseLines'> {
  return {
    billId: row.id,
    moveType: row.move_type === 'in_refund' ? 'in_refund' : 'in_invoice',
    reversedBillId: many2oneId(row.reversed_entry_id),
    name: String(row.name),
    state: String(row.state) as BillState,
    vendorId: many2oneId(row.partner_id),
    vendorInvoiceNumber: typeof row.ref === 'string' ? row.ref : undefined,
    invoiceDate: typeof row.invoice_date === 'string' ? row.invoice_date : undefined,
    amountTotal: Number(row.amount_total ?? 0),
  };
}

function toBilledLine(row: OdooRecord): BilledLine {
  const distribution = row.analytic_distribution;
  return {
    lineId: row.id,
    purchaseLineId: many2oneId(row.purchase_line_id),
    productId: many2oneId(row.product_id),
    quantity: Number(row.quantity ?? 0),
    priceUnit: Number(row.price_unit ?? 0),
    // read returns False for an empty JSON field
    analyticDistribution: distribution && typeof distribution === 'object' ? (distribution as AnalyticDistribution) : undefined,
  };
}
