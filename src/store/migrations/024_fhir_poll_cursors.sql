-- FHIR polling for EHRs without subscriptions (issue 4, src/connectors/fhir/poller.ts, docs/ehr.md "Polling"):
-- one cursor per source and resource type. The cursor moves only after the messages it passes are stored, so a
-- crash re-reads and never skips. A lease lets one Carelane process poll a (source, type) at a time; a process
-- that dies holding it is replaced once lease_until has passed.
create table carelane.fhir_poll_cursors (
  source         text not null,                 -- fhir:<id>, the source of the messages it stores
  resource_type  text not null,
  last_updated   text,                          -- meta.lastUpdated as the server wrote it; null = from the start
  seen           jsonb not null default '{}',   -- version keys stored at or after last_updated -> their lastUpdated
  lease_holder   text,
  lease_until    timestamptz,
  last_run_at    timestamptz,                   -- when the last run that read every page finished
  updated_at     timestamptz not null default now(),
  primary key (source, resource_type)
);
