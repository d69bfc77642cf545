-- The message store is the queue (DESIGN.md "Runtime and stack"). Everything Carelane keeps lives in one schema
-- so it can share a database with other applications.
create schema if not exists carelane;

-- Inbound messages, persisted before any acknowledgment is sent.
create table carelane.messages (
  id                bigint generated always as identity primary key,
  source            text not null,
  message_type      text not null default 'unknown',
  external_id       text,                      -- the sender's id (MSH-10, X12 control number, FHIR id)
  dedupe_key        text not null,             -- 'id:<external id>' or 'sha256:<content hash>'
  content_hash      text not null,
  correlation_id    text not null,
  status            text not null check (status in ('received', 'processing', 'processed', 'rejected', 'failed')),
  status_reason     text,
  content_type      text not null default 'application/octet-stream',
  payload           bytea,                     -- null once purged by retention
  payload_size      integer not null,
  payload_truncated boolean not null default false,
  ack_payload       text,                      -- what the sender was answered, re-sent verbatim to a duplicate
  duplicate_count   integer not null default 0,
  last_duplicate_at timestamptz,
  received_at       timestamptz not null default now(),
  updated_at        timestamptz not null default now(),
  constraint messages_dedupe unique (source, dedupe_key)
);
-- Keep typical messages (up to ~8 kB) in the row instead of TOAST: storing one out of line costs a second
-- heap insert and index insert before the ACK. Updates of status stay cheap: PostgreSQL logs only the changed
-- middle of a row updated in place.
alter table carelane.messages set (toast_tuple_target = 8160);
-- Every index here is paid for by every inbound message before its ACK: keep only those searches need.
-- received_at grows with id, so a BRIN index serves time ranges and retention at almost no write cost.
create index messages_received_at on carelane.messages using brin (received_at);
create index messages_correlation on carelane.messages (correlation_id);
create index messages_external_id on carelane.messages (external_id) where external_id is not null;
-- Messages that need attention are few: a partial index finds them without indexing the rest.
create index messages_needing_attention on carelane.messages (status, id) where status in ('rejected', 'failed');

-- What happened to a message after it was stored, in order.
create table carelane.message_stages (
  id         bigint generated always as identity primary key,
  message_id bigint not null references carelane.messages (id) on delete cascade,
  stage      text not null,
  outcome    text not null check (outcome in ('ok', 'error', 'skipped')),
  detail     jsonb,
  at         timestamptz not null default now()
);
create index message_stages_message on carelane.message_stages (message_id, id);

-- Outbound and internal work: one row per effect, claimed with FOR UPDATE SKIP LOCKED.
create table carelane.deliveries (
  id               bigint generated always as identity primary key,
  message_id       bigint references carelane.messages (id) on delete set null,
  correlation_id   text not null,
  lane             text not null,
  action           text not null,               -- the handler that performs the effect
  endpoint         text not null,               -- the peer: retry policy and circuit breaker are per endpoint
  ordering_key     text,                        -- per-key FIFO inside the lane; null = no ordering
  idempotency_key  text not null,
  payload          jsonb not null default '{}',
  status           text not null check (status in ('pending', 'running', 'done', 'exception', 'cancelled')),
  attempts         integer not null default 0,
  needs_lookup     boolean not null default false, -- an earlier attempt may have reached the peer: look before retrying
  run_after        timestamptz not null default now(),
  created_at       timestamptz not null default now(),
  claimed_at       timestamptz,
  completed_at     timestamptz,
  locked_by        text,
  lease_expires_at timestamptz,
  last_error       text,
  last_error_class text,
  replay_of        bigint references carelane.deliveries (id) on delete set null,
  constraint deliveries_idempotency unique (idempotency_key)
);
-- The claim walks this index in id order (FIFO) and stops at the batch size.
create index deliveries_pending on carelane.deliveries (lane, id) where status = 'pending';
-- Per-key FIFO: "is there an earlier unfinished delivery with my key?"
create index deliveries_key_unfinished on carelane.deliveries (lane, ordering_key, id)
  where status in ('pending', 'running') and ordering_key is not null;
create index deliveries_running_lease on carelane.deliveries (lease_expires_at) where status = 'running';
create index deliveries_message on carelane.deliveries (message_id);
create index deliveries_completed on carelane.deliveries (completed_at) where status = 'done';

-- Circuit breaker state per endpoint, shared by every engine process.
create table carelane.endpoints (
  name                 text primary key,
  state                text not null default 'closed' check (state in ('closed', 'open', 'half_open')),
  consecutive_failures integer not null default 0,
  open_count           integer not null default 0,   -- openings in a row: the wait doubles each time
  opened_at            timestamptz,
  retry_at             timestamptz,
  closed_at            timestamptz,
  last_error           text,
  updated_at           timestamptz not null default now()
);

-- The dead-letter queue: work that cannot go on without a person or a rule change.
create table carelane.exceptions (
  id                bigint generated always as identity primary key,
  type              text not null,
  classification    text not null check (classification in ('transient', 'ambiguous', 'permanent', 'business')),
  status            text not null check (status in ('open', 'resolved')),
  message_id        bigint references carelane.messages (id) on delete set null,
  delivery_id       bigint references carelane.deliveries (id) on delete set null,
  correlation_id    text,
  reason            text not null,
  attempts          integer not null default 0,
  last_error        text,
  detail            jsonb,
  created_at        timestamptz not null default now(),
  resolved_at       timestamptz,
  resolved_by       text,
  resolution_action text,
  resolution_note   text
);
create index exceptions_open on carelane.exceptions (type, created_at) where status = 'open';
create unique index exceptions_one_open_per_delivery on carelane.exceptions (delivery_id) where status = 'open';

-- Replays, each one audited with who and why.
create table carelane.replays (
  id            bigint generated always as identity primary key,
  requested_by  text not null,
  reason        text not null,
  filter        jsonb not null,
  dry_run       boolean not null,
  forced        boolean not null,
  matched       integer not null,
  requeued      integer not null,
  refused       integer not null,
  created_at    timestamptz not null default now()
);

-- API tokens, stored as SHA-256 hashes only.
create table carelane.api_tokens (
  id          bigint generated always as identity primary key,
  name        text not null unique,
  token_hash  text not null unique,
  role        text not null,
  created_at  timestamptz not null default now(),
  expires_at  timestamptz,
  revoked_at  timestamptz,
  last_used_at timestamptz
);

-- Append-only, hash-chained audit trail.
create table carelane.audit_log (
  id          bigint generated always as identity primary key,
  at          timestamptz not null default now(),
  actor       text not null,
  action      text not null,
  target_type text,
  target_id   text,
  reason      text,
  detail      jsonb,
  prev_hash   text not null,
  hash        text not null
);

-- One row per scheduled tick: the primary key is what makes a tick run once across nodes.
create table carelane.job_runs (
  job           text not null,
  scheduled_for timestamptz not null,
  node          text not null,
  started_at    timestamptz not null default now(),
  finished_at   timestamptz,
  outcome       text,
  error         text,
  primary key (job, scheduled_for)
);
