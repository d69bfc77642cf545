import { useEffect, useState, type FormEvent } from 'react';
import { api } from '../api.ts';
import { time } from '../format.ts';
import { fetchMessage, type MessageSummary } from './Messages.tsx';
import { ReplayPanel } from './Replay.tsx';

interface Detail extends MessageSummary {
  contentType: string;
  payloadSize: number;
  payloadTruncated: boolean;
  duplicateCount: number;
  acknowledgedAt: string | null;
  payload: string | null;
  payloadMasking?: string;
  ackPayload: string | null;
  stages: Array<{ stage: string; outcome: string; detail: unknown; at: string }>;
  deliveries: Array<{ id: number; lane: string; action: string; endpoint: string; status: string; attempts: number; lastError: string | null; createdAt: string; completedAt: string | null; payload?: unknown }>;
  exceptions: Array<{ id: number; type: string; status: string; reason: string; createdAt: string }>;
}

/** One message: every stage and step, its payload (PHI masked unless the role may read payloads), replay and edit-and-replay. */
export function MessageDetail(props: { id: number; can: (permission: string) => boolean }) {
  const mayReadPayload = props.can('messages:read_payload');
  const [mode, setMode] = useState<'masked' | 'payload'>('masked');
  const [message, setMessage] = useState<Detail>();
  const [error, setError] = useState<string>();
  const [panel, setPanel] = useState<'replay' | 'edit' | null>(null);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    let cancelled = false;
    fetchMessage<Detail>(props.id, mode)
      .then((m) => !cancelled && (setMessage(m), setError(undefined)))
      .catch((caught: Error) => !cancelled && setError(caught.message));
    return () => {
      cancelled = true;
    };
  }, [props.id, mode, tick]);

  if (error) return <p role="alert" className="error">{error}</p>;
  if (!message) return <p className="loading">Loading…</p>;
  return (
    <section aria-labelledby="message-title">
      <p>
        <a href="#/messages">← Messages</a>
      </p>
      <div className="heading">
        <h1 id="message-title">
          Message #{message.id} <span className={`badge status-${message.status}`}>{message.status}</span>
        </h1>
        <div className="actions">
          {props.can('replay:run') && (
            <button type="button" onClick={() => setPanel('replay')}>
              Replay…
            </button>
          )}
          {props.can('replay:edit') && mayReadPayload && (
            <button type="button" className="secondary" onClick={() => setPanel('edit')}>
              Edit and replay…
            </button>
          )}
        </div>
      </div>
      {panel === 'replay' && <ReplayPanel target={{ messageIds: [message.id] }} description={`message #${message.id}`} canForce={props.can('replay:force')} onClose={() => setPanel(null)} onDone={() => setTick((t) => t + 1)} />}
      {panel === 'edit' && <EditReplay id={message.id} onClose={() => setPanel(null)} />}

      <dl className="facts">
        <dt>Source</dt>
        <dd>{message.source}</dd>
        <dt>Type</dt>
        <dd>{message.messageType}</dd>
        <dt>Sender id</dt>
        <dd className="mono">{message.externalId ?? '—'}</dd>
        <dt>Received</dt>
        <dd>{time(message.receivedAt)}</dd>
        <dt>Acknowledged</dt>
        <dd>{time(message.acknowledgedAt)}</dd>
        <dt>Transaction</dt>
        <dd>
          <a className="mono" href={`#/transactions/${encodeURIComponent(message.correlationId)}`}>
            {message.correlationId}
          </a>
        </dd>
        {message.statusReason && (
          <>
            <dt>Status reason</dt>
            <dd>{message.statusReason}</dd>
          </>
        )}
        {message.duplicateCount > 0 && (
          <>
            <dt>Duplicates received</dt>
            <dd>{message.duplicateCount}</dd>
          </>
        )}
      </dl>

      <h2>Stages</h2>
      <ol className="stages">
        {message.stages.map((stage, index) => (
          <li key={index} className={`outcome-${stage.outcome}`}>
            <time>{time(stage.at)}</time> <strong>{stage.stage}</strong> <span className="muted">{stage.outcome}</span>
            {stage.detail !== null && stage.detail !== undefined && <pre className="detail">{JSON.stringify(stage.detail, null, 2)}</pre>}
          </li>
        ))}
      </ol>

      <h2>Steps (deliveries)</h2>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Id</th>
              <th scope="col">Action</th>
              <th scope="col">Endpoint</th>
              <th scope="col">Lane</th>
              <th scope="col">Status</th>
              <th scope="col" className="num">Attempts</th>
              <th scope="col">Last error</th>
              <th scope="col">Payload</th>
            </tr>
          </thead>
          <tbody>
            {message.deliveries.map((d) => (
              <tr key={d.id}>
                <td>{d.id}</td>
                <td>{d.action}</td>
                <td>{d.endpoint}</td>
                <td>{d.lane}</td>
                <td>
                  <span className={`badge delivery-${d.status}`}>{d.status}</span>
                </td>
                <td className="num">{d.attempts}</td>
                <td className="wrap">{d.lastError ?? '—'}</td>
                <td>
                  {d.payload !== undefined && (
                    <details>
                      <summary>show</summary>
                      <pre className="detail">{JSON.stringify(d.payload, null, 2)}</pre>
                    </details>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      {message.exceptions.length > 0 && (
        <>
          <h2>Exceptions</h2>
          <ul className="plain">
            {message.exceptions.map((e) => (
              <li key={e.id}>
                <a href={`#/exceptions?id=${e.id}&status=${e.status}`}>#{e.id}</a> <span className="badge">{e.type}</span> {e.status} — {e.reason}
              </li>
            ))}
          </ul>
        </>
      )}

      <div className="heading">
        <h2>Payload</h2>
        {mayReadPayload && (
          <button type="button" className="secondary" onClick={() => setMode(mode === 'masked' ? 'payload' : 'masked')} aria-pressed={mode === 'payload'}>
            {mode === 'masked' ? 'Show as received (PHI)' : 'Mask PHI'}
          </button>
        )}
      </div>
      <p className="muted small">
        {mode === 'masked'
          ? message.payloadMasking === 'withheld'
            ? 'Not shown: the format is not one whose patient fields can be masked. Roles with messages:read_payload see it as received.'
            : `Patient data masked (${message.payloadMasking ?? 'masked'}). ${mayReadPayload ? '' : 'Your role sees payloads masked.'}`
          : 'As received, patient data included. This view is for roles with messages:read_payload.'}
        {message.payloadTruncated && ' The stored payload was truncated at the size limit.'}
      </p>
      <pre className="payload" tabIndex={0} aria-label="Payload">
        {message.payload === null ? '(no payload: purged by retention, or withheld)' : message.payload.replace(/\r/g, '\n')}
      </pre>
    </section>
  );
}

function EditReplay(props: { id: number; onClose: () => void }) {
  const [payload, setPayload] = useState<string>();
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string>();
  const [result, setResult] = useState<{ messageId: number; routed: boolean; resolvedExceptions: number[] }>();
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    fetchMessage<Detail>(props.id, 'payload')
      .then((m) => setPayload(m.payload ?? ''))
      .catch((caught: Error) => setError(caught.message));
  }, [props.id]);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      // HL7 v2 segments end in CR: the text area shows them as lines
      const text = /^MSH/.test(payload ?? '') ? (payload ?? '').replace(/\r?\n/g, '\r') : (payload ?? '');
      setResult(await api(`/api/v1/messages/${props.id}/edit-replay`, { method: 'POST', body: { payload: text, reason } }));
    } catch (caught) {
      setError((caught as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="panel" role="region" aria-label="Edit and replay">
      <h2>Edit and replay</h2>
      <p className="muted small">The original stays as received. The corrected copy becomes a new message in the same transaction; the original's open exceptions close as superseded. Audited.</p>
      {payload === undefined && !error && <p className="loading">Loading payload…</p>}
      {payload !== undefined && !result && (
        <form onSubmit={submit}>
          <label htmlFor="edit-payload">Corrected payload</label>
          <textarea id="edit-payload" rows={12} className="mono" value={payload.replace(/\r(?!\n)/g, '\n')} onChange={(e) => setPayload(e.target.value)} />
          <label htmlFor="edit-reason">Reason (kept in the audit trail)</label>
          <input id="edit-reason" value={reason} onChange={(e) => setReason(e.target.value)} required minLength={3} />
          <div className="actions">
            <button type="submit" disabled={busy || reason.trim().length < 3}>
              Store and replay the corrected copy
            </button>
            <button type="button" className="secondary" onClick={props.onClose}>
              Cancel
            </button>
          </div>
        </form>
      )}
      {error && <p role="alert" className="error">{error}</p>}
      {result && (
        <p aria-live="polite">
          Stored as <a href={`#/messages/${result.messageId}`}>message #{result.messageId}</a>
          {result.routed ? ', being processed' : ', but no route matches it'}
          {result.resolvedExceptions.length ? `; closed exception(s) ${result.resolvedExceptions.map((id) => `#${id}`).join(', ')}` : ''}.
        </p>
      )}
    </div>
  );
}
