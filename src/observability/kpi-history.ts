import type { Queryable } from '../store/database.ts';
import { headlineKpis, type Kpis } from './kpis.ts';

// Executive KPIs over time (docs/console.md "Executive"): the figures of kpis.ts kept once a day per site and
// for the whole network in carelane.kpi_snapshots, so the console can show how they move. Only what was
// computed is stored: a KPI without data in its window stays null, never zero; so does the count of items at
// risk of a site whose on-hand stock could not be read from Odoo (and the network's, which would miss that site).

export interface KpiSnapshot {
  /** UTC day, YYYY-MM-DD */
  day: string;
  /** null: the whole network */
  site: string | null;
  windowDays: number;
  orderAcknowledgmentLatencyMinutes: number | null;
  procurementCycleTimeHours: number | null;
  invoiceFirstPassMatchRate: number | null;
  /** network row only */
  manualTouchesPerTransaction: number | null;
  itemsWatched: number;
  /** null: on-hand stock could not be read for the site (network row: for some site) */
  itemsAtRisk: number | null;
  /** network row only */
  openExceptions: number | null;
  computedAt: string;
}

/**
 * Computes and stores today's snapshot (UTC day of `now`): the network row from `current` (the KPIs the API
 * serves, with Odoo's on-hand stock in the stockout risk), and one row per site that had purchase orders,
 * demands or watched items in the window. A second run the same day replaces that day's rows.
 */
export async function recordKpiSnapshots(db: Queryable, current: () => Promise<Kpis>, now: Date = new Date()): Promise<KpiSnapshot[]> {
  const network = await current();
  const { windowDays } = network;
  const { rows: siteRows } = await db.query<{ site: string }>(
    `select site from carelane.purchase_orders where sent_at > now() - make_interval(days => $1) and site is not null
     union select site from carelane.demands where created_at > now() - make_interval(days => $1) and site is not null`,
    [windowDays],
  );
  const sites = [...new Set([...siteRows.map((r) => r.site), ...network.stockoutRisk.map((r) => r.site)])].filter((site) => site !== '').sort();
  const { rows: open } = await db.query<{ n: number }>(`select count(*)::int as n from carelane.exceptions where status = 'open'`);
  const day = now.toISOString().slice(0, 10);
  const computedAt = now.toISOString();
  const risk = (site: string | null) => {
    const items = network.stockoutRisk.filter((r) => site === null || r.site === site);
    // atRisk null: that item's stock was unknown at computation (kpis.ts); a count without it would be made up.
    const unknown = items.some((r) => r.atRisk === null);
    return { itemsWatched: items.length, itemsAtRisk: unknown ? null : items.filter((r) => r.atRisk).length };
  };
  const snapshots: KpiSnapshot[] = [
    {
      day,
      site: null,
      windowDays,
      orderAcknowledgmentLatencyMinutes: network.orderAcknowledgmentLatencyMinutes,
      procurementCycleTimeHours: network.procurementCycleTimeHours,
      invoiceFirstPassMatchRate: network.invoiceFirstPassMatchRate,
      manualTouchesPerTransaction: network.manualTouchesPerTransaction,
      ...risk(null),
      openExceptions: open[0]?.n ?? 0,
      computedAt,
    },
  ];
  for (const site of sites) {
    const figures = await headlineKpis(db, windowDays, site);
    snapshots.push({ day, site, windowDays, ...figures, manualTouchesPerTransaction: null, ...risk(site), openExceptions: null, computedAt });
  }
  await db.query(
    `insert into carelane.kpi_snapshots (day, site, window_days, order_ack_latency_minutes, procurement_cycle_hours, invoice_first_pass_match_rate,
                                         manual_touches_per_transaction, items_watched, items_at_risk, open_exceptions, computed_at)
     select s.day, coalesce(s.site, ''), s."windowDays", s."orderAcknowledgmentLatencyMinutes", s."procurementCycleTimeHours", s."invoiceFirstPassMatchRate",
            s."manualTouchesPerTransaction", s."itemsWatched", s."itemsAtRisk", s."openExceptions", s."computedAt"
     from jsonb_to_recordset($1::jsonb) as s(day date, site text, "windowDays" int, "orderAcknowledgmentLatencyMinutes" numeric, "procurementCycleTimeHours" numeric,
                                            "invoiceFirstPassMatchRate" numeric, "manualTouchesPerTransaction" numeric, "itemsWatched" int, "itemsAtRisk" int,
                                            "openExceptions" int, "computedAt" timestamptz)
     on conflict (day, site) do update set
       window_days = excluded.window_days, order_ack_latency_minutes = excluded.order_ack_latency_minutes,
       procurement_cycle_hours = excluded.procurement_cycle_hours, invoice_first_pass_match_rate = excluded.invoice_first_pass_match_rate,
       manual_touches_per_transaction = excluded.manual_touches_per_transaction, items_watched = excluded.items_watched,
       items_at_risk = excluded.items_at_risk, open_exceptions = excluded.open_exceptions, computed_at = excluded.computed_at`,
    [JSON.stringify(snapshots)],
  );
  return snapshots;
}

/** The stored snapshots of the last `days` days (today included), oldest first; one site's and the network's, or all. */
export async function readKpiHistory(db: Queryable, options: { days: number; site?: string | undefined; now?: Date }): Promise<KpiSnapshot[]> {
  const today = (options.now ?? new Date()).toISOString().slice(0, 10);
  const { rows } = await db.query<{
    day: string;
    site: string;
    window_days: number;
    ack: string | null;
    cycle: string | null;
    match_rate: string | null;
    touches: string | null;
    items_watched: number;
    items_at_risk: number | null;
    open_exceptions: number | null;
    computed_at: Date;
  }>(
    `select to_char(day, 'YYYY-MM-DD') as day, site, window_days, order_ack_latency_minutes as ack, procurement_cycle_hours as cycle,
            invoice_first_pass_match_rate as match_rate, manual_touches_per_transaction as touches, items_watched, items_at_risk, open_exceptions, computed_at
     from carelane.kpi_snapshots
     where day > $1::date - $2::int and day <= $1::date and ($3::text is null or site = $3 or site = '')
     order by day, site`,
    [today, options.days, options.site ?? null],
  );
  const number = (value: string | null) => (value === null ? null : Number(value));
  return rows.map((r) => ({
    day: r.day,
    site: r.site === '' ? null : r.site,
    windowDays: r.window_days,
    orderAcknowledgmentLatencyMinutes: number(r.ack),
    procurementCycleTimeHours: number(r.cycle),
    invoiceFirstPassMatchRate: number(r.match_rate),
    manualTouchesPerTransaction: number(r.touches),
    itemsWatched: r.items_watched,
    itemsAtRisk: r.items_at_risk,
    openExceptions: r.open_exceptions,
    computedAt: r.computed_at.toISOString(),
  }));
}

/** The scheduler job (scheduler.jobs.kpiSnapshots; hourly by default, so today's point follows the day). */
export function kpiSnapshotJob(db: Queryable, current: () => Promise<Kpis>, cron: string): { name: string; cron: string; run(): Promise<void> } {
  return { name: 'kpi-snapshots', cron, run: async () => void (await recordKpiSnapshots(db, current)) };
}
