// Small hand-written SVG charts: no chart library, nothing fetched. Each chart has a text title and a
// table-like legend so the numbers are readable without the picture (screen readers get the summary).

export const PALETTE = ['#2563eb', '#d97706', '#059669', '#dc2626', '#7c3aed', '#0891b2', '#db2777', '#65a30d'];

export interface Series {
  name: string;
  points: Array<{ x: number; y: number }>;
}

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

export function LineChart(props: {
  title: string;
  series: Series[];
  from: number;
  to: number;
  unit?: string;
  format?: (y: number) => string;
  height?: number;
  days?: boolean;
  /** what a screen reader hears per series; default: its total */
  describe?: (series: Series) => string;
}) {
  const width = 560;
  const height = props.height ?? 180;
  const pad = { left: 44, right: 8, top: 10, bottom: 22 };
  const max = niceMax(Math.max(0, ...props.series.flatMap((s) => s.points.map((p) => p.y))));
  const span = Math.max(1, props.to - props.from);
  const x = (value: number) => pad.left + ((value - props.from) / span) * (width - pad.left - pad.right);
  const y = (value: number) => height - pad.bottom - (value / max) * (height - pad.top - pad.bottom);
  const format = props.format ?? ((v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(2)));
  const empty = props.series.every((s) => s.points.length === 0);
  const ticks = [0, 0.5, 1].map((f) => f * max);
  const timeTicks = [0, 0.25, 0.5, 0.75, 1].map((f) => props.from + f * span);
  return (
    <figure className="chart">
      <figcaption>{props.title}</figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${props.title}: ${props.series.map((s) => (props.describe ? props.describe(s) : `${s.name} ${s.points.reduce((sum, p) => sum + p.y, 0)}`)).join(', ') || 'no data'}`}>
        {ticks.map((tick) => (
          <g key={tick}>
            <line x1={pad.left} x2={width - pad.right} y1={y(tick)} y2={y(tick)} className="grid" />
            <text x={pad.left - 4} y={y(tick) + 4} textAnchor="end" className="axis">
              {format(tick)}
            </text>
          </g>
        ))}
        {timeTicks.map((tick, index) => (
          <text key={tick} x={x(tick)} y={height - 6} textAnchor={index === 0 ? 'start' : index === timeTicks.length - 1 ? 'end' : 'middle'} className="axis">
            {props.days ? new Date(tick).toLocaleDateString(undefined, { month: 'short', day: 'numeric' }) : new Date(tick).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })}
          </text>
        ))}
        {empty && (
          <text x={width / 2} y={height / 2} textAnchor="middle" className="empty">
            no data in this window
          </text>
        )}
        {props.series.map((series, index) => {
          const points = [...series.points].sort((a, b) => a.x - b.x);
          const color = PALETTE[index % PALETTE.length];
          if (points.length === 1) return <circle key={series.name} cx={x(points[0]!.x)} cy={y(points[0]!.y)} r={3} fill={color} />;
          return <polyline key={series.name} fill="none" stroke={color} strokeWidth={2} points={points.map((p) => `${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join(' ')} />;
        })}
      </svg>
      <Legend names={props.series.map((s) => s.name)} />
    </figure>
  );
}

export function Legend(props: { names: string[] }) {
  if (props.names.length === 0) return null;
  return (
    <ul className="legend">
      {props.names.map((name, index) => (
        <li key={name}>
          <span className="swatch" style={{ background: PALETTE[index % PALETTE.length] }} aria-hidden="true" />
          {name}
        </li>
      ))}
    </ul>
  );
}

/** Horizontal stacked bars: one row per label, one segment per stack key. */
export function StackedBars(props: { title: string; rows: Array<{ label: string; values: number[] }>; stacks: string[] }) {
  const width = 560;
  const rowHeight = 22;
  const labelWidth = 170;
  const height = Math.max(1, props.rows.length) * rowHeight + 8;
  const max = niceMax(Math.max(0, ...props.rows.map((r) => r.values.reduce((a, b) => a + b, 0))));
  const scale = (v: number) => (v / max) * (width - labelWidth - 40);
  return (
    <figure className="chart">
      <figcaption>{props.title}</figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${props.title}: ${props.rows.map((r) => `${r.label} ${r.values.reduce((a, b) => a + b, 0)}`).join(', ') || 'none'}`}>
        {props.rows.length === 0 && (
          <text x={width / 2} y={16} textAnchor="middle" className="empty">
            none
          </text>
        )}
        {props.rows.map((row, rowIndex) => {
          let offset = labelWidth;
          const total = row.values.reduce((a, b) => a + b, 0);
          return (
            <g key={row.label} transform={`translate(0, ${rowIndex * rowHeight + 4})`}>
              <text x={labelWidth - 6} y={14} textAnchor="end" className="axis">
                {row.label}
              </text>
              {row.values.map((value, index) => {
                const w = scale(value);
                const rect = <rect key={index} x={offset} y={2} width={w} height={rowHeight - 6} fill={PALETTE[index % PALETTE.length]} />;
                offset += w;
                return rect;
              })}
              <text x={offset + 4} y={14} className="axis">
                {total}
              </text>
            </g>
          );
        })}
      </svg>
      <Legend names={props.stacks} />
    </figure>
  );
}

/** A tiny trend line (queue depth sampled while the page is open). */
export function Sparkline(props: { label: string; values: number[] }) {
  const width = 120;
  const height = 28;
  const max = Math.max(1, ...props.values);
  const step = props.values.length > 1 ? width / (props.values.length - 1) : 0;
  return (
    <svg className="sparkline" viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${props.label}: ${props.values.at(-1) ?? 0} now`}>
      <polyline fill="none" stroke="#2563eb" strokeWidth={1.5} points={props.values.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`).join(' ')} />
    </svg>
  );
}
