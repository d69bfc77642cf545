-- The supplier channel each purchase order went out on, named as that supplier's documents arrive (their message
-- source): x12:<partner> or supplier_rest:<id>. Odoo numbers purchase orders per database, so with several Odoo
-- connections one PO number can name an order on each; a supplier's 855/856 is matched only to the orders that
-- were sent to that supplier (docs/flows.md, "Which order a document names").
alter table carelane.purchase_orders add column sent_via text;
-- Orders sent before this column: from their send delivery, where housekeeping has not purged it yet.
update carelane.purchase_orders p
   set sent_via = case d.action when 'x12.send_850' then 'x12:' || (d.payload->>'partner') else 'supplier_rest:' || d.endpoint end
  from carelane.deliveries d
 where d.idempotency_key in ('x12.send_850:' || p.po_key, 'supplier_rest.send_po:' || p.po_key);
