-- Cost allocation (issue 7, docs/finance.md "Cost allocation"): utilization events are recorded as deltas of
-- what each source record (a FHIR Procedure, a DFT^P03 charge) says was used, so an update, a reversal or a
-- re-sent message nets out; demand_key groups the deltas of one source record.
alter table carelane.utilization_events add column demand_key text;
alter table carelane.utilization_events add column source_type text;
create index utilization_demand on carelane.utilization_events (demand_key);
create index utilization_entry on carelane.utilization_events (entry_key) where entry_key is not null;
-- The move Odoo gave an entry and its state, so a reconciliation can name it.
alter table carelane.cost_entries add column quantity numeric not null default 0;
alter table carelane.cost_entries add column move_state text;
