-- A site's items at stockout risk are unknown when its on-hand stock could not be read from Odoo (connection
-- unreachable): the kpi-snapshots job stores null then, never a count made from stock taken as zero. No default:
-- a row that does not say how many items are at risk must not read as none.
alter table carelane.kpi_snapshots alter column items_at_risk drop not null, alter column items_at_risk drop default;
