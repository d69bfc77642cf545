-- Bedside supplies follow the patient (issue 4/6): an ADT transfer (A02, A08 with a new PV1-3) moves the patient's
-- open supply demands to the new location. The patient is kept as its keyed token only (PHI-class, it never
-- leaves Carelane), so the flow can find the patient's open demands without any identifier.
alter table carelane.demands add column patient_token text;
create index demands_open_by_patient on carelane.demands (patient_token) where status in ('requested', 'reserved', 'partial') and patient_token is not null;
