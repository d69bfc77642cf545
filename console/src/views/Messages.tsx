import { useState, type FormEvent } from 'react';
import { api, query } from '../api.ts';
import { time, toIso } from '../format.ts';
import { navigate, useApi } from '../hooks.ts';
import { ReplayPanel } from './Replay.tsx';

export interface MessageSummary {
  id: number;
  source: string;
  messageType: string;
  externalId: string | null;
  correlationId: string;
  status: string;
  statusReason: string | null;
  receivedAt: string;
}

const STATUSES = ['', 'received', 'processing', 'processed', 'rejected', 'failed'];

/** The message browser: search by business key and time range, then open, or replay (dry run first). */
export function Messages(props: { params: URLSearchParams; can: (permission: string) => boolean }) {
  const params = props.params;
  const criteria = {
    q: params.get('q') ?? '',
    from: params.get('from') ?? '',
    to: params.get('to') ?? '',
    status: params.get('status') ?? '',
    source: params.get('source') ?? '',
  };
  const [form, setForm] = useState(criteria);
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [replayScope, setReplayScope] = useState<'selected' | 'search' | null>(null);
  const path = `/api/v1/messages${query({ q: criteria.q, from: toIso(criteria.from), to: toIso(criteria.to), status: criteria.status, source: criteria.source, limit: 100 })}`;
  const { data, error, loading, reload } = useApi<{ messages: MessageSummary[] }>(path);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setSelected(new Set());
    setReplayScope(null);
    navigate('/messages', form);
  };
  const toggle = (id: number) => setSelected((previous) => {
    const next = new Set(previous);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    return next;
  });
  const messages = data?.messages ?? [];
  const searchFilter = { q: criteria.q || undefined, from: toIso(criteria.from), to: toIso(criteria.to), status: criteria.status || undefined, source: criteria.source || undefined };

  return (
    <section aria-labelledby="messages-title">
      <h1 id="messages-title">Messages</h1>
      <form className="search" onSubmit={submit} role="search">
        <div className="field wide">
          <label htmlFor="q">Business key</label>
          <input id="q" value={form.q} placeholder="PO number, MSH-10, FHIR id, GTIN, lot, correlation id" onChange={(e) => setForm({ ...form, q: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="from">Received from</label>
          <input id="from" type="datetime-local" value={form.from} onChange={(e) => setForm({ ...form, from: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="to">Received before</label>
          <input id="to" type="datetime-local" value={form.to} onChange={(e) => setForm({ ...form, to: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="status">Status</label>
          <select id="status" value={form.status} onChange={(e) => setForm({ ...form, status: e.target.value })}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s || 'any'}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="source">Source</label>
          <input id="source" value={form.source} placeholder="e.g. mllp, x12:medsupply" onChange={(e) => setForm({ ...form, source: e.target.value })} />
        </div>
        <button type="submit">Search</button>
      </form>

      {props.can('replay:run') && (
        <div className="toolbar">
          <button type="button" className="secondary" disabled={selected.size === 0} onClick={() => setReplayScope('selected')}>
            Replay selected ({selected.size})…
          </button>
          <button type="button" className="secondary" disabled={messages.length === 0} onClick={() => setReplayScope('search')}>
            Replay everything this search matches…
          </button>
        </div>
      )}
      {replayScope && (
        <ReplayPanel
          target={replayScope === 'selected' ? { messageIds: [...selected] } : { filter: searchFilter }}
          description={replayScope === 'selected' ? `${selected.size} selected message(s)` : 'every message this search matches'}
          canForce={props.can('replay:force')}
          onClose={() => setReplayScope(null)}
          onDone={reload}
        />
      )}

      {error && <p role="alert" className="error">{error}</p>}
      <p className="muted small" aria-live="polite">
        {loading ? 'Searching…' : `${messages.length} message(s)${messages.length === 100 ? ' (first 100: narrow the search)' : ''}`}
      </p>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              {props.can('replay:run') && <th scope="col"><span className="sr-only">Select</span></th>}
              <th scope="col">Id</th>
              <th scope="col">Received</th>
              <th scope="col">Source</th>
              <th scope="col">Type</th>
              <th scope="col">Sender id</th>
              <th scope="col">Status</th>
              <th scope="col">Transaction</th>
            </tr>
          </thead>
          <tbody>
            {messages.map((m) => (
              <tr key={m.id}>
                {props.can('replay:run') && (
                  <td>
                    <input type="checkbox" aria-label={`Select message ${m.id}`} checked={selected.has(m.id)} onChange={() => toggle(m.id)} />
                  </td>
                )}
                <td>
                  <a href={`#/messages/${m.id}`}>#{m.id}</a>
                </td>
                <td>{time(m.receivedAt)}</td>
                <td>{m.source}</td>
                <td>{m.messageType}</td>
                <td className="mono">{m.externalId ?? '—'}</td>
                <td>
                  <span className={`badge status-${m.status}`} title={m.statusReason ?? undefined}>
                    {m.status}
                  </span>
                </td>
                <td>
                  <a className="mono" href={`#/transactions/${encodeURIComponent(m.correlationId)}`} title="Business transaction timeline">
                    {m.correlationId.slice(0, 12)}…
                  </a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export async function fetchMessage<T>(id: number, mode: 'masked' | 'payload' | 'none'): Promise<T> {
  return api<T>(`/api/v1/messages/${id}${mode === 'none' ? '' : `?${mode === 'masked' ? 'masked' : 'payload'}=true`}`);
}
