import { time } from '../format.ts';
import { useApi } from '../hooks.ts';

interface Timeline {
  correlationId: string;
  related: Array<{ correlationId: string; relation: string }>;
  entries: Array<{ at: string; correlationId: string; kind: string; what: string; status?: string; messageId?: number; deliveryId?: number; detail?: unknown }>;
}

/** A business transaction's timeline: request → reservation → PO → 850 → 855 → 856 → receipt → 810 → bill. */
export function Transaction(props: { id: string }) {
  const { data, error } = useApi<Timeline>(`/api/v1/transactions/${encodeURIComponent(props.id)}`, 15_000);
  if (error) return <p role="alert" className="error">{error}</p>;
  if (!data) return <p className="loading">Loading…</p>;
  return (
    <section aria-labelledby="tx-title">
      <p>
        <a href="#/messages">← Messages</a>
      </p>
      <h1 id="tx-title">
        Transaction <span className="mono">{data.correlationId}</span>
      </h1>
      {data.related.length > 0 && (
        <p>
          Linked:{' '}
          {data.related.map((r) => (
            <span key={r.correlationId} className="linked">
              <a className="mono" href={`#/transactions/${encodeURIComponent(r.correlationId)}`}>
                {r.correlationId.slice(0, 16)}
              </a>{' '}
              <span className="muted">({r.relation.replaceAll('_', ' ')})</span>
            </span>
          ))}
        </p>
      )}
      <ol className="timeline">
        {data.entries.map((entry, index) => (
          <li key={index} className={`kind-${entry.kind}`}>
            <time>{time(entry.at)}</time>
            <span className={`badge kind`}>{entry.kind.replace('_', ' ')}</span>
            <span className="what">{entry.what}</span>
            {entry.status && <span className={`badge status-${entry.status}`}>{entry.status}</span>}
            {entry.messageId && entry.kind === 'message' && (
              <a href={`#/messages/${entry.messageId}`} aria-label={`open message ${entry.messageId}`}>
                #{entry.messageId}
              </a>
            )}
            {entry.correlationId !== data.correlationId && <span className="muted small"> in {entry.correlationId.slice(0, 10)}…</span>}
          </li>
        ))}
      </ol>
    </section>
  );
}
