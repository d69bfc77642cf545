-- Change detection for Odoo polling (issue #3): one write_date cursor per connection and model. The cursor is
-- the (write_date, id) of the last record handed on, so a restart resumes after it instead of re-reading all.
create table carelane.odoo_cursors (
  connection  text not null,
  model       text not null,
  write_date  text not null,    -- Odoo's UTC 'YYYY-MM-DD HH:MM:SS' as read from the server, compared as Odoo compares it
  last_id     bigint not null,  -- tie-break between records written in the same second
  updated_at  timestamptz not null default now(),
  primary key (connection, model)
);
