-- One X12 interchange (one stored message) can carry several 855 transaction sets for the same purchase order,
-- e.g. an original and a change in one envelope. Each is its own acknowledgment: `ordinal` tells them apart in
-- the order they stand in the message (0 for the PO's first, 1 for the next). Rows recorded before could only be
-- one per PO and message, so 0 is right for all of them.
alter table carelane.supplier_acknowledgments add column ordinal integer not null default 0;
alter table carelane.supplier_acknowledgments drop constraint supplier_acknowledgments_po_key_message_id_key;
alter table carelane.supplier_acknowledgments add constraint supplier_acknowledgments_po_key_message_id_ordinal_key unique (po_key, message_id, ordinal);
