-- Clinical demand → reservation → replenishment → purchase order (issue 6). The engine's deliveries carry the
-- work; these tables hold the business state the flows decide on: what a demand currently asks for, which
-- reservation stands for it, what is short, and which purchase order a shortfall went into.

-- One row per EHR demand (source system + the source's own id). A replay or a re-sent message finds its row
-- and changes nothing; a new revision (update, reschedule, cancel) moves it on.
create table carelane.demands (
  demand_key      text primary key,                    -- '<source system>|<source id>'
  correlation_id  text not null,                       -- the business transaction of this demand
  kind            text not null,
  status          text not null,                       -- requested | reserved | partial | released | cancelled
  site            text,
  odoo_connection text,
  destination_location_id integer,                     -- the room or department in Odoo
  content_hash    text not null,                       -- what was asked (location, items, start, patient token): finds true duplicates
  scheduled_start timestamptz,
  revision        integer not null default 1,          -- bumped when the items or location change: a new reservation
  reservation_key text,                                -- idempotency key (= Odoo external id) of the standing reservation
  lines           jsonb not null default '[]',         -- [{productId, quantity, reserved}]
  message_id      bigint references carelane.messages (id) on delete set null,
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now()
);
create index demands_content on carelane.demands (content_hash, created_at);
create index demands_correlation on carelane.demands (correlation_id);

-- What is short, waiting to be grouped into a purchase order per site and vendor.
create table carelane.replenishment_requests (
  id              bigint generated always as identity primary key,
  request_key     text not null unique,                -- idempotency: one request per shortfall or reorder rule and day
  correlation_id  text not null,
  reason          text not null,                       -- shortfall | orderpoint
  site            text not null,
  odoo_connection text not null,
  location_id     integer not null,                    -- the storeroom the stock is for
  product_id      integer not null,
  quantity        numeric not null check (quantity > 0),
  vendor_id       integer not null,
  unit_price      numeric not null,
  batch_key       text not null,                       -- the purchase order this request goes into
  status          text not null default 'pending' check (status in ('pending', 'ordered')),
  created_at      timestamptz not null default now()
);
create index replenishment_pending on carelane.replenishment_requests (batch_key) where status = 'pending';

-- A grouping window per site and vendor. Closing it (row lock) waits for requests still joining it, so a
-- request is either in the purchase order or in the next window, never left behind.
create table carelane.replenishment_batches (
  batch_key  text primary key,
  status     text not null default 'open' check (status in ('open', 'closed')),
  opened_at  timestamptz not null default now(),
  closed_at  timestamptz
);

-- Purchase orders Carelane placed, and where they are on the way to the supplier.
create table carelane.purchase_orders (
  po_key          text primary key,                    -- = batch key = Odoo external id
  correlation_id  text not null,
  site            text not null,
  odoo_connection text not null,
  vendor_id       integer not null,
  odoo_order_id   integer,
  name            text,                                -- Odoo's PO number, e.g. P00042
  state           text,                                -- Odoo state: draft | to approve | purchase | ...
  sent_at         timestamptz,                         -- handed to the supply connector
  lines           jsonb not null default '[]',
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now()
);
create index purchase_orders_awaiting on carelane.purchase_orders (state) where sent_at is null;
create index purchase_orders_name on carelane.purchase_orders (name);

-- The business transactions a purchase order serves (several demands can share one PO).
create table carelane.transaction_links (
  correlation_id  text not null,
  related_id      text not null,
  relation        text not null,                       -- e.g. 'purchase_order'
  created_at      timestamptz not null default now(),
  primary key (correlation_id, related_id)
);
create index transaction_links_related on carelane.transaction_links (related_id);
