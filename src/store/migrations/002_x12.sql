-- X12 control numbers per trading partner (X12.5/X12.6: ISA13, GS06 and ST02 must not repeat for a partner;
-- a reused ISA13 is a duplicate interchange, TA105 code 025). One row per partner and kind; the next number is
-- taken with one atomic `update … returning`, so concurrent senders never get the same value and a rolled-back
-- send burns its number instead of reusing it.
create table carelane.x12_control_numbers (
  partner    text not null,
  kind       text not null check (kind in ('ISA', 'GS', 'ST')),
  last_value bigint not null default 0 check (last_value >= 0),
  updated_at timestamptz not null default now(),
  primary key (partner, kind)
);
