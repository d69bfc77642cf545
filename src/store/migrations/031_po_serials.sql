-- Serial numbers of a purchase order's units (issue 7; src/flows/supplier): what the ship notices announced
-- (856 LIN SN / REF*SE / HIBCC label) and which receipt batch received each one (GS1 AI 21 at receipt).
--
-- One row per PO, product and serial. `ship_notice_id` is set when a ship notice announced it, null when a batch
-- received it without one announcing serials for that product. A receipt naming a serial the ship notices did
-- not announce (for a product they announced serials for), or one another batch received, is refused.
create table carelane.po_serials (
  po_key              text not null references carelane.purchase_orders (po_key),
  product_id          integer not null,
  serial              text not null,
  ship_notice_id      bigint references carelane.ship_notices (id),
  line_number         text,
  gtin                text,
  lot_name            text not null default '',        -- the shipped item's lot, when it had exactly one
  expiry_date         date,
  usable              boolean not null default true,   -- false: its lot had expired when announced
  odoo_lot_id         integer,                         -- stock.lot of a serial-tracked product, made ahead of receiving
  received_batch_key  text,                            -- carelane.receipts.batch_key of the batch that received it
  received_at         timestamptz,
  primary key (po_key, product_id, serial)
);
create index po_serials_received on carelane.po_serials (received_batch_key) where received_batch_key is not null;
