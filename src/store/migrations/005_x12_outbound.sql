-- Outbound X12 interchanges, generated once per delivery (idempotency key) and kept verbatim: a retry after a
-- timeout re-sends the SAME interchange with the same ISA13/GS06/ST02, so the partner's duplicate detection on
-- ISA13 (X12.5; TA105 025 "duplicate interchange control number") recognises it instead of receiving a second
-- purchase order under new numbers. The functional acknowledgment (997/999 AK1 names our GS01/GS06) is noted
-- on the row, which answers "did the partner get it?" and lets a job find acknowledgments that are overdue.
create table carelane.x12_outbound (
  idempotency_key  text primary key,
  partner          text not null,
  transaction_type text not null,
  functional_id    text not null,
  isa13            bigint not null,
  gs06             bigint not null,
  st02             text not null,
  body             text not null,
  created_at       timestamptz not null default now(),
  sent_at          timestamptz,
  ack_kind         text,
  ack_status       text,          -- AK901: A accepted, E accepted with errors, P partially, R rejected
  acknowledged_at  timestamptz
);
create unique index x12_outbound_partner_group on carelane.x12_outbound (partner, functional_id, gs06);
create index x12_outbound_awaiting_ack on carelane.x12_outbound (partner, sent_at) where acknowledged_at is null;
