-- Finance and control flows (issue 7, second half): 3-way invoice match, cost allocation with cutoffs,
-- inventory reconciliation against warehouse snapshots. Supplier milestones and KPIs are computed from the
-- tables that already exist (messages, x12_outbound, purchase_orders, demands) and from these.

-- One row per vendor invoice (vendor + invoice number): the 3-way match Carelane computed and where the Odoo
-- bill stands. Odoo Community has no 3-way match (reference/odoo.md §2.10): this table is the evidence.
create table carelane.invoice_matches (
  match_key       text primary key,                    -- 'invoice:<odoo connection>:<vendor id>:<invoice number>'
  correlation_id  text not null,                       -- the invoice message's transaction (linked to the PO's)
  message_id      bigint references carelane.messages (id) on delete set null,
  po_key          text,
  po_name         text,
  odoo_connection text not null,
  vendor_id       integer not null,
  invoice_number  text not null,
  invoice_date    date,
  bill_id         integer,
  bill_state      text,                                -- draft | posted | cancel, as last seen
  outcome         text not null check (outcome in ('matched', 'price_variance', 'quantity_variance', 'accepted')),
  first_pass      boolean not null,                    -- matched within tolerance without a person
  lines           jsonb not null,                      -- per line: ordered, received, invoiced, prices, verdict
  tolerance       jsonb not null,
  accepted_by     text,
  accepted_note   text,
  accepted_at     timestamptz,
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now()
);
create index invoice_matches_po on carelane.invoice_matches (po_name);
create index invoice_matches_correlation on carelane.invoice_matches (correlation_id);

-- Utilization (supplies used: FHIR Procedure, DFT^P03 charges) per department and service line, waiting for
-- its period's cutoff. A period is a day; an event whose day is already closed joins the next open period.
create table carelane.utilization_events (
  event_key       text primary key,                    -- '<demand key>|<product id>': a re-sent message adds nothing
  correlation_id  text not null,
  message_id      bigint references carelane.messages (id) on delete set null,
  odoo_connection text not null,
  site            text not null,
  department_account_id integer not null,              -- the location crosswalk's analytic account
  service_line    text not null,                       -- the procedure code, or 'unassigned'
  service_line_account_id integer,                     -- flows.costAllocation.serviceLines, when mapped
  product_id      integer not null,
  quantity        numeric not null,                    -- negative: a credit (FT1-6 CD) reverses a charge
  occurred_at     timestamptz not null,
  period          date not null,
  late            boolean not null default false,      -- its own day was closed when it arrived
  unit_cost       numeric,                             -- set when posted (Odoo standard_price at posting)
  entry_key       text,                                -- the journal entry it was posted in
  received_at     timestamptz not null default now()
);
create index utilization_unposted on carelane.utilization_events (odoo_connection, period, department_account_id) where entry_key is null;

-- Closed periods per Odoo connection. Never reopened: late events go to the next period.
create table carelane.cost_periods (
  odoo_connection text not null,
  period          date not null,
  closed_at       timestamptz not null default now(),
  primary key (odoo_connection, period)
);

-- One journal entry per department and period in Odoo (external id = entry_key).
create table carelane.cost_entries (
  entry_key       text primary key,                    -- 'cost:<connection>:<period>:<department account>'
  odoo_connection text not null,
  period          date not null,
  department_account_id integer not null,
  move_id         integer,
  move_name       text,
  amount          numeric not null,
  events          integer not null,
  lines           jsonb not null,
  posted_at       timestamptz not null default now()
);

-- Warehouse stock snapshots (846 inventory advice, or REST) to reconcile Odoo's quants against.
create table carelane.warehouse_snapshots (
  id              bigint generated always as identity primary key,
  snapshot_key    text not null unique,                -- e.g. '846:<partner>:<report id>'
  odoo_connection text not null,
  location_id     integer not null,                    -- the Odoo location the warehouse reports for
  taken_at        timestamptz not null,
  message_id      bigint references carelane.messages (id) on delete set null,
  lines           integer not null default 0,
  created_at      timestamptz not null default now()
);
create table carelane.warehouse_snapshot_lines (
  snapshot_id     bigint not null references carelane.warehouse_snapshots (id) on delete cascade,
  location_id     integer not null,
  product_id      integer not null,
  lot_name        text not null default '',
  quantity        numeric not null,
  primary key (snapshot_id, location_id, product_id, lot_name)
);

-- Reconciliation runs and their differences (aggregated into few exceptions, listed here line by line).
create table carelane.stock_reconciliations (
  id              bigint generated always as identity primary key,
  odoo_connection text not null,
  snapshot_id     bigint references carelane.warehouse_snapshots (id) on delete set null,
  started_at      timestamptz not null default now(),
  finished_at     timestamptz,
  quants_read     bigint not null default 0,
  snapshot_lines  bigint not null default 0,
  mismatches      bigint not null default 0,
  summary         jsonb
);
-- Odoo's side of a run, streamed in pages (unlogged: scratch data, rebuilt by the next run).
create unlogged table carelane.reconciliation_quants (
  run_id          bigint not null,
  location_id     integer not null,
  product_id      integer not null,
  lot_name        text not null,
  quantity        numeric not null
);
create index reconciliation_quants_run on carelane.reconciliation_quants (run_id, location_id, product_id, lot_name);
create table carelane.stock_mismatches (
  run_id          bigint not null references carelane.stock_reconciliations (id) on delete cascade,
  location_id     integer not null,
  product_id      integer not null,
  lot_name        text not null,
  odoo_quantity   numeric not null,
  warehouse_quantity numeric not null,
  adjusted_at     timestamptz,
  primary key (run_id, location_id, product_id, lot_name)
);

-- Supplier milestone alerts already raised (one per supplier, metric and day), so a schedule repeats none.
create table carelane.supplier_alerts (
  alert_key       text primary key,                    -- '<vendor>:<metric>:<day>'
  vendor_id       integer not null,
  metric          text not null,
  value           numeric not null,
  threshold       numeric not null,
  exception_id    bigint,
  created_at      timestamptz not null default now()
);
