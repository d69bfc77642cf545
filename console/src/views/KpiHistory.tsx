import { useState } from 'react';
import { LineChart, type Series } from '../charts.tsx';
import { useApi } from '../hooks.ts';

// The executive KPIs over time, per site and for the whole network: the daily snapshots the kpi-snapshots job
// stores (GET /api/v1/kpis/history, src/observability/kpi-history.ts). A day without data is a gap, never zero.

export interface KpiSnapshot {
  day: string;
  site: string | null;
  windowDays: number;
  orderAcknowledgmentLatencyMinutes: number | null;
  procurementCycleTimeHours: number | null;
  invoiceFirstPassMatchRate: number | null;
  manualTouchesPerTransaction: number | null;
  itemsWatched: number;
  /** null: on-hand stock could not be read from Odoo that day (network row: for some site) */
  itemsAtRisk: number | null;
  openExceptions: number | null;
  computedAt: string;
}

const PERIODS = [
  { days: 30, label: '30 days' },
  { days: 90, label: '90 days' },
  { days: 365, label: '12 months' },
];

const NETWORK = 'All sites';
const DAY_MS = 86_400_000;
// noon UTC: a UTC day drawn at midnight would show as the day before west of Greenwich
const dayTime = (day: string) => Date.parse(`${day}T12:00:00Z`);

const FIGURES: Array<{ key: keyof KpiSnapshot; title: string; unit: string; digits: number }> = [
  { key: 'orderAcknowledgmentLatencyMinutes', title: 'Order acknowledgment latency (min)', unit: 'min', digits: 1 },
  { key: 'procurementCycleTimeHours', title: 'Procurement cycle time (h)', unit: 'h', digits: 1 },
  { key: 'invoiceFirstPassMatchRate', title: 'Invoice first-pass match rate (%)', unit: '%', digits: 1 },
  { key: 'itemsAtRisk', title: 'Items at stockout risk', unit: 'items', digits: 0 },
];

const show = (value: number | null, digits: number) => (value === null ? '—' : value.toFixed(digits));
const UNAVAILABLE = 'unavailable';

export function KpiHistory() {
  const [days, setDays] = useState(30);
  const history = useApi<{ days: number; sites: string[]; snapshots: KpiSnapshot[] }>(`/api/v1/kpis/history?days=${days}`, 300_000);
  const snapshots = history.data?.snapshots ?? [];
  const sites = history.data?.sites ?? [];
  const to = dayTime(new Date().toISOString().slice(0, 10));
  const from = to - (days - 1) * DAY_MS;
  const seriesOf = (key: keyof KpiSnapshot): Series[] =>
    [null, ...sites].map((site) => ({
      name: site ?? NETWORK,
      points: snapshots
        .filter((s) => s.site === site && typeof s[key] === 'number')
        .map((s) => ({ x: dayTime(s.day), y: s[key] as number })),
    }));
  const latest = (digits: number, unit: string) => (series: Series) => {
    const last = series.points.at(-1);
    return `${series.name} ${last ? `${last.y.toFixed(digits)} ${unit} on ${new Date(last.x).toISOString().slice(0, 10)}` : 'no data'}`;
  };

  return (
    <section aria-labelledby="kpi-history-title" className="kpi-history">
      <div className="heading">
        <h2 id="kpi-history-title">Over time, per site</h2>
        <label className="inline" htmlFor="kpi-period">
          Period
          <select id="kpi-period" value={days} onChange={(e) => setDays(Number(e.target.value))}>
            {PERIODS.map((p) => (
              <option key={p.days} value={p.days}>
                {p.label}
              </option>
            ))}
          </select>
        </label>
      </div>
      {history.error && (
        <p role="alert" className="error">
          KPI history: {history.error}
        </p>
      )}
      {history.data && snapshots.length === 0 && (
        <p className="muted">No KPI history yet: the kpi-snapshots job stores one snapshot a day per site (it runs hourly by default, keeping each day's latest figures).</p>
      )}
      {snapshots.length > 0 && (
        <>
          <div className="grid2">
            {FIGURES.map((figure) => (
              <LineChart
                key={figure.key}
                title={figure.title}
                series={seriesOf(figure.key)}
                from={from}
                to={to}
                days
                format={(v) => (Number.isInteger(v) ? String(v) : v.toFixed(1))}
                describe={latest(figure.digits, figure.unit)}
              />
            ))}
          </div>
          <details className="panel">
            <summary>The figures as a table</summary>
            <div className="table-wrap">
              <table>
                <caption className="sr-only">KPI snapshots per day and site</caption>
                <thead>
                  <tr>
                    <th scope="col">Day</th>
                    <th scope="col">Site</th>
                    <th scope="col" className="num">Ack latency (min)</th>
                    <th scope="col" className="num">Cycle time (h)</th>
                    <th scope="col" className="num">Match rate (%)</th>
                    <th scope="col" className="num">At risk / watched</th>
                    <th scope="col" className="num">Open exceptions</th>
                  </tr>
                </thead>
                <tbody>
                  {[...snapshots].reverse().map((s) => (
                    <tr key={`${s.day}:${s.site ?? ''}`}>
                      <td>{s.day}</td>
                      <th scope="row">{s.site ?? NETWORK}</th>
                      <td className="num">{show(s.orderAcknowledgmentLatencyMinutes, 1)}</td>
                      <td className="num">{show(s.procurementCycleTimeHours, 1)}</td>
                      <td className="num">{show(s.invoiceFirstPassMatchRate, 1)}</td>
                      <td className="num">
                        {s.itemsAtRisk ?? UNAVAILABLE} / {s.itemsWatched}
                      </td>
                      <td className="num">{s.openExceptions ?? '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </details>
          <p className="muted small">
            One point per UTC day: each is that day's last snapshot, a window of the {snapshots.at(-1)?.windowDays ?? '?'} days before it. Gaps are days without data.
          </p>
        </>
      )}
    </section>
  );
}
