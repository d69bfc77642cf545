-- Executive KPIs over time (issue 9, docs/console.md): one row per UTC day and site, plus one for the whole
-- network (site ''), written by the kpi-snapshots job. A day's row is rewritten by each run that day, so a past
-- day keeps the figures of its last run; the KPIs themselves are windows (flows.milestones.windowDays) ending
-- when they were computed. A few rows a day: kept until deleted by hand.
create table carelane.kpi_snapshots (
  day                          date not null,
  site                         text not null,            -- '' = the whole network
  window_days                  integer not null,
  order_ack_latency_minutes    numeric,                  -- null: no data in the window
  procurement_cycle_hours      numeric,
  invoice_first_pass_match_rate numeric,                 -- percent
  manual_touches_per_transaction numeric,                -- network row only: exceptions carry no site
  items_watched                integer not null default 0, -- items with live demand within the lead time
  items_at_risk                integer not null default 0, -- of those, not covered by on hand + incoming
  open_exceptions              integer,                  -- network row only
  computed_at                  timestamptz not null default now(),
  primary key (day, site)
);
