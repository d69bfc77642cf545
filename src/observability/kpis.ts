import { Gauge, type Registry } from 'prom-client';
import type { Queryable } from '../store/database.ts';

/**
 * Supply-chain KPIs and supplier milestones (docs/finance.md "KPIs", "Supplier milestones"), computed with SQL over
 * Carelane's own records — the messages themselves (an 850 sent, the 855/856 linked to its PO), the purchase
 * orders, demands, receipts, invoice matches and exceptions — never typed in. Receipts come from
 * carelane.po_line_receipts (the receiving flow) when that table exists. On-hand stock for the stockout risk is
 * Odoo's and is passed in by the caller (read through StockGateway and cached), the rest is SQL.
 */

export interface SupplierMilestones {
  vendorId: number;
  orders: number;
  /** 850 sent → first acknowledgment (855 / REST) linked to the PO, minutes */
  ackLatencyMinutes: number | null;
  /** 850 sent → first ship notice (856 / REST) linked to the PO, hours */
  asnLeadHours: number | null;
  /** orders whose first receipt came no later than the first ship notice's day + 1, percent of orders received */
  onTimePercent: number | null;
  /** received over ordered quantity, percent, over orders with any receipt */
  fillRatePercent: number | null;
}

export interface Kpis {
  windowDays: number;
  computedAt: string;
  suppliers: SupplierMilestones[];
  /** over all suppliers: 850 → 855 minutes */
  orderAcknowledgmentLatencyMinutes: number | null;
  /** demand received → first receipt of the PO that serves it, hours */
  procurementCycleTimeHours: number | null;
  /** invoices matched within tolerance at the first evaluation, percent */
  invoiceFirstPassMatchRate: number | null;
  /** exceptions resolved by a person (not by auto-replay) per business transaction */
  manualTouchesPerTransaction: number | null;
  stockoutRisk: StockoutRisk[];
  /** sites whose on-hand stock could not be read (Odoo unreachable, …): their items' risk is unknown, not zero */
  stockoutRiskUnavailable: StockUnavailable[];
}

export interface StockUnavailable {
  site: string;
  /** the read's error, naming the Odoo connection; no patient data (a stock read carries none) */
  reason: string;
}

export interface StockoutRisk {
  site: string;
  productId: number;
  /** null: the site's stock could not be read (Kpis.stockoutRiskUnavailable says why) */
  onHand: number | null;
  incoming: number;
  /** quantity asked by live demands scheduled within the lead time */
  demand: number;
  /** (on hand + incoming) / demand; below 1 the item runs out before more arrives; null when on hand is unknown */
  coverage: number | null;
  /** null: unknown, because on hand is */
  atRisk: boolean | null;
}

async function receiptsTable(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ present: boolean }>(`select to_regclass('carelane.po_line_receipts') is not null as present`);
  return rows[0]?.present ?? false;
}

const num = (value: string | number | null | undefined, digits = 2): number | null => (value === null || value === undefined ? null : Math.round(Number(value) * 10 ** digits) / 10 ** digits);

/**
 * Per supplier, over purchase orders sent in the window. The acknowledgment and ship notice are the first
 * messages whose transaction the supplier flows linked to the PO's (transaction_links relation
 * 'acknowledgment' / 'ship_notice'), so the figures come from what was actually received.
 */
export async function supplierMilestones(db: Queryable, windowDays: number): Promise<SupplierMilestones[]> {
  const receipts = await receiptsTable(db);
  const receivedSql = receipts
    ? `(select sum(r.quantity_received) from carelane.po_line_receipts r where r.po_key = po.po_key)`
    : 'null::numeric';
  const firstReceiptSql = receipts ? `(select min(r.received_at) from carelane.po_line_receipts r where r.po_key = po.po_key)` : 'null::timestamptz';
  const { rows } = await db.query<{ vendor_id: number; orders: string; ack: string | null; asn: string | null; on_time: string | null; fill: string | null }>(
    `with po as (
       select po.po_key, po.vendor_id, po.sent_at,
              (select sum((l->>'quantity')::numeric) from jsonb_array_elements(po.lines) l) as ordered,
              (select min(m.received_at) from carelane.transaction_links t join carelane.messages m on m.correlation_id = t.correlation_id
                where t.related_id = po.correlation_id and t.relation = 'acknowledgment') as acked_at,
              (select min(m.received_at) from carelane.transaction_links t join carelane.messages m on m.correlation_id = t.correlation_id
                where t.related_id = po.correlation_id and t.relation = 'ship_notice') as shipped_at,
              ${receivedSql} as received, ${firstReceiptSql} as received_at
       from carelane.purchase_orders po
       where po.sent_at > now() - make_interval(days => $1)
     )
     select vendor_id, count(*) as orders,
            avg(extract(epoch from acked_at - sent_at) / 60) as ack,
            avg(extract(epoch from shipped_at - sent_at) / 3600) as asn,
            100.0 * count(*) filter (where received_at is not null and shipped_at is not null and received_at < date_trunc('day', shipped_at) + interval '2 days')
                  / nullif(count(*) filter (where received_at is not null), 0) as on_time,
            100.0 * sum(least(received, ordered)) filter (where received is not null) / nullif(sum(ordered) filter (where received is not null), 0) as fill
     from po group by vendor_id order by vendor_id`,
    [windowDays],
  );
  return rows.map((r) => ({ vendorId: r.vendor_id, orders: Number(r.orders), ackLatencyMinutes: num(r.ack), asnLeadHours: num(r.asn), onTimePercent: num(r.on_time, 1), fillRatePercent: num(r.fill, 1) }));
}

export async function computeKpis(db: Queryable, options: { windowDays: number; leadTimeDays: number; onHand?: (site: string, productIds: number[]) => Promise<Map<number, number>> }): Promise<Kpis> {
  const { windowDays } = options;
  const suppliers = await supplierMilestones(db, windowDays);
  const receipts = await receiptsTable(db);
  const headline = await headlineKpis(db, windowDays);
  const risk = await stockoutRisk(db, options.leadTimeDays, receipts, options.onHand);
  return { windowDays, computedAt: new Date().toISOString(), suppliers, ...headline, stockoutRisk: risk.items, stockoutRiskUnavailable: risk.unavailable };
}

export type HeadlineKpis = Pick<Kpis, 'orderAcknowledgmentLatencyMinutes' | 'procurementCycleTimeHours' | 'invoiceFirstPassMatchRate' | 'manualTouchesPerTransaction'>;

/**
 * The network-wide figures, or one site's (its purchase orders, the invoices matched against them, its demands;
 * the history in kpi-history.ts keeps both). Manual touches are network-wide only: exceptions carry no site.
 */
export async function headlineKpis(db: Queryable, windowDays: number, site?: string): Promise<HeadlineKpis> {
  const receipts = await receiptsTable(db);
  // Resolutions by a system actor (system:auto-replay, src/flows/master-data/auto-replay.ts) are not manual touches.
  const { rows: overall } = await db.query<{ ack: string | null; first_pass: string | null; touches: string | null }>(
    `select
       (select avg(extract(epoch from acked - sent_at) / 60) from (
          select po.sent_at, (select min(m.received_at) from carelane.transaction_links t join carelane.messages m on m.correlation_id = t.correlation_id
                               where t.related_id = po.correlation_id and t.relation = 'acknowledgment') as acked
          from carelane.purchase_orders po where po.sent_at > now() - make_interval(days => $1) and ($2::text is null or po.site = $2)) a where acked is not null) as ack,
       (select 100.0 * count(*) filter (where im.first_pass) / nullif(count(*), 0) from carelane.invoice_matches im
         where im.created_at > now() - make_interval(days => $1)
           and ($2::text is null or exists (select 1 from carelane.purchase_orders po where po.po_key = im.po_key and po.site = $2))) as first_pass,
       case when $2::text is null then
       (select count(*) filter (where resolved_by is not null and resolved_by not like 'system%')::numeric
               / nullif((select count(distinct correlation_id) from carelane.messages where received_at > now() - make_interval(days => $1)), 0)
          from carelane.exceptions where created_at > now() - make_interval(days => $1)) end as touches`,
    [windowDays, site ?? null],
  );
  let cycle: number | null = null;
  if (receipts) {
    const { rows } = await db.query<{ hours: string | null }>(
      `select avg(extract(epoch from r.first_receipt - d.created_at) / 3600) as hours
       from carelane.demands d
       join carelane.transaction_links t on t.correlation_id = d.correlation_id and t.relation = 'purchase_order'
       join carelane.purchase_orders po on po.correlation_id = t.related_id
       join lateral (select min(received_at) as first_receipt from carelane.po_line_receipts where po_key = po.po_key) r on r.first_receipt is not null
       where d.created_at > now() - make_interval(days => $1) and ($2::text is null or d.site = $2)`,
      [windowDays, site ?? null],
    );
    cycle = num(rows[0]?.hours);
  }
  return {
    orderAcknowledgmentLatencyMinutes: num(overall[0]?.ack),
    procurementCycleTimeHours: cycle,
    invoiceFirstPassMatchRate: num(overall[0]?.first_pass, 1),
    manualTouchesPerTransaction: num(overall[0]?.touches, 3),
  };
}

/**
 * Per site and product with live demand scheduled within the lead time: (on hand + incoming) against that
 * demand. Incoming = ordered on POs sent for the site minus what was received of them. A site whose stock read
 * fails has its items' on hand, coverage and risk unknown (null), never zero: taking an unreachable Odoo as
 * empty shelves would put every item at risk and store that figure in the KPI history.
 */
async function stockoutRisk(
  db: Queryable,
  leadTimeDays: number,
  receipts: boolean,
  onHandOf: ((site: string, productIds: number[]) => Promise<Map<number, number>>) | undefined,
): Promise<{ items: StockoutRisk[]; unavailable: StockUnavailable[] }> {
  const receivedSql = receipts ? `coalesce((select sum(r.quantity_received) from carelane.po_line_receipts r where r.po_key = po.po_key and r.product_id = (l->>'productId')::int), 0)` : '0';
  const { rows } = await db.query<{ site: string; product_id: number; demand: string; incoming: string }>(
    `with demand as (
       select d.site, (l->>'productId')::int as product_id, sum((l->>'quantity')::numeric) as quantity
       from carelane.demands d, jsonb_array_elements(d.lines) l
       where d.status in ('requested', 'reserved', 'partial') and d.site is not null
         and coalesce(d.scheduled_start, d.created_at) < now() + make_interval(days => $1)
       group by 1, 2
     ), incoming as (
       select po.site, (l->>'productId')::int as product_id, sum(greatest((l->>'quantity')::numeric - ${receivedSql}, 0)) as quantity
       from carelane.purchase_orders po, jsonb_array_elements(po.lines) l
       where po.state in ('purchase', 'to approve', 'sent') or po.state is null
       group by 1, 2
     )
     select d.site, d.product_id, d.quantity as demand, coalesce(i.quantity, 0) as incoming
     from demand d left join incoming i on i.site = d.site and i.product_id = d.product_id
     order by d.site, d.product_id`,
    [leadTimeDays],
  );
  const bySite = new Map<string, number[]>();
  for (const r of rows) bySite.set(r.site, [...(bySite.get(r.site) ?? []), r.product_id]);
  const onHand = new Map<string, Map<number, number>>();
  const unavailable: StockUnavailable[] = [];
  if (onHandOf) {
    for (const [site, products] of bySite) {
      try {
        onHand.set(site, await onHandOf(site, products));
      } catch (error) {
        unavailable.push({ site, reason: error instanceof Error ? error.message : String(error) });
      }
    }
  }
  const unknown = new Set(unavailable.map((u) => u.site));
  const items = rows.map((r): StockoutRisk => {
    const incoming = Number(r.incoming);
    const demand = Number(r.demand);
    if (unknown.has(r.site)) return { site: r.site, productId: r.product_id, onHand: null, incoming, demand, coverage: null, atRisk: null };
    // Read successfully, a product missing from the answer has no quant in the storeroom: none on hand.
    const stock = onHand.get(r.site)?.get(r.product_id) ?? 0;
    const coverage = demand > 0 ? Math.round(((stock + incoming) / demand) * 100) / 100 : Infinity;
    return { site: r.site, productId: r.product_id, onHand: stock, incoming, demand, coverage, atRisk: coverage < 1 };
  });
  return { items, unavailable };
}

/**
 * Prometheus gauges over the KPIs (pass cachedKpis(...): computed at scrape time, at most once per its ttl). Per-supplier labels are
 * the Odoo vendor id (business data, no PHI); stockout risk is exported as a count of items at risk per site, with
 * no sample for a site whose stock could not be read (absent, not 0).
 */
export function registerKpiGauges(registry: Registry, current: () => Promise<Kpis>): void {
  const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge<string>, k: Kpis) => void) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        this.reset();
        fill(this, await current());
      },
    });
  const set = (g: Gauge<string>, value: number | null, labels: Record<string, string> = {}) => void (value !== null && g.set(labels, value));
  gauge('carelane_kpi_order_ack_latency_minutes', '850 sent → first acknowledgment, average over the KPI window', [], (g, k) => set(g, k.orderAcknowledgmentLatencyMinutes));
  gauge('carelane_kpi_procurement_cycle_hours', 'demand received → first receipt of its purchase order, average', [], (g, k) => set(g, k.procurementCycleTimeHours));
  gauge('carelane_kpi_invoice_first_pass_match_ratio', 'invoices matched within tolerance at the first evaluation (0–1)', [], (g, k) => set(g, k.invoiceFirstPassMatchRate === null ? null : k.invoiceFirstPassMatchRate / 100));
  gauge('carelane_kpi_manual_touches_per_transaction', 'exceptions resolved by a person per business transaction', [], (g, k) => set(g, k.manualTouchesPerTransaction));
  gauge('carelane_kpi_items_at_stockout_risk', 'items whose on hand + incoming does not cover demand within the lead time, per site', ['site'], (g, k) => {
    const sites = new Map<string, number>();
    const unknown = new Set(k.stockoutRiskUnavailable.map((u) => u.site));
    for (const r of k.stockoutRisk) if (!unknown.has(r.site)) sites.set(r.site, (sites.get(r.site) ?? 0) + (r.atRisk ? 1 : 0));
    for (const [site, count] of sites) g.set({ site }, count);
  });
  gauge('carelane_supplier_fill_rate_ratio', 'received over ordered quantity per supplier (0–1)', ['vendor'], (g, k) => k.suppliers.forEach((s) => set(g, s.fillRatePercent === null ? null : s.fillRatePercent / 100, { vendor: String(s.vendorId) })));
  gauge('carelane_supplier_ack_latency_minutes', '850 → 855 per supplier, average', ['vendor'], (g, k) => k.suppliers.forEach((s) => set(g, s.ackLatencyMinutes, { vendor: String(s.vendorId) })));
}

export interface MilestoneThresholds {
  windowDays: number;
  ackLatencyMinutes?: number | undefined;
  asnLeadHours?: number | undefined;
  onTimePercent?: number | undefined;
  fillRatePercent?: number | undefined;
}

/**
 * Alerts when a supplier crosses a configured threshold: a `supplier_delay` exception (owner purchasing) with the
 * figure and the threshold, at most one per supplier, metric and day (carelane.supplier_alerts).
 */
export async function raiseMilestoneAlerts(db: Queryable, thresholds: MilestoneThresholds, now: Date = new Date()): Promise<number[]> {
  const checks: Array<{ metric: keyof SupplierMilestones; limit: number | undefined; worse: (value: number, limit: number) => boolean; unit: string }> = [
    { metric: 'ackLatencyMinutes', limit: thresholds.ackLatencyMinutes, worse: (v, l) => v > l, unit: 'min' },
    { metric: 'asnLeadHours', limit: thresholds.asnLeadHours, worse: (v, l) => v > l, unit: 'h' },
    { metric: 'onTimePercent', limit: thresholds.onTimePercent, worse: (v, l) => v < l, unit: '%' },
    { metric: 'fillRatePercent', limit: thresholds.fillRatePercent, worse: (v, l) => v < l, unit: '%' },
  ];
  const raised: number[] = [];
  const day = now.toISOString().slice(0, 10);
  for (const supplier of await supplierMilestones(db, thresholds.windowDays)) {
    for (const check of checks) {
      const value = supplier[check.metric];
      if (check.limit === undefined || typeof value !== 'number' || !check.worse(value, check.limit)) continue;
      const key = `${supplier.vendorId}:${check.metric}:${day}`;
      const { rows } = await db.query<{ id: string }>(
        `with alert as (insert into carelane.supplier_alerts (alert_key, vendor_id, metric, value, threshold) values ($1, $2::int, $3, $4, $5) on conflict do nothing returning alert_key)
         insert into carelane.exceptions (type, classification, status, correlation_id, reason, detail)
         select 'supplier_delay', 'business', 'open', 'supplier-milestones:' || ($2::int)::text, $6, $7::jsonb from alert returning id`,
        [key, supplier.vendorId, check.metric, value, check.limit, `vendor ${supplier.vendorId}: ${check.metric} ${value} ${check.unit} crosses the threshold ${check.limit} ${check.unit} (last ${thresholds.windowDays} days, ${supplier.orders} orders)`,
          JSON.stringify({ vendorId: supplier.vendorId, metric: check.metric, value, threshold: check.limit, windowDays: thresholds.windowDays, milestones: supplier })],
      );
      if (rows[0]) {
        raised.push(Number(rows[0].id));
        await db.query('update carelane.supplier_alerts set exception_id = $2 where alert_key = $1', [key, Number(rows[0].id)]);
      }
    }
  }
  return raised;
}

/** KPIs computed at most once per `ttlMs` (the API and the gauges share it). */
export function cachedKpis(compute: () => Promise<Kpis>, ttlMs = 60_000): () => Promise<Kpis> {
  let cached: { at: number; kpis: Promise<Kpis> } | undefined;
  return () => {
    if (!cached || Date.now() - cached.at > ttlMs) {
      const kpis = compute();
      cached = { at: Date.now(), kpis };
      kpis.catch(() => (cached = undefined));
    }
    return cached.kpis;
  };
}
