import type { Queryable } from '../../store/database.ts';
import type { LineVerdict, MatchOutcome } from './three-way-match.ts';
import type { InvoiceTolerance } from '../../config/schema.ts';

// The SQL of the finance flows, next to their migration (014_finance.sql).

/** One line of a match as stored, shown by the API and put in the exception: the three figures and the verdicts. */
export interface LineEvidence {
  line: string;
  productId: number | null;
  purchaseLineId: number | null;
  ordered: number;
  poPrice: number;
  received: number;
  previouslyInvoiced: number;
  invoiced: number;
  invoicedPrice: string;
  priceDifference: number;
  quantityOverReceived: number;
  verdicts: LineVerdict[];
}

export interface InvoiceMatchRecord {
  matchKey: string;
  correlationId: string;
  messageId: number | null;
  poKey: string;
  poName: string;
  odooConnection: string;
  vendorId: number;
  invoiceNumber: string;
  invoiceDate: string | undefined;
  billId: number | undefined;
  billState: string | undefined;
  outcome: MatchOutcome;
  lines: LineEvidence[];
  tolerance: InvoiceTolerance;
}

/**
 * Records a match. `first_pass` is decided by the first evaluation only: a replay that matches after a receipt
 * arrived, or an accepted variance, still counts as a manual touch in the first-pass match rate.
 */
export async function saveInvoiceMatch(db: Queryable, match: InvoiceMatchRecord): Promise<void> {
  await db.query(
    `insert into carelane.invoice_matches (match_key, correlation_id, message_id, po_key, po_name, odoo_connection, vendor_id, invoice_number, invoice_date,
                                           bill_id, bill_state, outcome, first_pass, lines, tolerance)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12 = 'matched', $13::jsonb, $14::jsonb)
     on conflict (match_key) do update set bill_id = excluded.bill_id, bill_state = excluded.bill_state, outcome = excluded.outcome,
       lines = excluded.lines, tolerance = excluded.tolerance, updated_at = now()
     where carelane.invoice_matches.outcome <> 'accepted'`,
    [match.matchKey, match.correlationId, match.messageId, match.poKey, match.poName, match.odooConnection, match.vendorId, match.invoiceNumber, match.invoiceDate ?? null,
      match.billId ?? null, match.billState ?? null, match.outcome, JSON.stringify(match.lines), JSON.stringify(match.tolerance)],
  );
}

export async function acceptInvoiceMatch(db: Queryable, matchKey: string, actor: string, note: string, billState: string): Promise<void> {
  await db.query(
    `update carelane.invoice_matches set outcome = 'accepted', accepted_by = $2, accepted_note = $3, accepted_at = now(), bill_state = $4, updated_at = now() where match_key = $1`,
    [matchKey, actor, note, billState],
  );
}

export interface InvoiceMatchView {
  matchKey: string;
  poName: string | null;
  invoiceNumber: string;
  invoiceDate: string | null;
  vendorId: number;
  billId: number | null;
  billState: string | null;
  outcome: string;
  firstPass: boolean;
  lines: unknown;
  tolerance: unknown;
  acceptedBy: string | null;
  acceptedNote: string | null;
  acceptedAt: Date | null;
  correlationId: string;
  createdAt: Date;
  updatedAt: Date;
}

/** Matches of a purchase order (by Odoo PO number or Carelane PO key), or the newest ones. */
export async function listInvoiceMatches(db: Queryable, query: { po?: string; limit: number }): Promise<InvoiceMatchView[]> {
  const { rows } = await db.query<InvoiceMatchView>(
    `select match_key as "matchKey", po_name as "poName", invoice_number as "invoiceNumber", to_char(invoice_date, 'YYYY-MM-DD') as "invoiceDate", vendor_id as "vendorId",
            bill_id as "billId", bill_state as "billState", outcome, first_pass as "firstPass", lines, tolerance, accepted_by as "acceptedBy", accepted_note as "acceptedNote",
            accepted_at as "acceptedAt", correlation_id as "correlationId", created_at as "createdAt", updated_at as "updatedAt"
     from carelane.invoice_matches where $1::text is null or po_name = $1 or po_key = $1
     order by created_at desc limit $2`,
    [query.po ?? null, query.limit],
  );
  return rows;
}

/**
 * Received quantities per Odoo PO line as the receiving flow recorded them (carelane.po_line_receipts, written
 * by src/flows/supplier), when that table exists and has rows for the order; otherwise undefined and the caller
 * uses Odoo's qty_received, the authority.
 */
export async function recordedReceipts(db: Queryable, poKey: string): Promise<Map<number, number> | undefined> {
  const { rows: exists } = await db.query<{ present: boolean }>(`select to_regclass('carelane.po_line_receipts') is not null as present`);
  if (!exists[0]?.present) return undefined;
  try {
    const { rows } = await db.query<{ line: number; received: string }>(
      'select odoo_purchase_line_id as line, sum(quantity_received) as received from carelane.po_line_receipts where po_key = $1 group by 1',
      [poKey],
    );
    return rows.length === 0 ? undefined : new Map(rows.map((r) => [Number(r.line), Number(r.received)]));
  } catch {
    // A table of another shape (the receiving flow's schema changed): Odoo's qty_received stays the answer.
    return undefined;
  }
}
