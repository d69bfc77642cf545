-- Transactional outbox for the event bus (DESIGN.md "Scale-out", issue #10): an event is written in the same
-- transaction as the change it announces, so it exists if and only if that transaction committed. A relay
-- publishes unpublished rows in id order and stamps published_at; the id is the broker message id, so a
-- re-publish after a crash between publish and stamp is recognised as a duplicate.
create table carelane.event_outbox (
  id             bigint generated always as identity primary key,
  topic          text not null,
  key            text not null,                 -- per-key order is kept from here to the consumer
  payload        jsonb not null,
  headers        jsonb not null default '{}',
  correlation_id text not null,
  created_at     timestamptz not null default now(),
  published_at   timestamptz,
  attempts       integer not null default 0,    -- failed publish attempts
  last_error     text
);
-- The relay walks this in id order and stops at its batch size; published rows drop out of it.
create index event_outbox_unpublished on carelane.event_outbox (id) where published_at is null;
-- Pruning of published rows by age.
create index event_outbox_published_at on carelane.event_outbox using brin (published_at);
