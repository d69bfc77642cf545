import { useMemo, useState, type FormEvent } from 'react';
import { api, query } from '../api.ts';
import { ago, duration, time } from '../format.ts';
import { navigate, useApi } from '../hooks.ts';

export interface ExceptionRow {
  id: number;
  type: string;
  classification: string;
  status: string;
  messageId: number | null;
  deliveryId: number | null;
  correlationId: string | null;
  reason: string;
  attempts: number;
  lastError: string | null;
  createdAt: string;
  resolvedAt: string | null;
  resolvedBy: string | null;
  resolutionAction: string | null;
  resolutionNote: string | null;
  owner: { business: string; technical: string } | null;
  slaMinutes: number | null;
  slaDueAt: string | null;
  breachedAt: string | null;
  runbook: string | null;
}

// One-click actions per exception type. The server decides (it refuses an action that does not apply, e.g.
// adjust_stock where the warehouse does not own stock); this only decides which buttons to offer.
const COMMON = ['replay', 'cancel', 'dismiss'] as const;
const PLAYBOOKS: Record<string, string[]> = {
  price_variance: ['accept_variance'],
  quantity_variance: ['accept_variance', 'cancel_po_line'],
  supplier_delay: ['cancel_po_line'],
  stock_mismatch: ['adjust_stock'],
};
const LABELS: Record<string, string> = {
  replay: 'Replay',
  cancel: 'Cancel',
  dismiss: 'Dismiss',
  accept_variance: 'Accept variance',
  cancel_po_line: 'Cancel PO line',
  adjust_stock: 'Adjust stock',
};
export const actionsFor = (type: string): string[] => [...COMMON, ...(PLAYBOOKS[type] ?? [])];

/** Exception work queues: by type, owner and SLA, with runbooks, one-click and bulk actions, and the audit of each resolution. */
export function Exceptions(props: { params: URLSearchParams; can: (permission: string) => boolean }) {
  const status = props.params.get('status') ?? 'open';
  const type = props.params.get('type') ?? '';
  const owner = props.params.get('owner') ?? '';
  const breachedOnly = props.params.get('breached') === '1';
  const onlyId = props.params.get('id');
  const { data, error, reload } = useApi<{ exceptions: ExceptionRow[] }>(`/api/v1/exceptions${query({ status, limit: 1000 })}`, 15_000);
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [pending, setPending] = useState<{ action: string; ids: number[] } | null>(null);
  const [results, setResults] = useState<Array<{ id: number; ok: boolean; message: string }>>([]);
  const mayResolve = props.can('exceptions:resolve');
  const now = Date.now();

  const all = data?.exceptions ?? [];
  const owners = useMemo(() => [...new Set(all.map((e) => e.owner?.business).filter((o): o is string => !!o))].sort(), [all]);
  const byType = useMemo(() => {
    const counts = new Map<string, { count: number; breached: number }>();
    for (const e of all) {
      const entry = counts.get(e.type) ?? { count: 0, breached: 0 };
      entry.count++;
      if (isBreached(e, now)) entry.breached++;
      counts.set(e.type, entry);
    }
    return [...counts.entries()].sort((a, b) => b[1].count - a[1].count);
  }, [all, now]);
  const shown = all.filter((e) => (!type || e.type === type) && (!owner || e.owner?.business === owner) && (!breachedOnly || isBreached(e, now)) && (!onlyId || String(e.id) === onlyId));
  const set = (changes: Record<string, string | undefined>) => navigate('/exceptions', { status, type, owner, breached: breachedOnly ? '1' : undefined, ...changes });
  const toggle = (id: number) => setSelected((previous) => {
    const next = new Set(previous);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    return next;
  });
  const selectedRows = shown.filter((e) => selected.has(e.id));
  const bulkActions = selectedRows.length ? actionsFor(selectedRows[0]!.type).filter((a) => selectedRows.every((e) => actionsFor(e.type).includes(a))) : [...COMMON];

  return (
    <section aria-labelledby="exceptions-title">
      <h1 id="exceptions-title">Exception work queues</h1>
      <div className="queues" role="group" aria-label="Queues by type">
        <button type="button" className={type === '' ? 'queue active' : 'queue'} aria-pressed={type === ''} onClick={() => set({ type: undefined })}>
          <span>All</span> <strong>{all.length}</strong>
        </button>
        {byType.map(([name, counts]) => (
          <button key={name} type="button" className={type === name ? 'queue active' : 'queue'} aria-pressed={type === name} onClick={() => set({ type: name })}>
            <span>{name.replaceAll('_', ' ')}</span> <strong>{counts.count}</strong>
            {counts.breached > 0 && <em className="breach"> {counts.breached} past SLA</em>}
          </button>
        ))}
      </div>
      <div className="search">
        <div className="field">
          <label htmlFor="ex-status">Status</label>
          <select id="ex-status" value={status} onChange={(e) => set({ status: e.target.value })}>
            <option value="open">open</option>
            <option value="resolved">resolved (audit)</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="ex-owner">Business owner</label>
          <select id="ex-owner" value={owner} onChange={(e) => set({ owner: e.target.value || undefined })}>
            <option value="">any</option>
            {owners.map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
        </div>
        <label className="check">
          <input type="checkbox" checked={breachedOnly} onChange={(e) => set({ breached: e.target.checked ? '1' : undefined })} /> Past SLA only
        </label>
      </div>

      {mayResolve && status === 'open' && (
        <div className="toolbar" role="group" aria-label="Bulk actions">
          <span className="muted">{selected.size} selected:</span>
          {bulkActions.map((action) => (
            <button key={action} type="button" className="secondary" disabled={selectedRows.length === 0} onClick={() => setPending({ action, ids: selectedRows.map((e) => e.id) })}>
              {LABELS[action] ?? action} selected
            </button>
          ))}
        </div>
      )}
      {pending && (
        <ResolveDialog
          action={pending.action}
          ids={pending.ids}
          onCancel={() => setPending(null)}
          onDone={(outcomes) => {
            setResults(outcomes);
            setPending(null);
            setSelected(new Set());
            reload();
          }}
        />
      )}
      {results.length > 0 && (
        <div className="panel" aria-live="polite" role="status">
          <ul className="plain">
            {results.map((r) => (
              <li key={r.id} className={r.ok ? 'ok' : 'error'}>
                Exception #{r.id}: {r.message}
              </li>
            ))}
          </ul>
          <button type="button" className="secondary" onClick={() => setResults([])}>
            Dismiss
          </button>
        </div>
      )}
      {error && <p role="alert" className="error">{error}</p>}
      {!data && !error && <p className="loading">Loading…</p>}

      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              {mayResolve && status === 'open' && <th scope="col"><span className="sr-only">Select</span></th>}
              <th scope="col">Id</th>
              <th scope="col">Type</th>
              <th scope="col">Reason</th>
              <th scope="col">Owner</th>
              <th scope="col">Age</th>
              <th scope="col">SLA</th>
              <th scope="col">Message</th>
              <th scope="col">{status === 'open' ? 'Actions' : 'Resolution (audit)'}</th>
            </tr>
          </thead>
          <tbody>
            {shown.length === 0 && data && (
              <tr>
                <td colSpan={9} className="muted">
                  Nothing in this queue.
                </td>
              </tr>
            )}
            {shown.map((e) => (
              <tr key={e.id}>
                {mayResolve && status === 'open' && (
                  <td>
                    <input type="checkbox" aria-label={`Select exception ${e.id}`} checked={selected.has(e.id)} onChange={() => toggle(e.id)} />
                  </td>
                )}
                <td>#{e.id}</td>
                <td>
                  <span className="badge">{e.type}</span>
                  <div className="muted small">{e.classification}</div>
                </td>
                <td className="wrap">
                  {e.reason}
                  {e.runbook && (
                    <div className="small">
                      {/^https?:\/\//.test(e.runbook) ? (
                        <a href={e.runbook} target="_blank" rel="noreferrer">
                          Runbook
                        </a>
                      ) : (
                        <>
                          Runbook: <code>{e.runbook}</code>
                        </>
                      )}
                    </div>
                  )}
                </td>
                <td>
                  {e.owner ? (
                    <>
                      {e.owner.business}
                      <div className="muted small">{e.owner.technical}</div>
                    </>
                  ) : (
                    '—'
                  )}
                </td>
                <td>{ago(e.createdAt, now)}</td>
                <td>
                  {e.slaDueAt ? <span className={isBreached(e, now) ? 'breach' : ''}>{isBreached(e, now) ? `past due ${ago(e.slaDueAt, now)}` : `due in ${duration((new Date(e.slaDueAt).getTime() - now) / 1000)}`}</span> : '—'}
                </td>
                <td>
                  {e.messageId ? <a href={`#/messages/${e.messageId}`}>#{e.messageId}</a> : '—'}
                  {e.correlationId && (
                    <div className="small">
                      <a href={`#/transactions/${encodeURIComponent(e.correlationId)}`}>timeline</a>
                    </div>
                  )}
                </td>
                <td>
                  {status === 'open' ? (
                    mayResolve ? (
                      <div className="row-actions">
                        {e.type === 'mapping_failure' && props.can('mappings:write') && (
                          <a className="button secondary" href="#/mappings">
                            Add mapping
                          </a>
                        )}
                        {actionsFor(e.type).map((action) => (
                          <button key={action} type="button" className="small-button" onClick={() => setPending({ action, ids: [e.id] })} aria-label={`${LABELS[action]} exception ${e.id}`}>
                            {LABELS[action] ?? action}
                          </button>
                        ))}
                      </div>
                    ) : (
                      <span className="muted small">read only</span>
                    )
                  ) : (
                    <span className="small">
                      <strong>{e.resolutionAction}</strong> by {e.resolvedBy} {time(e.resolvedAt)}
                      <div className="muted">{e.resolutionNote}</div>
                    </span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function isBreached(e: ExceptionRow, now: number): boolean {
  return e.status === 'open' && (e.breachedAt !== null || (e.slaDueAt !== null && new Date(e.slaDueAt).getTime() < now));
}

/** The note every resolution needs (audited), then the action on each exception, one by one. */
function ResolveDialog(props: { action: string; ids: number[]; onCancel: () => void; onDone: (outcomes: Array<{ id: number; ok: boolean; message: string }>) => void }) {
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    const outcomes: Array<{ id: number; ok: boolean; message: string }> = [];
    for (const id of props.ids) {
      try {
        const path = props.action === 'replay' ? `/api/v1/exceptions/${id}/replay` : `/api/v1/exceptions/${id}/resolve`;
        await api(path, { method: 'POST', body: props.action === 'replay' ? { note } : { action: props.action, note } });
        outcomes.push({ id, ok: true, message: `${LABELS[props.action] ?? props.action}: done` });
      } catch (caught) {
        outcomes.push({ id, ok: false, message: (caught as Error).message });
      }
    }
    setBusy(false);
    props.onDone(outcomes);
  };
  return (
    <form className="panel" onSubmit={submit} aria-label={`${LABELS[props.action]} ${props.ids.length} exception(s)`}>
      <h2>
        {LABELS[props.action] ?? props.action}: {props.ids.length === 1 ? `exception #${props.ids[0]}` : `${props.ids.length} exceptions`}
      </h2>
      <label htmlFor="resolve-note">Note (why — kept in the audit trail)</label>
      <input id="resolve-note" value={note} onChange={(e) => setNote(e.target.value)} required autoFocus />
      <div className="actions">
        <button type="submit" className="primary" disabled={busy || note.trim() === ''}>
          {busy ? 'Working…' : `${LABELS[props.action] ?? props.action}`}
        </button>
        <button type="button" className="secondary" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
