import type pg from 'pg';
import { permanentError } from '../../contracts/errors.ts';
import type { InboundSink } from '../../contracts/inbound.ts';
import type { Logger } from '../../observability/logger.ts';
import type { FhirClientFor } from './handlers.ts';
import { instantNanos } from './poll-cursor.ts';
import { startFhirPoller, type FhirPoller, type FhirPollerOptions, type PollRun } from './poller.ts';
import { pollSettingsProblems, type FhirPollSettings } from './poll-settings.ts';
import { savedCursors } from './poll-store.ts';

/**
 * One poller per `fhir.servers` entry that has `poll` (docs/ehr.md "Polling"), sharing the server's client
 * (and so its SMART token) with the write-back handlers. Settings are checked before anything starts: a bad
 * schedule stops start-up naming its key.
 */

export interface FhirPollingOptions {
  servers: Record<string, { poll?: FhirPollSettings | undefined }>;
  clientFor: FhirClientFor;
  pool: pg.Pool;
  sink: InboundSink;
  log: Logger;
  /** true when the lane `source`/`messageType` is routed to is above its backlog limit */
  backlogFull?: (source: string, messageType: string) => Promise<boolean>;
  /** this process (lease holders are named after it) */
  node: string;
  metrics?: FhirPollerOptions['metrics'];
}

export interface FhirPolling {
  pollers: ReadonlyMap<string, FhirPoller>;
  stop(): Promise<void>;
}

export function startFhirPolling(options: FhirPollingOptions): FhirPolling {
  const configured = Object.entries(options.servers).flatMap(([name, server]) => (server.poll ? [[name, server.poll] as const] : []));
  for (const [name, settings] of configured) {
    const problem = pollSettingsProblems(`fhir.servers.${name}.poll`, settings, name)[0];
    if (problem) throw permanentError(problem, { code: 'config_invalid', where: { field: problem.slice(0, problem.indexOf(':')) } });
  }
  const pollers = new Map<string, FhirPoller>();
  for (const [name, settings] of configured) {
    const source = pollSource(name, settings);
    const log = options.log.child({ component: 'fhir-poller', server: name, source });
    const backlogFull = options.backlogFull;
    pollers.set(
      name,
      startFhirPoller({
        server: name,
        source,
        client: options.clientFor(name),
        pool: options.pool,
        sink: options.sink,
        settings,
        holder: `${options.node}:fhir-poll:${name}`,
        ...(backlogFull ? { backlogFull: (messageType: string) => backlogFull(source, messageType) } : {}),
        ...(options.metrics ? { metrics: options.metrics } : {}),
        onRun: (runs) => report(log, runs),
      }),
    );
    log.info({ resourceTypes: settings.resourceTypes, schedule: settings.cron ?? `every ${settings.intervalSeconds ?? 60} s` }, 'FHIR polling started');
  }
  return {
    pollers,
    stop: async () => {
      await Promise.all([...pollers.values()].map((poller) => poller.stop()));
    },
  };
}

/** The messages' source of a polled server: `fhir:<poll.source>`, else `fhir:<server name>`. */
function pollSource(name: string, settings: FhirPollSettings): string {
  return `fhir:${settings.source ?? name}`;
}

/**
 * How far each configured (server, resource type) cursor is behind `now`, in seconds, read from the store so
 * every process reports the same, and a stalled poller's lag keeps growing. On a quiet server the cursor stays
 * at the last change, so the lag grows there too; read it beside carelane_fhir_polls_total.
 */
export async function pollCursorLags(pool: pg.Pool, servers: FhirPollingOptions['servers'], now = Date.now()): Promise<Array<{ server: string; resourceType: string; lagSeconds: number }>> {
  const polled = Object.entries(servers).flatMap(([name, server]) => (server.poll ? [{ name, source: pollSource(name, server.poll), types: server.poll.resourceTypes }] : []));
  if (polled.length === 0) return [];
  const cursors = await savedCursors(pool, polled.map((p) => p.source));
  return polled.flatMap(({ name, source, types }) =>
    cursors.flatMap((cursor) => {
      const nanos = cursor.source === source && types.includes(cursor.resourceType) ? instantNanos(cursor.lastUpdated) : undefined;
      return nanos === undefined ? [] : [{ server: name, resourceType: cursor.resourceType, lagSeconds: Number(BigInt(now) * 1_000_000n - nanos) / 1e9 }];
    }),
  );
}

/** Counts, codes and cursors only: resources may carry PHI, so neither they nor the server's diagnostics are logged. */
function report(log: Logger, runs: PollRun[]): void {
  for (const run of runs) {
    const facts = { resourceType: run.resourceType, pages: run.pages, stored: run.stored, rejected: run.rejected, alreadyStored: run.alreadyStored, cursor: run.cursor };
    if (run.error) log.warn({ ...facts, code: run.error.code, class: run.error.failureClass }, 'FHIR poll failed; the next poll starts from the saved cursor');
    else if (run.stopped === 'backpressure') log.info(facts, 'FHIR poll paused: the lane is above its backlog limit; the next poll goes on from here');
    else if (run.stopped) log.debug({ ...facts, stopped: run.stopped }, 'FHIR poll left to another process');
    else if (run.sorted === false && run.pages > 0) log.debug(facts, 'FHIR poll: the server did not sort by _lastUpdated; the cursor moves only after the last page');
    else if (run.stored > 0 || run.rejected > 0) log.info(facts, 'FHIR poll stored changes');
  }
}
