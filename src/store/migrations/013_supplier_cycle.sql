-- Supplier cycle up to the receipt (issue 7, first half; src/flows/supplier): what the supplier acknowledged,
-- what it shipped (lots and expiry per PO line) and what was received against each purchase order line.
--
-- For other flows (the finance half of issue 7 reads these, never writes them):
-- * carelane.po_line_receipts is THE received quantity per Odoo purchase order line, one row per receipt batch
--   and line: sum(quantity_received) group by (po_key, odoo_purchase_line_id) is what Carelane validated into
--   Odoo's incoming pickings (the same number Odoo adds to purchase.order.line.qty_received). `lots` lists the
--   lots and quantities of that row. Rows are written once, in the transaction that records the validated
--   receipt, and never updated.
-- * carelane.po_line_acknowledgments is the supplier's latest word per PO line (accepted, changed, backordered,
--   rejected, with confirmed quantity and promised date): the "ordered as confirmed" side of a match.
-- * carelane.expected_lots is what the ship notices announced per PO line (lot, expiry, quantity).

-- Each acknowledgment (855 / REST) received for a purchase order, with what was done with each line.
create table carelane.supplier_acknowledgments (
  id                  bigint generated always as identity primary key,
  po_key              text not null references carelane.purchase_orders (po_key),
  message_id          bigint references carelane.messages (id) on delete set null,
  correlation_id      text not null,                    -- the acknowledgment message's own transaction
  acknowledgment_type text not null,                    -- BAK02: AD accepted, AC with changes, RJ rejected, ...
  lines               jsonb not null default '[]',      -- [{lineNumber, productId, status, orderedQuantity, confirmedQuantity, backorderedQuantity, rejectedQuantity, date, reason}]
  applied             jsonb,                            -- what supplier.apply_ack did in Odoo, per line
  received_at         timestamptz not null default now(),
  applied_at          timestamptz,
  unique (po_key, message_id)
);
create index supplier_acknowledgments_po on carelane.supplier_acknowledgments (po_key);

-- The supplier's latest word per PO line. One row per (PO, product): Carelane's orders have one line per product.
create table carelane.po_line_acknowledgments (
  po_key                text not null references carelane.purchase_orders (po_key),
  product_id            integer not null,
  line_number           text,                           -- the 850 line number the supplier answered (PO101)
  odoo_purchase_line_id integer,                        -- filled in when applied in Odoo
  status                text not null,                  -- accepted | changed | backordered | rejected | on_hold | other
  ordered_quantity      numeric not null,
  confirmed_quantity    numeric,                        -- what the supplier will deliver in total
  backordered_quantity  numeric not null default 0,
  rejected_quantity     numeric not null default 0,
  promised_date         date,                           -- ACK05 / REST date: the new ship or delivery date
  reason                text,                           -- rejection reason (ACK01 code and its meaning)
  acknowledgment_id     bigint not null references carelane.supplier_acknowledgments (id),
  updated_at            timestamptz not null default now(),
  primary key (po_key, product_id)
);

-- Ship notices (856 / REST): one row per notice and PO.
create table carelane.ship_notices (
  id              bigint generated always as identity primary key,
  po_key          text not null references carelane.purchase_orders (po_key),
  shipment_id     text not null,                        -- BSN02 / shipmentId
  message_id      bigint references carelane.messages (id) on delete set null,
  correlation_id  text not null,
  shipped_date    date,
  received_at     timestamptz not null default now(),
  unique (po_key, shipment_id)
);

-- The lots a ship notice announced, per PO line, for receiving. `usable` is false for a lot already expired
-- when announced: it is flagged (a quantity_variance exception) and a scan of it is not received as usable.
create table carelane.expected_lots (
  ship_notice_id        bigint not null references carelane.ship_notices (id),
  po_key                text not null references carelane.purchase_orders (po_key),
  product_id            integer not null,
  line_number           text,
  gtin                  text,
  lot_name              text not null,
  expiry_date           date,
  quantity              numeric not null,
  usable                boolean not null,
  odoo_lot_id           integer,                        -- the stock.lot created ahead of receiving (filled by supplier.expect_lots)
  primary key (ship_notice_id, product_id, lot_name)
);
create index expected_lots_po on carelane.expected_lots (po_key, product_id);

-- Receipt batches (POST /api/v1/receipts or a warehouse system's receipt message): idempotent per batch id.
create table carelane.receipts (
  batch_key       text primary key,                     -- '<source>|<batch id>'
  po_key          text not null references carelane.purchase_orders (po_key),
  correlation_id  text not null,                        -- the receipt message's transaction (linked to the PO's)
  message_id      bigint references carelane.messages (id) on delete set null,
  status          text not null check (status in ('received', 'validated', 'refused')),
  picking_id      integer,                              -- the incoming picking validated
  backorder_id    integer,                              -- the picking Odoo split off for the rest (short receipt)
  lines           jsonb not null default '[]',          -- what was scanned: [{productId, lot, expiryDate, serial, quantity}]
  outcome         jsonb,                                -- per product: open before, received, short, over
  created_at      timestamptz not null default now(),
  validated_at    timestamptz
);
create index receipts_po on carelane.receipts (po_key);

-- Received quantity per Odoo purchase order line and receipt batch (see the note at the top).
create table carelane.po_line_receipts (
  po_key                text not null references carelane.purchase_orders (po_key),
  batch_key             text not null references carelane.receipts (batch_key),
  odoo_purchase_line_id integer not null,
  product_id            integer not null,
  quantity_received     numeric not null check (quantity_received >= 0),
  lots                  jsonb not null default '[]',    -- [{lot, expiryDate, quantity}]
  received_at           timestamptz not null default now(),
  primary key (batch_key, odoo_purchase_line_id)
);
create index po_line_receipts_line on carelane.po_line_receipts (po_key, odoo_purchase_line_id);
