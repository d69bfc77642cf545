-- Reference data the EHR (or another system) sends and owns (issue 6, DESIGN.md principle 5): Carelane keeps
-- the owner's copy of each record, written only when the sender is the declared system of record of the
-- fields it writes; anything else is refused as an ownership_violation.
create table carelane.reference_records (
  source         text not null,               -- inbound source, e.g. fhir:ehr-main
  kind           text not null,               -- location | organization | device
  system         text not null,
  code           text not null,
  record         jsonb not null,
  source_version text,
  updated_at     timestamptz not null default now(),
  primary key (source, kind, system, code)
);
