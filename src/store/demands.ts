import type { Queryable } from './database.ts';

// The SQL of the demand and replenishment flows, next to their migration (011_demand_flows.sql).

export type DemandState = 'requested' | 'reserved' | 'partial' | 'released' | 'cancelled';

export interface DemandLine {
  productId: number;
  quantity: number;
  /** reserved in Odoo at the last reservation; undefined before it ran */
  reserved?: number;
}

export interface DemandRow {
  demandKey: string;
  correlationId: string;
  kind: string;
  status: DemandState;
  site: string | null;
  odooConnection: string | null;
  destinationLocationId: number | null;
  contentHash: string;
  scheduledStart: Date | null;
  revision: number;
  reservationKey: string | null;
  lines: DemandLine[];
  messageId: number | null;
  createdAt: Date;
}

interface DemandRecord {
  demand_key: string;
  correlation_id: string;
  kind: string;
  status: DemandState;
  site: string | null;
  odoo_connection: string | null;
  destination_location_id: number | null;
  content_hash: string;
  scheduled_start: Date | null;
  revision: number;
  reservation_key: string | null;
  lines: DemandLine[];
  message_id: string | number | null;
  created_at: Date;
}

const toDemand = (r: DemandRecord): DemandRow => ({
  demandKey: r.demand_key,
  correlationId: r.correlation_id,
  kind: r.kind,
  status: r.status,
  site: r.site,
  odooConnection: r.odoo_connection,
  destinationLocationId: r.destination_location_id,
  contentHash: r.content_hash,
  scheduledStart: r.scheduled_start,
  revision: r.revision,
  reservationKey: r.reservation_key,
  lines: r.lines,
  messageId: r.message_id === null ? null : Number(r.message_id),
  createdAt: r.created_at,
});

export async function findDemand(db: Queryable, demandKey: string): Promise<DemandRow | undefined> {
  const { rows } = await db.query<DemandRecord>('select * from carelane.demands where demand_key = $1', [demandKey]);
  return rows[0] && toDemand(rows[0]);
}

/**
 * Another live demand asking for exactly the same thing (same content hash) within the window: the EHR sent one
 * order twice under two ids. Cancelled and released demands do not count: ordering again after a cancel is normal.
 */
export async function findDuplicateDemand(db: Queryable, demandKey: string, contentHash: string, windowMinutes: number): Promise<DemandRow | undefined> {
  const { rows } = await db.query<DemandRecord>(
    `select * from carelane.demands
     where content_hash = $2 and demand_key <> $1 and status not in ('released', 'cancelled')
       and created_at > now() - make_interval(mins => $3)
     order by created_at limit 1`,
    [demandKey, contentHash, windowMinutes],
  );
  return rows[0] && toDemand(rows[0]);
}

export interface NewDemand {
  demandKey: string;
  correlationId: string;
  kind: string;
  site: string;
  odooConnection: string;
  destinationLocationId: number;
  contentHash: string;
  scheduledStart: string | undefined;
  reservationKey: string;
  lines: DemandLine[];
  messageId: number | null;
  /** the patient's keyed token, to find the patient's open demands when the patient moves */
  patientToken?: string | undefined;
}

/** Inserts the demand, or moves an existing one to a new revision (new lines, new reservation). */
export async function saveDemandRevision(db: Queryable, demand: NewDemand): Promise<void> {
  await db.query(
    `insert into carelane.demands (demand_key, correlation_id, kind, status, site, odoo_connection, content_hash, scheduled_start, reservation_key, lines, message_id, destination_location_id, patient_token)
     values ($1, $2, $3, 'requested', $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12)
     on conflict (demand_key) do update set
       status = 'requested', site = excluded.site, odoo_connection = excluded.odoo_connection, content_hash = excluded.content_hash,
       destination_location_id = excluded.destination_location_id, patient_token = coalesce(excluded.patient_token, carelane.demands.patient_token),
       scheduled_start = excluded.scheduled_start, reservation_key = excluded.reservation_key, lines = excluded.lines,
       revision = carelane.demands.revision + 1, message_id = excluded.message_id, updated_at = now()`,
    [demand.demandKey, demand.correlationId, demand.kind, demand.site, demand.odooConnection, demand.contentHash, demand.scheduledStart ?? null, demand.reservationKey, JSON.stringify(demand.lines), demand.messageId, demand.destinationLocationId, demand.patientToken ?? null],
  );
}

export async function setDemandSchedule(db: Queryable, demandKey: string, scheduledStart: string, contentHash: string): Promise<void> {
  await db.query('update carelane.demands set scheduled_start = $2, content_hash = $3, updated_at = now() where demand_key = $1', [demandKey, scheduledStart, contentHash]);
}

export async function setDemandStatus(db: Queryable, demandKey: string, status: DemandState, lines?: DemandLine[]): Promise<void> {
  await db.query('update carelane.demands set status = $2, lines = coalesce($3::jsonb, lines), updated_at = now() where demand_key = $1', [demandKey, status, lines ? JSON.stringify(lines) : null]);
}

/** The patient's live supply demands (bedside supplies): what a transfer of the patient moves. */
export async function openSupplyDemandsOf(db: Queryable, patientToken: string): Promise<DemandRow[]> {
  const { rows } = await db.query<DemandRecord>(
    `select * from carelane.demands where patient_token = $1 and kind = 'supply' and status in ('requested', 'reserved', 'partial') order by created_at`,
    [patientToken],
  );
  return rows.map(toDemand);
}

/** Demands whose reservation is short, oldest first: the hybrid mode's reconciliation tries them again. */
export async function partialDemands(db: Queryable, limit: number): Promise<DemandRow[]> {
  const { rows } = await db.query<DemandRecord>(`select * from carelane.demands where status = 'partial' order by updated_at limit $1`, [limit]);
  return rows.map(toDemand);
}

// ── replenishment ──────────────────────────────────────────────────────────────────────────────────────────

export interface NewReplenishmentRequest {
  requestKey: string;
  correlationId: string;
  reason: 'shortfall' | 'orderpoint';
  site: string;
  odooConnection: string;
  locationId: number;
  productId: number;
  quantity: number;
  vendorId: number;
  unitPrice: number;
}

/**
 * Adds a request to the open grouping window `batchKey`, or to the next one when that window is already closed.
 * Runs in the caller's transaction: the `for share` lock on the window makes a concurrent close wait for this
 * insert, so the purchase order sees it. Returns the window the request joined (undefined: already recorded).
 */
export async function joinReplenishmentBatch(db: Queryable, request: NewReplenishmentRequest, batchKeys: (attempt: number) => string): Promise<string | undefined> {
  const { rows: existing } = await db.query<{ batch_key: string }>('select batch_key from carelane.replenishment_requests where request_key = $1', [request.requestKey]);
  if (existing[0]) return undefined;
  for (let attempt = 0; ; attempt++) {
    const batchKey = batchKeys(attempt);
    await db.query('insert into carelane.replenishment_batches (batch_key) values ($1) on conflict do nothing', [batchKey]);
    const { rows } = await db.query<{ status: string }>('select status from carelane.replenishment_batches where batch_key = $1 for share', [batchKey]);
    if (rows[0]?.status !== 'open') continue;
    await db.query(
      `insert into carelane.replenishment_requests (request_key, correlation_id, reason, site, odoo_connection, location_id, product_id, quantity, vendor_id, unit_price, batch_key)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [request.requestKey, request.correlationId, request.reason, request.site, request.odooConnection, request.locationId, request.productId, request.quantity, request.vendorId, request.unitPrice, batchKey],
    );
    return batchKey;
  }
}

/** Closes the window: waits for requests still joining it (their `for share` locks), then none can join. */
export async function closeReplenishmentBatch(db: Queryable, batchKey: string): Promise<void> {
  await db.query(`update carelane.replenishment_batches set status = 'closed', closed_at = coalesce(closed_at, now()) where batch_key = $1`, [batchKey]);
}

export interface PendingRequest {
  id: number;
  correlationId: string;
  productId: number;
  quantity: number;
  unitPrice: number;
  locationId: number;
}

export async function requestsOfBatch(db: Queryable, batchKey: string): Promise<PendingRequest[]> {
  const { rows } = await db.query<{ id: string; correlation_id: string; product_id: number; quantity: string; unit_price: string; location_id: number }>(
    'select id, correlation_id, product_id, quantity, unit_price, location_id from carelane.replenishment_requests where batch_key = $1 order by id',
    [batchKey],
  );
  return rows.map((r) => ({ id: Number(r.id), correlationId: r.correlation_id, productId: r.product_id, quantity: Number(r.quantity), unitPrice: Number(r.unit_price), locationId: r.location_id }));
}

export interface PurchaseOrderRow {
  poKey: string;
  correlationId: string;
  site: string;
  odooConnection: string;
  vendorId: number;
  odooOrderId: number | null;
  name: string | null;
  state: string | null;
  sentAt: Date | null;
  lines: Array<{ productId: number; quantity: number; unitPrice: number }>;
}

interface PurchaseOrderRecord {
  po_key: string;
  correlation_id: string;
  site: string;
  odoo_connection: string;
  vendor_id: number;
  odoo_order_id: number | null;
  name: string | null;
  state: string | null;
  sent_at: Date | null;
  lines: PurchaseOrderRow['lines'];
}

const toPurchaseOrder = (r: PurchaseOrderRecord): PurchaseOrderRow => ({
  poKey: r.po_key,
  correlationId: r.correlation_id,
  site: r.site,
  odooConnection: r.odoo_connection,
  vendorId: r.vendor_id,
  odooOrderId: r.odoo_order_id,
  name: r.name,
  state: r.state,
  sentAt: r.sent_at,
  lines: r.lines,
});

/** Records the placed order, marks its requests ordered and links every demand's transaction to the order's. */
export async function recordPurchaseOrder(db: Queryable, order: Omit<PurchaseOrderRow, 'sentAt'>, requests: PendingRequest[]): Promise<void> {
  await db.query(
    `insert into carelane.purchase_orders (po_key, correlation_id, site, odoo_connection, vendor_id, odoo_order_id, name, state, lines)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)
     on conflict (po_key) do update set odoo_order_id = excluded.odoo_order_id, name = excluded.name, state = excluded.state, updated_at = now()`,
    [order.poKey, order.correlationId, order.site, order.odooConnection, order.vendorId, order.odooOrderId, order.name, order.state, JSON.stringify(order.lines)],
  );
  await db.query(`update carelane.replenishment_requests set status = 'ordered' where id = any($1::bigint[])`, [requests.map((r) => r.id)]);
  await linkTransactions(db, order.correlationId, requests.map((r) => r.correlationId), 'purchase_order');
}

export async function linkTransactions(db: Queryable, relatedId: string, correlationIds: string[], relation: string): Promise<void> {
  await db.query(
    `insert into carelane.transaction_links (correlation_id, related_id, relation)
     select distinct c, $2, $3 from unnest($1::text[]) as c where c <> $2 on conflict do nothing`,
    [correlationIds, relatedId, relation],
  );
}

export async function findPurchaseOrder(db: Queryable, poKey: string): Promise<PurchaseOrderRow | undefined> {
  const { rows } = await db.query<PurchaseOrderRecord>('select * from carelane.purchase_orders where po_key = $1', [poKey]);
  return rows[0] && toPurchaseOrder(rows[0]);
}

/** A purchase order found by the reference a document or an exception carries, and every connection that reference names. */
export interface NamedPurchaseOrder {
  order: PurchaseOrderRow;
  /**
   * The Odoo connections holding an order under this reference, sorted. One for a PO key; for a PO number,
   * more than one means the number alone cannot tell the order (`order` is then only the latest of them): a
   * caller that acts on it must refuse rather than guess.
   */
  connections: string[];
}

/**
 * The purchase order a reference names: Carelane's PO key exactly, else Odoo's PO number (the name supplier
 * documents, receipts and exceptions carry), the latest order with it. A PO number comes from each Odoo
 * database's own sequence (P00042), so with several Odoo connections it can name an order on each.
 *
 * `sentVia` is the supplier channel a document came from (its message source, `x12:<partner>` or
 * `supplier_rest:<id>`): when the number is on several connections and some of its orders went out on that
 * channel, only they are candidates — a supplier acknowledges and ships what it was sent, not another database's
 * order that happens to share the number. Otherwise every order of the number stays a candidate.
 */
export async function findPurchaseOrderByName(db: Queryable, ref: string, options: { sentVia?: string | undefined } = {}): Promise<NamedPurchaseOrder | undefined> {
  const { rows } = await db.query<PurchaseOrderRecord & { sent_via: string | null }>(
    'select * from carelane.purchase_orders where po_key = $1 or name = $1 order by po_key = $1 desc, created_at desc',
    [ref],
  );
  const exact = rows[0]?.po_key === ref ? rows[0] : undefined;
  if (exact) return { order: toPurchaseOrder(exact), connections: [exact.odoo_connection] };
  const connectionsOf = (orders: PurchaseOrderRecord[]) => [...new Set(orders.map((r) => r.odoo_connection))].sort();
  // Within one connection the number is the order, as it always was; the channel only tells connections apart.
  const sentThere = options.sentVia === undefined || connectionsOf(rows).length < 2 ? [] : rows.filter((r) => r.sent_via === options.sentVia);
  const candidates = sentThere.length > 0 ? sentThere : rows;
  const latest = candidates[0];
  return latest && { order: toPurchaseOrder(latest), connections: connectionsOf(candidates) };
}

export async function setPurchaseOrderState(db: Queryable, poKey: string, state: string): Promise<void> {
  await db.query('update carelane.purchase_orders set state = $2, updated_at = now() where po_key = $1', [poKey, state]);
}

/** `sentVia`: the channel, as the supplier's documents will name their source (x12:<partner>, supplier_rest:<id>). */
export async function markPurchaseOrderSent(db: Queryable, poKey: string, sentVia: string): Promise<void> {
  await db.query('update carelane.purchase_orders set sent_at = coalesce(sent_at, now()), sent_via = $2, updated_at = now() where po_key = $1', [poKey, sentVia]);
}

/** Orders placed but waiting in Odoo for a manager's approval (state 'to approve'), not yet sent. */
export async function purchaseOrdersAwaitingApproval(db: Queryable): Promise<PurchaseOrderRow[]> {
  const { rows } = await db.query<PurchaseOrderRecord>(`select * from carelane.purchase_orders where sent_at is null and state = 'to approve' order by created_at`);
  return rows.map(toPurchaseOrder);
}
