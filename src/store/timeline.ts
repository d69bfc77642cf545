import type { Queryable } from './database.ts';

/** One thing that happened in a business transaction, in time order. */
export interface TimelineEntry {
  at: Date;
  correlationId: string;
  /** message | stage | delivery | exception | demand | purchase_order | invoice_match | acknowledgment | ship_notice | receipt */
  kind: string;
  what: string;
  status?: string;
  messageId?: number;
  deliveryId?: number;
  detail?: unknown;
}

export interface Timeline {
  correlationId: string;
  /** the transactions linked to this one: a purchase order serving several demands, and the reverse */
  related: Array<{ correlationId: string; relation: string }>;
  entries: TimelineEntry[];
}

/**
 * A business transaction's timeline (DESIGN.md message lifecycle): every message, stage, delivery, exception,
 * demand and purchase order under its correlation id and the ids linked to it (a PO shared by several demands,
 * the supplier's documents under the PO). Payloads are not included: the message browser shows them, to roles
 * that may see them.
 */
export async function transactionTimeline(db: Queryable, correlationId: string): Promise<Timeline | undefined> {
  const { rows: links } = await db.query<{ correlation_id: string; relation: string }>(
    `select related_id as correlation_id, relation from carelane.transaction_links where correlation_id = $1
     union select correlation_id, relation from carelane.transaction_links where related_id = $1
     -- a demand's timeline also shows its purchase order's supplier documents and receipts (one more hop)
     union select l2.correlation_id, l2.relation from carelane.transaction_links l1
       join carelane.transaction_links l2 on l2.related_id = l1.related_id
      where l1.correlation_id = $1 and l1.relation = 'purchase_order' and l2.relation in ('acknowledgment', 'ship_notice', 'receipt')`,
    [correlationId],
  );
  const ids = [correlationId, ...links.map((l) => l.correlation_id)];
  const { rows } = await db.query<{ at: Date; correlation_id: string; kind: string; what: string; status: string | null; message_id: string | null; delivery_id: string | null; detail: unknown }>(
    `select received_at as at, correlation_id, 'message' as kind, source || ' ' || message_type || coalesce(' ' || external_id, '') as what, status, id as message_id, null::bigint as delivery_id, null::jsonb as detail
       from carelane.messages where correlation_id = any($1)
     union all
     select s.at, m.correlation_id, 'stage', s.stage, s.outcome, m.id, null, s.detail
       from carelane.message_stages s join carelane.messages m on m.id = s.message_id where m.correlation_id = any($1)
     union all
     select coalesce(d.completed_at, d.created_at), d.correlation_id, 'delivery', d.action || ' → ' || d.endpoint, d.status, d.message_id, d.id,
            jsonb_build_object('attempts', d.attempts, 'lane', d.lane, 'lastError', d.last_error, 'createdAt', d.created_at)
       from carelane.deliveries d where d.correlation_id = any($1)
     union all
     select e.created_at, e.correlation_id, 'exception', e.type || ': ' || e.reason, e.status, e.message_id, e.delivery_id,
            jsonb_build_object('id', e.id, 'resolvedBy', e.resolved_by, 'resolution', e.resolution_action, 'note', e.resolution_note)
       from carelane.exceptions e where e.correlation_id = any($1)
     union all
     select updated_at, correlation_id, 'demand', demand_key, status, message_id, null, jsonb_build_object('site', site, 'lines', lines, 'revision', revision)
       from carelane.demands where correlation_id = any($1)
     union all
     select updated_at, correlation_id, 'purchase_order', coalesce(name, po_key), state, null, null, jsonb_build_object('site', site, 'vendorId', vendor_id, 'lines', lines, 'sentAt', sent_at)
       from carelane.purchase_orders where correlation_id = any($1)
     union all
     select a.received_at, a.correlation_id, 'acknowledgment', coalesce(p.name, a.po_key) || ' ' || a.acknowledgment_type, case when a.applied_at is null then 'received' else 'applied' end, a.message_id, null,
            jsonb_build_object('lines', a.lines, 'applied', a.applied)
       from carelane.supplier_acknowledgments a join carelane.purchase_orders p on p.po_key = a.po_key where a.correlation_id = any($1)
     union all
     select n.received_at, n.correlation_id, 'ship_notice', coalesce(p.name, n.po_key) || ' shipment ' || n.shipment_id, null, n.message_id, null,
            jsonb_build_object('lots', (select jsonb_agg(jsonb_build_object('productId', e.product_id, 'lot', e.lot_name, 'expiryDate', e.expiry_date, 'quantity', e.quantity, 'usable', e.usable)) from carelane.expected_lots e where e.ship_notice_id = n.id))
       from carelane.ship_notices n join carelane.purchase_orders p on p.po_key = n.po_key where n.correlation_id = any($1)
     union all
     select coalesce(r.validated_at, r.created_at), r.correlation_id, 'receipt', coalesce(p.name, r.po_key) || ' receipt ' || r.batch_key, r.status, r.message_id, null,
            jsonb_build_object('pickingId', r.picking_id, 'backorderId', r.backorder_id, 'outcome', r.outcome)
       from carelane.receipts r join carelane.purchase_orders p on p.po_key = r.po_key where r.correlation_id = any($1)
     union all select updated_at, correlation_id, 'invoice_match', 'invoice ' || invoice_number || coalesce(' vs ' || po_name, ''), outcome, message_id, null,
            jsonb_build_object('billId', bill_id, 'billState', bill_state, 'firstPass', first_pass, 'lines', lines, 'acceptedBy', accepted_by, 'acceptedNote', accepted_note)
       from carelane.invoice_matches where correlation_id = any($1)
     order by 1, 3`,
    [ids],
  );
  if (rows.length === 0) return undefined;
  return {
    correlationId,
    related: links.map((l) => ({ correlationId: l.correlation_id, relation: l.relation })),
    entries: rows.map((r) => ({
      at: r.at,
      correlationId: r.correlation_id,
      kind: r.kind,
      what: r.what,
      ...(r.status ? { status: r.status } : {}),
      ...(r.message_id ? { messageId: Number(r.message_id) } : {}),
      ...(r.delivery_id ? { deliveryId: Number(r.delivery_id) } : {}),
      ...(r.detail ? { detail: r.detail } : {}),
    })),
  };
}
