-- Contracts governance (issue 8): every version of a canonical or partner schema, and the change requests a
-- breaking version waits in until an admin decides. Versions are never updated in place except their status.
create table carelane.contract_versions (
  name          text not null,
  kind          text not null check (kind in ('canonical', 'partner')),
  version       text not null,                 -- semver MAJOR.MINOR.PATCH
  major         integer not null,
  minor         integer not null,
  patch         integer not null,
  schema        jsonb not null,                -- JSON Schema (TypeBox output)
  status        text not null check (status in ('proposed', 'active', 'retired')),
  created_by    text not null,
  created_at    timestamptz not null default now(),
  activated_at  timestamptz,
  retired_at    timestamptz,
  primary key (name, version)
);
create index contract_versions_active on carelane.contract_versions (name, major) where status = 'active';

create table carelane.contract_change_requests (
  id            bigint generated always as identity primary key,
  name          text not null,
  version       text not null,
  base_version  text,
  level         text not null check (level in ('major', 'minor', 'patch')),
  changes       jsonb not null,
  reason        text not null,
  status        text not null check (status in ('pending', 'approved', 'rejected')),
  proposed_by   text not null,
  proposed_at   timestamptz not null default now(),
  decided_by    text,
  decided_at    timestamptz,
  decision_note text,
  foreign key (name, version) references carelane.contract_versions (name, version)
);
-- one breaking change at a time per contract: a second proposal would race the first one's approval
create unique index contract_change_requests_one_pending on carelane.contract_change_requests (name) where status = 'pending';

-- Signed inbound requests: each signature is accepted once. Shared by every node, so a request captured and
-- replayed to another node inside the 5-minute window is refused too.
create table carelane.request_nonces (
  key_id    text not null,
  signature text not null,
  seen_at   timestamptz not null default now(),
  primary key (key_id, signature)
);
create index request_nonces_seen on carelane.request_nonces (seen_at);

-- Owners and SLAs: when the SLA check found an open exception past its type's SLA (alerted once).
alter table carelane.exceptions add column breached_at timestamptz;
