import type { ReactNode } from 'react';
import { Forbidden } from '../App.tsx';
import { time } from '../format.ts';
import { useApi } from '../hooks.ts';

// Read-only: the configuration is a file (carelane.yaml) validated at start-up; changes go through it and a
// restart, reviewed like code. Contracts are governed through the API (proposals and approvals).

type Config = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- the redacted config as JSON, read-only display

interface ConfigReply {
  config: Config;
  circuits: Array<{ endpoint: string; state: string; consecutiveFailures: number; openedAt: string | null; retryAt: string | null; lastError: string | null }>;
}

export function Configuration(props: { can: (permission: string) => boolean }) {
  const mayRead = props.can('config:read');
  const { data, error } = useApi<ConfigReply>(mayRead ? '/api/v1/config' : null);
  const changes = useApi<{ changeRequests: Array<{ id: number; name: string; version: string; level: string; reason: string; status: string; proposedBy: string; proposedAt: string }> }>(
    props.can('contracts:read') ? '/api/v1/contracts/change-requests?status=pending' : null,
  );
  const contracts = useApi<{ versions: Array<{ name: string; kind: string; version: string; status: string; activatedAt: string | null }> }>(props.can('contracts:read') ? '/api/v1/contracts?status=active' : null);
  if (!mayRead) return <Forbidden what="read the configuration" permission="config:read" />;
  if (error) return <p role="alert" className="error">{error}</p>;
  if (!data) return <p className="loading">Loading…</p>;
  const c = data.config;
  const flows = Object.entries((c.flows ?? {}) as Record<string, Config>);
  const lanes = Object.entries((c.engine?.lanes ?? {}) as Record<string, Config>);
  const endpoints = Object.entries((c.endpoints ?? {}) as Record<string, Config>);
  const circuitOf = (name: string) => data.circuits.find((x) => x.endpoint === name);
  const endpointNames = [...new Set([...endpoints.map(([name]) => name), ...data.circuits.map((x) => x.endpoint)])].sort();
  return (
    <section aria-labelledby="config-title">
      <h1 id="config-title">Configuration</h1>
      <p className="muted">
        Read only, as the engine runs it (profile <strong>{String(c.profile)}</strong>). Secrets show as [set]. Change <code>carelane.yaml</code> and restart.
      </p>
      <div className="grid2">
        <Table
          title="Flows and their mode"
          head={['Flow', 'Mode', 'Lane', 'Settings']}
          rows={flows.map(([name, flow]) => [name, <span className="badge">{String(flow.mode ?? '—')}</span>, String(flow.lane ?? '—'), compact(flow, ['mode', 'lane'])])}
        />
        <Table title="Routes" head={['Source', 'Type', 'Lane', 'Flow']} rows={((c.routes ?? []) as Config[]).map((r) => [r.source ?? '*', r.type ?? '*', r.lane, r.flow])} />
        <Table title="Lanes" head={['Lane', 'Workers', 'Priority', 'Claim batch', 'Backlog limit']} rows={lanes.map(([name, l]) => [name, l.concurrency, l.priority, l.claimBatch, l.maxBacklog || 'none'])} />
        <Table
          title="Endpoints and circuit breakers"
          head={['Endpoint', 'Circuit', 'Retry / circuit settings']}
          rows={endpointNames.map((name) => [
            name,
            <span className={`badge state-${circuitOf(name)?.state ?? 'closed'}`}>{circuitOf(name)?.state ?? 'not called yet'}</span>,
            compact(endpoints.find(([n]) => n === name)?.[1] ?? { retry: 'engine default', circuit: 'engine default' }, []),
          ])}
        />
        <Table
          title="Ownership (system of record)"
          head={['Domain or field', 'Owner']}
          rows={[
            ...Object.entries((c.masterData?.owners ?? {}) as Record<string, unknown>).map(([domain, owner]) => [domain, String(owner)]),
            ...Object.entries((c.masterData?.fieldOwners ?? {}) as Record<string, unknown>).map(([field, owner]) => [field, String(owner)]),
          ]}
        />
        <Table
          title="Exception owners and SLAs"
          head={['Exception type', 'Business owner', 'Technical owner', 'SLA', 'Runbook']}
          rows={Object.entries((c.owners?.exceptions ?? {}) as Record<string, Config>).map(([type, o]) => [type, o.business, o.technical, `${o.slaMinutes} min`, o.runbook])}
        />
        <Table title="Flow owners" head={['Flow', 'Business', 'Technical']} rows={Object.entries((c.owners?.flows ?? {}) as Record<string, Config>).map(([flow, o]) => [flow, o.business, o.technical])} />
        <Table title="Suppliers" head={['Vendor ref', 'Channel', 'Partner / profile']} rows={((c.suppliers ?? []) as Config[]).map((s) => [s.vendorRef, s.channel, s.partner ?? s.profile ?? '—'])} />
        <Table
          title="Connections"
          head={['Kind', 'Name', 'Where']}
          rows={[
            ...Object.entries((c.odoo?.connections ?? {}) as Record<string, Config>).map(([name, o]) => ['Odoo', name, String(o.url ?? '')]),
            ...((c.x12?.partners ?? []) as Config[]).map((p) => ['X12 partner', p.id, `${p.transport} ${p.endpoint ?? ''}`]),
            ...((c.fhir?.sources ?? []) as Config[]).map((s) => ['FHIR source', s.id, 'listener']),
            ...Object.entries((c.fhir?.servers ?? {}) as Record<string, Config>).map(([name, s]) => ['FHIR server', name, String(s.baseUrl ?? s.url ?? '')]),
            ...Object.entries((c.hl7v2?.destinations ?? {}) as Record<string, Config>).map(([name, d]) => ['HL7 v2 destination', name, `${d.host ?? ''}:${d.port ?? ''}`]),
            ...((c.supplierRest?.profiles ?? []) as Config[]).map((p) => ['Supplier REST', p.id, String(p.baseUrl ?? '')]),
          ]}
        />
        <Table title="Retention" head={['Setting', 'Value']} rows={Object.entries((c.retention ?? {}) as Record<string, unknown>).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)])} />
      </div>
      <h2>Contracts</h2>
      {!props.can('contracts:read') ? (
        <Forbidden what="read contracts" permission="contracts:read" />
      ) : (
        <div className="grid2">
          <Table title="Pending change requests" head={['#', 'Contract', 'Version', 'Level', 'Proposed by', 'Reason']} rows={(changes.data?.changeRequests ?? []).map((r) => [r.id, r.name, r.version, r.level, `${r.proposedBy} ${time(r.proposedAt)}`, r.reason])} empty="No pending change requests." />
          <Table title="Active contract versions" head={['Contract', 'Kind', 'Version', 'Active since']} rows={(contracts.data?.versions ?? []).map((v) => [v.name, v.kind, v.version, time(v.activatedAt)])} />
        </div>
      )}
    </section>
  );
}

function compact(value: Config, skip: string[]): string {
  const entries = Object.entries(value).filter(([k]) => !skip.includes(k));
  return entries.map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join('; ') || '—';
}

function Table(props: { title: string; head: string[]; rows: Array<Array<ReactNode>>; empty?: string }) {
  return (
    <div className="config-table">
      <h2>{props.title}</h2>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              {props.head.map((h) => (
                <th scope="col" key={h}>
                  {h}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {props.rows.length === 0 && (
              <tr>
                <td colSpan={props.head.length} className="muted">
                  {props.empty ?? 'None configured.'}
                </td>
              </tr>
            )}
            {props.rows.map((row, i) => (
              <tr key={i}>
                {row.map((cell, j) => (
                  <td key={j} className={j === row.length - 1 ? 'wrap' : undefined}>
                    {cell}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
