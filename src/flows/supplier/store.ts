import type { Queryable } from '../../store/database.ts';
import { linkTransactions } from '../../store/demands.ts';
import type { LineAcknowledgment } from './ack-lines.ts';

/** Tables of migration 013 (src/store/migrations/013_supplier_cycle.sql). */

/**
 * Records an acknowledgment and its lines; returns its id, or the id recorded before for it. `ordinal` is its
 * place among this PO's acknowledgments in the message (migration 033): an interchange can carry two for one PO.
 */
export async function recordAcknowledgment(
  db: Queryable,
  ack: { poKey: string; messageId: number; ordinal: number; correlationId: string; acknowledgmentType: string; lines: LineAcknowledgment[] },
): Promise<number> {
  const { rows } = await db.query<{ id: string }>(
    `insert into carelane.supplier_acknowledgments (po_key, message_id, ordinal, correlation_id, acknowledgment_type, lines)
     values ($1, $2, $3, $4, $5, $6::jsonb)
     on conflict (po_key, message_id, ordinal) do update set lines = excluded.lines returning id`,
    [ack.poKey, ack.messageId, ack.ordinal, ack.correlationId, ack.acknowledgmentType, JSON.stringify(ack.lines)],
  );
  const id = Number(rows[0]!.id);
  for (const line of ack.lines) {
    await db.query(
      `insert into carelane.po_line_acknowledgments (po_key, product_id, line_number, status, ordered_quantity, confirmed_quantity, backordered_quantity, rejected_quantity, promised_date, reason, acknowledgment_id)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       on conflict (po_key, product_id) do update set line_number = excluded.line_number, status = excluded.status, ordered_quantity = excluded.ordered_quantity,
         confirmed_quantity = excluded.confirmed_quantity, backordered_quantity = excluded.backordered_quantity, rejected_quantity = excluded.rejected_quantity,
         promised_date = excluded.promised_date, reason = excluded.reason, acknowledgment_id = excluded.acknowledgment_id, updated_at = now()`,
      [ack.poKey, line.productId, line.lineNumber, line.status, line.orderedQuantity, line.confirmedQuantity, line.backorderedQuantity, line.rejectedQuantity, line.promisedDate ?? null, line.reason ?? null, id],
    );
  }
  return id;
}

export async function recordAcknowledgmentApplied(db: Queryable, acknowledgmentId: number, applied: unknown, lineIds: Map<number, number>): Promise<void> {
  await db.query('update carelane.supplier_acknowledgments set applied = $2::jsonb, applied_at = now() where id = $1', [acknowledgmentId, JSON.stringify(applied)]);
  for (const [productId, lineId] of lineIds) {
    await db.query('update carelane.po_line_acknowledgments set odoo_purchase_line_id = $3 where acknowledgment_id = $1 and product_id = $2', [acknowledgmentId, productId, lineId]);
  }
}

/**
 * An acknowledgment arriving closes the wait for it: the open supplier_delay of the PO (no 855 within the SLA)
 * and of its 850 interchange (no 997/999, src/connectors/x12/supplier-delay.ts: a supplier that answers the
 * order has received it) are resolved by the system, with the reason.
 */
export async function closeAcknowledgmentWait(db: Queryable, poKey: string, messageId: number): Promise<number> {
  const result = await db.query(
    `update carelane.exceptions set status = 'resolved', resolved_at = now(), resolved_by = 'system:supplier_ack', resolution_action = 'acknowledged',
            resolution_note = 'the supplier acknowledged the purchase order (message ' || $2::text || ')'
     where type = 'supplier_delay' and status = 'open' and (detail->>'poKey' = $1 or detail->>'idempotencyKey' = 'x12.send_850:' || $1)`,
    [poKey, String(messageId)],
  );
  return result.rowCount ?? 0;
}

/** Links a supplier document's (or a receipt's) transaction to its purchase order's, for the timeline. */
export async function linkToPurchaseOrder(db: Queryable, documentCorrelationId: string, poCorrelationId: string, relation: string): Promise<void> {
  await linkTransactions(db, poCorrelationId, [documentCorrelationId], relation);
}

/**
 * A business exception that is not a parked delivery (nothing to retry: the flow did what it could and a
 * person decides the rest), one open per key: a replay of the same document does not open it twice.
 */
export async function openBusinessException(
  db: Queryable,
  exception: { type: string; key: string; reason: string; correlationId: string; messageId: number | null; detail: Record<string, unknown> },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `insert into carelane.exceptions (type, classification, status, reason, correlation_id, message_id, detail)
     select $1, 'business', 'open', $2, $3, $4, $5::jsonb
     where not exists (select 1 from carelane.exceptions where type = $1 and detail->>'key' = $6)`,
    [exception.type, exception.reason, exception.correlationId, exception.messageId, JSON.stringify({ ...exception.detail, key: exception.key }), exception.key],
  );
  return (rowCount ?? 0) > 0;
}

export interface ShipNoticeLotRow {
  productId: number;
  lineNumber: string | null;
  gtin: string | null;
  lotName: string;
  expiryDate: string | null;
  quantity: number;
  usable: boolean;
}

export async function recordShipNotice(
  db: Queryable,
  notice: { poKey: string; shipmentId: string; messageId: number; correlationId: string; shippedDate: string | undefined; lots: ShipNoticeLotRow[] },
): Promise<number> {
  const { rows } = await db.query<{ id: string }>(
    `insert into carelane.ship_notices (po_key, shipment_id, message_id, correlation_id, shipped_date) values ($1, $2, $3, $4, $5)
     on conflict (po_key, shipment_id) do update set message_id = excluded.message_id returning id`,
    [notice.poKey, notice.shipmentId, notice.messageId, notice.correlationId, notice.shippedDate ?? null],
  );
  const id = Number(rows[0]!.id);
  for (const lot of notice.lots) {
    await db.query(
      `insert into carelane.expected_lots (ship_notice_id, po_key, product_id, line_number, gtin, lot_name, expiry_date, quantity, usable)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       on conflict (ship_notice_id, product_id, lot_name) do update set quantity = excluded.quantity, expiry_date = excluded.expiry_date, usable = excluded.usable`,
      [id, notice.poKey, lot.productId, lot.lineNumber, lot.gtin, lot.lotName, lot.expiryDate, lot.quantity, lot.usable],
    );
  }
  return id;
}

export async function recordExpectedLotIds(db: Queryable, shipNoticeId: number, lots: Array<{ productId: number; lotName: string; odooLotId: number }>): Promise<void> {
  for (const lot of lots) {
    await db.query('update carelane.expected_lots set odoo_lot_id = $4 where ship_notice_id = $1 and product_id = $2 and lot_name = $3', [shipNoticeId, lot.productId, lot.lotName, lot.odooLotId]);
  }
}

export interface ExpectedLot extends ShipNoticeLotRow {
  odooLotId: number | null;
}

export async function expectedLots(db: Queryable, poKey: string): Promise<ExpectedLot[]> {
  const { rows } = await db.query<{ product_id: number; line_number: string | null; gtin: string | null; lot_name: string; expiry_date: string | null; quantity: string; usable: boolean; odoo_lot_id: number | null }>(
    `select product_id, line_number, gtin, lot_name, to_char(expiry_date, 'YYYY-MM-DD') as expiry_date, quantity, usable, odoo_lot_id
     from carelane.expected_lots where po_key = $1 order by ship_notice_id, product_id, lot_name`,
    [poKey],
  );
  return rows.map((r) => ({ productId: r.product_id, lineNumber: r.line_number, gtin: r.gtin, lotName: r.lot_name, expiryDate: r.expiry_date, quantity: Number(r.quantity), usable: r.usable, odooLotId: r.odoo_lot_id }));
}

/** A serial number a ship notice announced for a PO line (856 LIN SN / REF*SE / HIBCC), with its item's lot. */
export interface ShipNoticeSerialRow {
  productId: number;
  lineNumber: string | null;
  gtin: string | null;
  serial: string;
  lotName: string;
  expiryDate: string | null;
  usable: boolean;
}

/**
 * Records a notice's serials (carelane.po_serials, migration 031). Replayed, the same notice changes nothing; a
 * serial received before any notice announced it is now marked announced. A serial another notice of the PO
 * announced first stays that notice's (the caller reports it).
 */
export async function recordShipNoticeSerials(db: Queryable, poKey: string, shipNoticeId: number, serials: ShipNoticeSerialRow[]): Promise<void> {
  for (const s of serials) {
    await db.query(
      `insert into carelane.po_serials (po_key, product_id, serial, ship_notice_id, line_number, gtin, lot_name, expiry_date, usable)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       on conflict (po_key, product_id, serial) do update set ship_notice_id = excluded.ship_notice_id, line_number = excluded.line_number, gtin = excluded.gtin,
         lot_name = excluded.lot_name, expiry_date = excluded.expiry_date, usable = excluded.usable
       where carelane.po_serials.ship_notice_id is null or carelane.po_serials.ship_notice_id = excluded.ship_notice_id`,
      [poKey, s.productId, s.serial, shipNoticeId, s.lineNumber, s.gtin, s.lotName, s.expiryDate, s.usable],
    );
  }
}

/** The serials of `candidates` that another ship notice of the PO (not `shipmentId`) announced already. */
export async function serialsAnnouncedElsewhere(db: Queryable, poKey: string, shipmentId: string, candidates: Array<{ productId: number; serial: string }>): Promise<Array<{ productId: number; serial: string; shipmentId: string }>> {
  if (candidates.length === 0) return [];
  const { rows } = await db.query<{ product_id: number; serial: string; shipment_id: string }>(
    `select s.product_id, s.serial, n.shipment_id from carelane.po_serials s join carelane.ship_notices n on n.id = s.ship_notice_id
     join unnest($3::int[], $4::text[]) as c(product_id, serial) on c.product_id = s.product_id and c.serial = s.serial
     where s.po_key = $1 and n.shipment_id <> $2`,
    [poKey, shipmentId, candidates.map((c) => c.productId), candidates.map((c) => c.serial)],
  );
  return rows.map((r) => ({ productId: r.product_id, serial: r.serial, shipmentId: r.shipment_id }));
}

export async function recordSerialOdooLotIds(db: Queryable, poKey: string, serials: Array<{ productId: number; serial: string; odooLotId: number }>): Promise<void> {
  for (const s of serials) {
    await db.query('update carelane.po_serials set odoo_lot_id = $4 where po_key = $1 and product_id = $2 and serial = $3', [poKey, s.productId, s.serial, s.odooLotId]);
  }
}

export interface PoSerial extends ShipNoticeSerialRow {
  /** false: received without a ship notice announcing it */
  announced: boolean;
  receivedBatchKey: string | null;
}

export async function poSerials(db: Queryable, poKey: string): Promise<PoSerial[]> {
  const { rows } = await db.query<{ product_id: number; line_number: string | null; gtin: string | null; serial: string; lot_name: string; expiry_date: string | null; usable: boolean; ship_notice_id: string | null; received_batch_key: string | null }>(
    `select product_id, line_number, gtin, serial, lot_name, to_char(expiry_date, 'YYYY-MM-DD') as expiry_date, usable, ship_notice_id, received_batch_key
     from carelane.po_serials where po_key = $1 order by product_id, serial`,
    [poKey],
  );
  return rows.map((r) => ({
    productId: r.product_id, lineNumber: r.line_number, gtin: r.gtin, serial: r.serial, lotName: r.lot_name, expiryDate: r.expiry_date, usable: r.usable,
    announced: r.ship_notice_id !== null, receivedBatchKey: r.received_batch_key,
  }));
}

/** The serials of `candidates` a batch other than `batchKey` received (validated) for this PO. */
export async function serialsReceivedByOtherBatches(db: Queryable, poKey: string, batchKey: string, candidates: Array<{ productId: number; serial: string }>): Promise<Array<{ productId: number; serial: string; batchKey: string }>> {
  if (candidates.length === 0) return [];
  const { rows } = await db.query<{ product_id: number; serial: string; received_batch_key: string }>(
    `select s.product_id, s.serial, s.received_batch_key from carelane.po_serials s
     join unnest($3::int[], $4::text[]) as c(product_id, serial) on c.product_id = s.product_id and c.serial = s.serial
     where s.po_key = $1 and s.received_batch_key is not null and s.received_batch_key <> $2`,
    [poKey, batchKey, candidates.map((c) => c.productId), candidates.map((c) => c.serial)],
  );
  return rows.map((r) => ({ productId: r.product_id, serial: r.serial, batchKey: r.received_batch_key }));
}

/** Marks serials received by a validated batch (in the transaction recording the validation); unannounced ones are added. */
export async function recordSerialsReceived(db: Queryable, poKey: string, batchKey: string, serials: Array<{ productId: number; serial: string; lot?: string | undefined; expiryDate?: string | undefined }>): Promise<void> {
  for (const s of serials) {
    await db.query(
      `insert into carelane.po_serials (po_key, product_id, serial, lot_name, expiry_date, received_batch_key, received_at) values ($1, $2, $3, $4, $5, $6, now())
       on conflict (po_key, product_id, serial) do update set received_batch_key = excluded.received_batch_key, received_at = excluded.received_at
       where carelane.po_serials.received_batch_key is null`,
      [poKey, s.productId, s.serial, s.lot ?? '', s.expiryDate ?? null, batchKey],
    );
  }
}

export interface ReceiptRow {
  batchKey: string;
  poKey: string;
  correlationId: string;
  messageId: number | null;
  status: 'received' | 'validated' | 'refused';
  pickingId: number | null;
  backorderId: number | null;
  lines: unknown;
  outcome: unknown;
  createdAt: Date;
  validatedAt: Date | null;
}

export async function recordReceiptBatch(db: Queryable, receipt: { batchKey: string; poKey: string; correlationId: string; messageId: number; lines: unknown }): Promise<void> {
  await db.query(
    `insert into carelane.receipts (batch_key, po_key, correlation_id, message_id, status, lines) values ($1, $2, $3, $4, 'received', $5::jsonb)
     on conflict (batch_key) do nothing`,
    [receipt.batchKey, receipt.poKey, receipt.correlationId, receipt.messageId, JSON.stringify(receipt.lines)],
  );
}

export async function findReceipt(db: Queryable, batchKey: string): Promise<ReceiptRow | undefined> {
  const { rows } = await db.query<{ batch_key: string; po_key: string; correlation_id: string; message_id: string | null; status: ReceiptRow['status']; picking_id: number | null; backorder_id: number | null; lines: unknown; outcome: unknown; created_at: Date; validated_at: Date | null }>(
    'select * from carelane.receipts where batch_key = $1',
    [batchKey],
  );
  const r = rows[0];
  return r && { batchKey: r.batch_key, poKey: r.po_key, correlationId: r.correlation_id, messageId: r.message_id === null ? null : Number(r.message_id), status: r.status, pickingId: r.picking_id, backorderId: r.backorder_id, lines: r.lines, outcome: r.outcome, createdAt: r.created_at, validatedAt: r.validated_at };
}

export interface LineReceipt {
  odooPurchaseLineId: number;
  productId: number;
  quantity: number;
  lots: Array<{ lot: string | undefined; serial?: string | undefined; expiryDate: string | undefined; quantity: number }>;
}

/** The validated receipt and its received quantities per PO line (read by the 3-way match). Written once. */
export async function recordReceiptValidated(
  db: Queryable,
  receipt: { batchKey: string; poKey: string; pickingId: number; backorderId: number | undefined; outcome: unknown; lines: LineReceipt[] },
): Promise<void> {
  const { rowCount } = await db.query(
    `update carelane.receipts set status = 'validated', picking_id = $2, backorder_id = $3, outcome = $4::jsonb, validated_at = now() where batch_key = $1 and status <> 'validated'`,
    [receipt.batchKey, receipt.pickingId, receipt.backorderId ?? null, JSON.stringify(receipt.outcome)],
  );
  if (!rowCount) return;
  for (const line of receipt.lines) {
    await db.query(
      `insert into carelane.po_line_receipts (po_key, batch_key, odoo_purchase_line_id, product_id, quantity_received, lots) values ($1, $2, $3, $4, $5, $6::jsonb)
       on conflict (batch_key, odoo_purchase_line_id) do nothing`,
      [receipt.poKey, receipt.batchKey, line.odooPurchaseLineId, line.productId, line.quantity, JSON.stringify(line.lots)],
    );
  }
}

/**
 * A refusal comes before anything is written in Odoo, so the picking chosen for the batch is let go: a replay
 * chooses again. Kept, it would be taken for this batch's own once another batch validated it ("already done").
 */
export async function recordReceiptRefused(db: Queryable, batchKey: string, outcome: unknown): Promise<void> {
  await db.query(`update carelane.receipts set status = 'refused', outcome = $2::jsonb, picking_id = null where batch_key = $1 and status <> 'validated'`, [batchKey, JSON.stringify(outcome)]);
}

/** Whether a batch other than this one recorded `pickingId` as the picking it validated. */
export async function otherBatchValidatedPicking(db: Queryable, batchKey: string, pickingId: number): Promise<boolean> {
  const { rows } = await db.query(`select 1 from carelane.receipts where picking_id = $2 and status = 'validated' and batch_key <> $1 limit 1`, [batchKey, pickingId]);
  return rows.length > 0;
}

/**
 * A batch lets go of the picking it chose, found done with other goods than its own (foreignValidation): it
 * chooses again. Only that choice is cleared, so a concurrent re-choice of the same batch is not undone.
 */
export async function letGoOfPicking(db: Queryable, batchKey: string, pickingId: number): Promise<void> {
  await db.query(`update carelane.receipts set picking_id = null where batch_key = $1 and picking_id = $2 and status <> 'validated'`, [batchKey, pickingId]);
}
