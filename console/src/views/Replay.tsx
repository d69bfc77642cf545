import { useState, type FormEvent } from 'react';
import { api } from '../api.ts';

interface ReplayOutcome {
  replayId: number | null;
  dryRun: boolean;
  matched: number;
  requeued: number;
  refused: number;
  items: Array<{ messageId: number; decision: string; readyAt?: string }>;
}

export type ReplayTarget = { messageIds: number[] } | { filter: Record<string, string | undefined> };

/** Replay, always as a dry run first: the person sees each message's decision, then confirms the real run. */
export function ReplayPanel(props: { target: ReplayTarget; description: string; canForce: boolean; onClose: () => void; onDone?: () => void }) {
  const [reason, setReason] = useState('');
  const [force, setForce] = useState(false);
  const [dryRun, setDryRun] = useState<ReplayOutcome>();
  const [result, setResult] = useState<ReplayOutcome>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const run = async (isDryRun: boolean) => {
    setBusy(true);
    setError(undefined);
    try {
      const outcome = await api<ReplayOutcome>('/api/v1/replay', { method: 'POST', body: { ...props.target, dryRun: isDryRun, force, reason } });
      if (isDryRun) setDryRun(outcome);
      else {
        setResult(outcome);
        props.onDone?.();
      }
    } catch (caught) {
      setError((caught as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const preview = (event: FormEvent) => {
    event.preventDefault();
    void run(true);
  };

  return (
    <div className="panel" role="region" aria-label="Replay">
      <h2>Replay {props.description}</h2>
      {!result && (
        <form onSubmit={preview}>
          <label htmlFor="replay-reason">Reason (kept in the audit trail)</label>
          <input id="replay-reason" value={reason} onChange={(e) => { setReason(e.target.value); setDryRun(undefined); }} required minLength={3} />
          {props.canForce && (
            <label className="check">
              <input type="checkbox" checked={force} onChange={(e) => { setForce(e.target.checked); setDryRun(undefined); }} /> Force: run again even where the effects were delivered (new effects at the peer)
            </label>
          )}
          <div className="actions">
            <button type="submit" disabled={busy || reason.trim().length < 3}>
              Dry run
            </button>
            <button type="button" className="primary" disabled={busy || !dryRun || dryRun.requeued === 0} onClick={() => void run(false)}>
              Replay {dryRun ? dryRun.requeued : ''} now
            </button>
            <button type="button" className="secondary" onClick={props.onClose}>
              Close
            </button>
          </div>
        </form>
      )}
      {error && <p role="alert" className="error">{error}</p>}
      {(result ?? dryRun) && <Outcome outcome={(result ?? dryRun)!} />}
      {result && (
        <div className="actions">
          <button type="button" className="secondary" onClick={props.onClose}>
            Close
          </button>
        </div>
      )}
    </div>
  );
}

function Outcome(props: { outcome: ReplayOutcome }) {
  const o = props.outcome;
  return (
    <div aria-live="polite">
      <p>
        <strong>{o.dryRun ? 'Dry run' : `Replay #${o.replayId}`}:</strong> {o.matched} matched, {o.requeued} {o.dryRun ? 'would be' : ''} replayed, {o.refused} refused.
      </p>
      <ul className="decisions">
        {o.items.slice(0, 50).map((item) => (
          <li key={item.messageId}>
            <a href={`#/messages/${item.messageId}`}>#{item.messageId}</a> {item.decision.replaceAll('_', ' ')}
          </li>
        ))}
        {o.items.length > 50 && <li className="muted">… and {o.items.length - 50} more</li>}
      </ul>
    </div>
  );
}
