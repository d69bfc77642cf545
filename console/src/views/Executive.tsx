import { LineChart, StackedBars, type Series } from '../charts.tsx';
import { useApi } from '../hooks.ts';
import { Card } from './Technical.tsx';
import type { ExceptionRow } from './Exceptions.tsx';
import { KpiHistory } from './KpiHistory.tsx';

// The weekly view: supply KPIs from GET /api/v1/kpis (src/observability/kpis.ts, computed from Carelane's own
// records over flows.milestones.windowDays), their daily snapshots per site (KpiHistory), and exceptions by
// type and age from the exception store. A KPI without data says so: no invented numbers.

interface Kpis {
  windowDays: number;
  computedAt: string;
  orderAcknowledgmentLatencyMinutes: number | null;
  procurementCycleTimeHours: number | null;
  invoiceFirstPassMatchRate: number | null;
  manualTouchesPerTransaction: number | null;
  suppliers: Array<{ vendorId: number; orders: number; ackLatencyMinutes: number | null; asnLeadHours: number | null; onTimePercent: number | null; fillRatePercent: number | null }>;
  /** onHand and atRisk null: the site's stock could not be read (stockoutRiskUnavailable says why) */
  stockoutRisk: Array<{ site: string; productId: number; onHand: number | null; incoming: number; demand: number; coverage: number | null; atRisk: boolean | null }>;
  stockoutRiskUnavailable: Array<{ site: string; reason: string }>;
}

const AGE_BUCKETS = [
  { label: '< 1 h', max: 3600 },
  { label: '1–4 h', max: 4 * 3600 },
  { label: '4–24 h', max: 86400 },
  { label: '1–7 d', max: 7 * 86400 },
  { label: '> 7 d', max: Infinity },
];

const NO_DATA = 'no data yet';
const UNAVAILABLE = 'unavailable';
const fixed = (value: number | null | undefined, unit: string, digits = 1) => (value === null || value === undefined ? NO_DATA : `${value.toFixed(digits)} ${unit}`);

export function Executive() {
  const kpis = useApi<Kpis>('/api/v1/kpis', 60_000);
  const open = useApi<{ exceptions: ExceptionRow[] }>('/api/v1/exceptions?status=open&limit=1000', 60_000);
  const recent = useApi<{ exceptions: ExceptionRow[] }>('/api/v1/exceptions?limit=1000', 60_000);
  const kpiMissing = kpis.error !== undefined;
  const k = kpiMissing ? undefined : kpis.data;
  const atRisk = (k?.stockoutRisk ?? []).filter((r) => r.atRisk === true);
  // Items of a site whose stock could not be read are neither at risk nor safe: counted apart, never as zero.
  const rated = (k?.stockoutRisk ?? []).filter((r) => r.atRisk !== null);
  const unavailable = k?.stockoutRiskUnavailable ?? [];
  const now = Date.now();

  const pastSla = (open.data?.exceptions ?? []).filter((e) => e.breachedAt || (e.slaDueAt && new Date(e.slaDueAt).getTime() < now)).length;
  const types = [...new Set((open.data?.exceptions ?? []).map((e) => e.type))].sort();
  const ageRows = types.map((type) => {
    const values = AGE_BUCKETS.map(() => 0);
    for (const e of open.data?.exceptions ?? []) {
      if (e.type !== type) continue;
      const age = (now - new Date(e.createdAt).getTime()) / 1000;
      values[AGE_BUCKETS.findIndex((b) => age < b.max)]! += 1;
    }
    return { label: type.replaceAll('_', ' '), values };
  });

  // exceptions opened per day and type, over the last 14 days
  const days = 14;
  const start = new Date(now - (days - 1) * 86400_000);
  start.setHours(0, 0, 0, 0);
  const byType = new Map<string, Map<number, number>>();
  for (const e of recent.data?.exceptions ?? []) {
    const day = new Date(e.createdAt);
    day.setHours(0, 0, 0, 0);
    if (day < start) continue;
    const series = byType.get(e.type) ?? new Map<number, number>();
    series.set(day.getTime(), (series.get(day.getTime()) ?? 0) + 1);
    byType.set(e.type, series);
  }
  const overTime: Series[] = [...byType.entries()].map(([type, points]) => ({
    name: type.replaceAll('_', ' '),
    points: Array.from({ length: days }, (_, i) => {
      const x = start.getTime() + i * 86400_000;
      return { x, y: points.get(x) ?? 0 };
    }),
  }));

  return (
    <section aria-labelledby="exec-title">
      <h1 id="exec-title">Executive view</h1>
      {kpiMissing && (
        <p className="notice">
          Supply KPIs: no data yet ({/not found/i.test(kpis.error ?? '') ? 'this engine does not compute them yet' : kpis.error}).
        </p>
      )}
      <div className="cards">
        <Card
          label="Stockout risk"
          value={k ? (rated.length ? `${atRisk.length} of ${rated.length} items` : unavailable.length ? UNAVAILABLE : NO_DATA) : kpiMissing ? NO_DATA : '…'}
          detail={
            unavailable.length
              ? `stock unavailable for ${unavailable.map((u) => u.site).join(', ')} (see per site)`
              : k && k.stockoutRisk.length
                ? 'below lead-time demand, incoming counted'
                : undefined
          }
          tone={atRisk.length ? 'bad' : unavailable.length ? 'warn' : rated.length ? 'good' : undefined}
        />
        <Card label="Procurement cycle time" value={k ? fixed(k.procurementCycleTimeHours, 'h') : kpiMissing ? NO_DATA : '…'} detail="request → received" />
        <Card label="Order acknowledgment latency" value={k ? fixed(k.orderAcknowledgmentLatencyMinutes, 'min') : kpiMissing ? NO_DATA : '…'} detail="PO sent → supplier ack" />
        <Card label="Invoice match rate" value={k ? fixed(k.invoiceFirstPassMatchRate, '%') : kpiMissing ? NO_DATA : '…'} detail="first-pass 3-way match" />
        <Card label="Manual touches per transaction" value={k ? fixed(k.manualTouchesPerTransaction, '', 2) : kpiMissing ? NO_DATA : '…'} />
        <Card label="Open exceptions" value={String(open.data?.exceptions.length ?? '…')} />
        <Card label="Open past SLA" value={String(pastSla)} tone={pastSla > 0 ? 'bad' : 'good'} />
      </div>
      {k && <p className="muted small">Supply KPIs over the last {k.windowDays} days, computed {new Date(k.computedAt).toLocaleString()}. Acknowledgment, cycle time and match rate are network-wide; stockout risk is per site.</p>}

      <h2>Per site: stockout risk</h2>
      <SiteTable rows={k?.stockoutRisk ?? []} unavailable={unavailable} />

      <h2>Suppliers</h2>
      <SupplierTable rows={k?.suppliers ?? []} />

      <KpiHistory />

      <div className="grid2">
        <StackedBars title="Open exceptions by type and age" rows={ageRows} stacks={AGE_BUCKETS.map((b) => b.label)} />
        <LineChart title="Exceptions opened per day, by type (14 days)" series={overTime} from={start.getTime()} to={start.getTime() + (days - 1) * 86400_000} format={(v) => String(Math.round(v))} days />
      </div>
      {(open.error || recent.error) && <p role="alert" className="error">{open.error ?? recent.error}</p>}
    </section>
  );
}

function SiteTable(props: { rows: Kpis['stockoutRisk']; unavailable: Kpis['stockoutRiskUnavailable'] }) {
  const sites = [...new Set(props.rows.map((r) => r.site))].sort();
  if (sites.length === 0) return <p className="muted">{NO_DATA}.</p>;
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Site</th>
            <th scope="col" className="num">Items watched</th>
            <th scope="col" className="num">At risk</th>
            <th scope="col">Most at risk (product: on hand + incoming vs demand)</th>
          </tr>
        </thead>
        <tbody>
          {sites.map((site) => {
            const rows = props.rows.filter((r) => r.site === site);
            const down = props.unavailable.find((u) => u.site === site);
            if (down) {
              return (
                <tr key={site}>
                  <th scope="row">{site}</th>
                  <td className="num">{rows.length}</td>
                  <td className="num">{UNAVAILABLE}</td>
                  <td>on-hand stock unavailable: {down.reason}</td>
                </tr>
              );
            }
            const risky = rows.filter((r) => r.atRisk).sort((a, b) => (a.coverage ?? Infinity) - (b.coverage ?? Infinity));
            return (
              <tr key={site}>
                <th scope="row">{site}</th>
                <td className="num">{rows.length}</td>
                <td className="num">{risky.length}</td>
                <td>{risky.slice(0, 3).map((r) => `#${r.productId}: ${r.onHand} + ${r.incoming} vs ${r.demand}`).join('; ') || '—'}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function SupplierTable(props: { rows: Kpis['suppliers'] }) {
  if (props.rows.length === 0) return <p className="muted">{NO_DATA}.</p>;
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Vendor</th>
            <th scope="col" className="num">Orders</th>
            <th scope="col" className="num">Ack latency</th>
            <th scope="col" className="num">ASN lead</th>
            <th scope="col" className="num">On time</th>
            <th scope="col" className="num">Fill rate</th>
          </tr>
        </thead>
        <tbody>
          {props.rows.map((r) => (
            <tr key={r.vendorId}>
              <th scope="row">#{r.vendorId}</th>
              <td className="num">{r.orders}</td>
              <td className="num">{fixed(r.ackLatencyMinutes, 'min')}</td>
              <td className="num">{fixed(r.asnLeadHours, 'h')}</td>
              <td className="num">{fixed(r.onTimePercent, '%')}</td>
              <td className="num">{fixed(r.fillRatePercent, '%')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
