-- Master data and crosswalks (issue 6). Each crosswalk table keeps every version of every mapping: the current
-- one has valid_to null (one per natural key, by a partial unique index), a change closes it (valid_to, ended_by)
-- and inserts the next version, a removal only closes it. So the history of a mapping is its rows ordered by
-- version, and "what did this code map to on that day" is a valid_from/valid_to lookup. Who changed what, with
-- the before and after, is also in the audit chain (governance/audit.ts), written in the same transaction.

-- EHR item/supply code ↔ Odoo product (id and/or default_code) ↔ GTIN. A row may name only the default_code or
-- the GTIN: the master-data sync fills in the product id from the owning Odoo.
create table carelane.item_crosswalk (
  id               bigint generated always as identity primary key,
  ehr_system       text not null,               -- '' when the sender names no coding system (HL7 v2 CWE.3 empty)
  ehr_code         text not null,
  odoo_product_id  integer,
  default_code     text,
  gtin             text,
  uom_id           integer,
  version          integer not null,
  valid_from       timestamptz not null default now(),
  valid_to         timestamptz,
  created_by       text not null,
  ended_by         text,
  check (odoo_product_id is not null or default_code is not null or gtin is not null)
);
create unique index item_crosswalk_current on carelane.item_crosswalk (ehr_system, ehr_code) where valid_to is null;
create index item_crosswalk_history on carelane.item_crosswalk (ehr_system, ehr_code, version);
create index item_crosswalk_product on carelane.item_crosswalk (odoo_product_id) where valid_to is null;
create index item_crosswalk_default_code on carelane.item_crosswalk (default_code) where valid_to is null;
create index item_crosswalk_gtin on carelane.item_crosswalk (gtin) where valid_to is null;

-- A supplier's own item code (850 PO1 VN/SK, supplier REST sku) for an Odoo product; vendor_ref is the
-- vendor's Odoo res.partner ref.
create table carelane.supplier_item_crosswalk (
  id               bigint generated always as identity primary key,
  vendor_ref       text not null,
  sku              text not null,
  odoo_product_id  integer not null,
  gtin             text,
  odoo_vendor_id   integer,                     -- filled in by the master-data sync
  version          integer not null,
  valid_from       timestamptz not null default now(),
  valid_to         timestamptz,
  created_by       text not null,
  ended_by         text
);
create unique index supplier_item_crosswalk_current on carelane.supplier_item_crosswalk (vendor_ref, sku) where valid_to is null;
create unique index supplier_item_crosswalk_product on carelane.supplier_item_crosswalk (vendor_ref, odoo_product_id) where valid_to is null;
create index supplier_item_crosswalk_history on carelane.supplier_item_crosswalk (vendor_ref, sku, version);

-- EHR location (FHIR Location, PV1-3 / AIL-3) → where stock comes from and goes to in Odoo, and who pays.
create table carelane.location_crosswalk (
  id                       bigint generated always as identity primary key,
  ehr_system               text not null,
  ehr_code                 text not null,
  site                     text not null,
  odoo_connection          text not null,
  storeroom_location_id    integer not null,
  destination_location_id  integer not null,
  picking_type_id          integer not null,
  analytic_account_id      integer,
  version                  integer not null,
  valid_from               timestamptz not null default now(),
  valid_to                 timestamptz,
  created_by               text not null,
  ended_by                 text
);
create unique index location_crosswalk_current on carelane.location_crosswalk (ehr_system, ehr_code) where valid_to is null;
create index location_crosswalk_history on carelane.location_crosswalk (ehr_system, ehr_code, version);

-- Preference cards (kits): what a procedure uses at a site. A card is versioned as a whole: its lines
-- ([{system, code, quantity}]) change together.
create table carelane.preference_cards (
  id                bigint generated always as identity primary key,
  site              text not null,
  procedure_system  text not null,
  procedure_code    text not null,
  lines             jsonb not null check (jsonb_typeof(lines) = 'array' and jsonb_array_length(lines) > 0),
  version           integer not null,
  valid_from        timestamptz not null default now(),
  valid_to          timestamptz,
  created_by        text not null,
  ended_by          text
);
create unique index preference_cards_current on carelane.preference_cards (site, procedure_system, procedure_code) where valid_to is null;
create index preference_cards_history on carelane.preference_cards (site, procedure_system, procedure_code, version);

-- Runs of the master-data sync from the owning Odoo, with what they read, changed and found missing.
create table carelane.master_data_sync_runs (
  id           bigint generated always as identity primary key,
  connection   text not null,
  trigger      text not null,                   -- 'schedule', or the actor who asked (API, CLI)
  status       text not null check (status in ('running', 'done', 'failed')),
  counts       jsonb not null default '{}'::jsonb,
  missing      jsonb not null default '[]'::jsonb,
  error        text,
  started_at   timestamptz not null default now(),
  finished_at  timestamptz
);
create index master_data_sync_runs_recent on carelane.master_data_sync_runs (connection, id desc);

-- Parked mapping failures are found by the unmapped values in their detail (jsonb containment @>).
create index exceptions_open_mapping_failures on carelane.exceptions using gin ((detail -> 'unmapped') jsonb_path_ops)
  where status = 'open' and type = 'mapping_failure';
