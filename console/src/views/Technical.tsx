import { useEffect, useState } from 'react';
import { LineChart, Sparkline, type Series } from '../charts.tsx';
import { duration, percent } from '../format.ts';
import { useApi } from '../hooks.ts';

interface Operations {
  windowMinutes: number;
  bucketSeconds: number;
  now: string;
  deliveries: Array<{ lane: string; endpoint: string; bucket: string; done: number; failed: number; p50Seconds: number | null; p95Seconds: number | null }>;
  received: Array<{ source: string; bucket: string; count: number }>;
  queue: Array<{ lane: string; endpoint: string; pending: number; running: number; retrying: number; oldestPendingSeconds: number }>;
  circuits: Array<{ endpoint: string; state: string; consecutiveFailures: number; retryAt: string | null; lastError: string | null }>;
}

const WINDOWS = [
  { minutes: 15, label: '15 minutes' },
  { minutes: 60, label: '1 hour' },
  { minutes: 360, label: '6 hours' },
  { minutes: 1440, label: '24 hours' },
  { minutes: 10080, label: '7 days' },
];

function seriesBy<T extends { bucket: string }>(rows: T[], key: (row: T) => string, value: (row: T) => number | null): Series[] {
  const byName = new Map<string, Series>();
  for (const row of rows) {
    const y = value(row);
    if (y === null) continue;
    const name = key(row);
    const series = byName.get(name) ?? { name, points: [] };
    const x = new Date(row.bucket).getTime();
    const existing = series.points.find((p) => p.x === x);
    if (existing) existing.y += y;
    else series.points.push({ x, y });
    byName.set(name, series);
  }
  return [...byName.values()];
}

export function Technical() {
  const [minutes, setMinutes] = useState(60);
  const { data, error } = useApi<Operations>(`/api/v1/operations?minutes=${minutes}`, 10_000);
  // queue depth has no history in the store: sampled here while the page is open
  const [depthHistory, setDepthHistory] = useState<Record<string, number[]>>({});
  useEffect(() => {
    if (!data) return;
    setDepthHistory((previous) => {
      const next: Record<string, number[]> = { ...previous };
      const lanes = new Map<string, number>();
      for (const row of data.queue) lanes.set(row.lane, (lanes.get(row.lane) ?? 0) + row.pending + row.running);
      for (const lane of new Set([...Object.keys(previous), ...lanes.keys()])) next[lane] = [...(previous[lane] ?? []), lanes.get(lane) ?? 0].slice(-60);
      return next;
    });
  }, [data]);

  if (error) return <p role="alert" className="error">{error}</p>;
  if (!data) return <p className="loading">Loading…</p>;
  const to = new Date(data.now).getTime();
  const from = to - data.windowMinutes * 60_000;
  const done = data.deliveries.reduce((sum, r) => sum + r.done, 0);
  const failed = data.deliveries.reduce((sum, r) => sum + r.failed, 0);
  const waiting = data.queue.reduce((sum, r) => sum + r.pending + r.running, 0);
  const retrying = data.queue.reduce((sum, r) => sum + r.retrying, 0);
  const openCircuits = data.circuits.filter((c) => c.state !== 'closed');
  const perBucketSeconds = data.bucketSeconds;

  // one row per lane and endpoint: totals over the window, latency of the busiest bucket's weight
  const table = new Map<string, { lane: string; endpoint: string; done: number; failed: number; p50: number[]; p95: number[]; pending: number; running: number; retrying: number; oldest: number }>();
  const row = (lane: string, endpoint: string) => {
    const key = `${lane}\u0000${endpoint}`;
    const existing = table.get(key) ?? { lane, endpoint, done: 0, failed: 0, p50: [], p95: [], pending: 0, running: 0, retrying: 0, oldest: 0 };
    table.set(key, existing);
    return existing;
  };
  for (const d of data.deliveries) {
    const r = row(d.lane, d.endpoint);
    r.done += d.done;
    r.failed += d.failed;
    if (d.p50Seconds !== null) r.p50.push(d.p50Seconds);
    if (d.p95Seconds !== null) r.p95.push(d.p95Seconds);
  }
  for (const q of data.queue) Object.assign(row(q.lane, q.endpoint), { pending: q.pending, running: q.running, retrying: q.retrying, oldest: q.oldestPendingSeconds });
  const rows = [...table.values()].sort((a, b) => a.lane.localeCompare(b.lane) || a.endpoint.localeCompare(b.endpoint));

  return (
    <section aria-labelledby="ops-title">
      <div className="heading">
        <h1 id="ops-title">Technical view</h1>
        <label className="inline">
          Window{' '}
          <select value={minutes} onChange={(e) => setMinutes(Number(e.target.value))}>
            {WINDOWS.map((w) => (
              <option key={w.minutes} value={w.minutes}>
                {w.label}
              </option>
            ))}
          </select>
        </label>
        <span className="muted small">refreshes every 10 s</span>
      </div>
      <div className="cards">
        <Card label="Steps completed" value={String(done)} />
        <Card label="Steps parked (failed)" value={String(failed)} tone={failed > 0 ? 'warn' : undefined} />
        <Card label="Failure rate" value={percent(failed, done + failed)} />
        <Card label="Waiting or running now" value={String(waiting)} detail={retrying ? `${retrying} retrying` : undefined} />
        <Card label="Circuits not closed" value={String(openCircuits.length)} tone={openCircuits.length ? 'bad' : 'good'} detail={openCircuits.map((c) => c.endpoint).join(', ') || undefined} />
      </div>
      <div className="grid2">
        <LineChart title={`Throughput per lane (steps done per ${duration(perBucketSeconds)})`} series={seriesBy(data.deliveries, (r) => r.lane, (r) => r.done)} from={from} to={to} />
        <LineChart title={`Failures per endpoint (steps parked per ${duration(perBucketSeconds)})`} series={seriesBy(data.deliveries.filter((r) => r.failed > 0), (r) => r.endpoint, (r) => r.failed)} from={from} to={to} />
        <LineChart title="Latency p95 per lane (enqueued → done, seconds)" series={seriesBy(data.deliveries, (r) => r.lane, (r) => r.p95Seconds)} from={from} to={to} format={(v) => v.toFixed(v < 10 ? 1 : 0)} />
        <LineChart title={`Inbound messages per source (per ${duration(perBucketSeconds)})`} series={seriesBy(data.received, (r) => r.source, (r) => r.count)} from={from} to={to} />
      </div>

      <h2>Lanes and endpoints</h2>
      <div className="table-wrap">
        <table>
          <caption className="sr-only">Per lane and endpoint over the window, and queue now</caption>
          <thead>
            <tr>
              <th scope="col">Lane</th>
              <th scope="col">Endpoint</th>
              <th scope="col" className="num">Done</th>
              <th scope="col" className="num">Parked</th>
              <th scope="col" className="num">Failure rate</th>
              <th scope="col" className="num">p50</th>
              <th scope="col" className="num">p95 (worst bucket)</th>
              <th scope="col" className="num">Pending</th>
              <th scope="col" className="num">Running</th>
              <th scope="col" className="num">Retrying</th>
              <th scope="col" className="num">Oldest waiting</th>
            </tr>
          </thead>
          <tbody>
            {rows.length === 0 && (
              <tr>
                <td colSpan={11} className="muted">
                  No steps in this window.
                </td>
              </tr>
            )}
            {rows.map((r) => (
              <tr key={`${r.lane}/${r.endpoint}`}>
                <td>{r.lane}</td>
                <td>{r.endpoint}</td>
                <td className="num">{r.done}</td>
                <td className="num">{r.failed}</td>
                <td className="num">{percent(r.failed, r.done + r.failed)}</td>
                <td className="num">{duration(median(r.p50))}</td>
                <td className="num">{duration(r.p95.length ? Math.max(...r.p95) : null)}</td>
                <td className="num">{r.pending}</td>
                <td className="num">{r.running}</td>
                <td className="num">{r.retrying}</td>
                <td className="num">{r.pending ? duration(r.oldest) : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      <div className="grid2">
        <div>
          <h2>Queue depth per lane</h2>
          <p className="muted small">Sampled every refresh while this page is open.</p>
          <ul className="plain">
            {Object.entries(depthHistory).map(([lane, values]) => (
              <li key={lane} className="spark-row">
                <span className="spark-label">{lane}</span> <Sparkline label={`${lane} queue depth`} values={values} /> <strong>{values.at(-1) ?? 0}</strong>
              </li>
            ))}
            {Object.keys(depthHistory).length === 0 && <li className="muted">Nothing queued.</li>}
          </ul>
        </div>
        <div>
          <h2>Circuit breakers</h2>
          <table>
            <thead>
              <tr>
                <th scope="col">Endpoint</th>
                <th scope="col">State</th>
                <th scope="col" className="num">Failures in a row</th>
                <th scope="col">Next try</th>
              </tr>
            </thead>
            <tbody>
              {data.circuits.length === 0 && (
                <tr>
                  <td colSpan={4} className="muted">
                    No endpoint called yet.
                  </td>
                </tr>
              )}
              {data.circuits.map((c) => (
                <tr key={c.endpoint}>
                  <td>{c.endpoint}</td>
                  <td>
                    <span className={`badge state-${c.state}`}>{c.state.replace('_', '-')}</span>
                  </td>
                  <td className="num">{c.consecutiveFailures}</td>
                  <td title={c.lastError ?? undefined}>{c.retryAt && c.state !== 'closed' ? new Date(c.retryAt).toLocaleTimeString() : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
    </section>
  );
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export function Card(props: { label: string; value: string; detail?: string | undefined; tone?: 'good' | 'warn' | 'bad' | undefined }) {
  return (
    <div className={`card ${props.tone ?? ''}`}>
      <div className="card-label">{props.label}</div>
      <div className="card-value">{props.value}</div>
      {props.detail && <div className="card-detail">{props.detail}</div>}
    </div>
  );
}
