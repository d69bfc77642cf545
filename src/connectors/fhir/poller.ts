import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { Cron } from 'croner';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { classify, type CarelaneError } from '../../contracts/errors.ts';
import type { InboundMessage, InboundSink } from '../../contracts/inbound.ts';
import { newCorrelationId } from '../../observability/correlation.ts';
import type { Metrics } from '../../observability/metrics.ts';
import type { FhirClient, SearchPage } from './client.ts';
import { readResourceValue, resourceVersionKey } from './inbound-resource.ts';
import { instantNanos, PollWindow, type PolledVersion } from './poll-cursor.ts';
import type { FhirPollSettings } from './poll-settings.ts';
import { claimCursor, releaseCursor, renewLease, saveCursor, type PollLease } from './poll-store.ts';
import type { R4Definitions } from './r4-definitions.ts';

/**
 * Polling for EHRs without subscriptions (docs/ehr.md "Polling"): per resource type, a search
 * `_lastUpdated=ge<cursor>&_sort=_lastUpdated&_count=<pageSize>` whose pages (`Bundle.link next`, search.html
 * "Paging") are stored one page at a time as inbound messages, exactly as the FHIR listener stores a webhook
 * (source `fhir:<id>`, type `FHIR_<Type>`, version key as external id), so routes and flows see no difference.
 * The cursor (poll-cursor.ts) is saved after a page's messages are committed, never before: a crash re-reads.
 * Before each page the engine's backpressure is asked; a full lane ends the run where it is, to go on next time.
 */

const FHIR_JSON = 'application/fhir+json';

export interface FhirPollerOptions {
  /** the fhir.servers name (logs and errors) */
  server: string;
  /** the messages' source, `fhir:<id>` */
  source: string;
  client: FhirClient;
  pool: pg.Pool;
  sink: InboundSink;
  settings: FhirPollSettings;
  /** true when the lane this message type is routed to is above its backlog limit (engine.lanes.*.maxBacklog) */
  backlogFull?: (messageType: string) => Promise<boolean>;
  definitions?: R4Definitions;
  /** names this poller's leases; default a random id per poller */
  holder?: string;
  /** how long a claimed cursor stays ours without a page saved; default 120 s */
  leaseSeconds?: number;
  /** our clock, used only when the server's answer has no Date header */
  now?: () => Date;
  /** poll counts and durations, labelled by `server` and resource type (docs/operations.md "Metrics") */
  metrics?: Pick<Metrics, 'fhirPolls' | 'fhirPollResourcesReceived' | 'fhirPollDuration'>;
}

export type PollStop = 'backpressure' | 'lease_busy' | 'lease_lost';

export interface PollRun {
  resourceType: string;
  pages: number;
  /** new messages stored (accepted or rejected) */
  stored: number;
  /** of those, refused as invalid R4 (stored as rejected, with the path) */
  rejected: number;
  /** read again and recognised: by the cursor's seen versions, or by the store as a duplicate */
  alreadyStored: number;
  /** whether the server sorted by _lastUpdated as asked (its self link says so) */
  sorted: boolean | undefined;
  /** the cursor after the run */
  cursor: string | undefined;
  /** the run ended before the last page, and why */
  stopped?: PollStop;
  error?: CarelaneError;
}

/** Polls one resource type once: all pages, or until backpressure. Throws what the search or the store threw. */
export async function pollResourceType(options: FhirPollerOptions, resourceType: string, signal?: AbortSignal): Promise<PollRun> {
  const started = performance.now();
  const labels = { server: options.server, resource_type: resourceType };
  const observe = (outcome: 'ok' | 'error') => {
    options.metrics?.fhirPolls.inc({ ...labels, outcome });
    options.metrics?.fhirPollDuration.observe(labels, (performance.now() - started) / 1000);
  };
  let run: PollRun;
  try {
    run = await pollOnce(options, resourceType, signal);
  } catch (error) {
    // Stopping Carelane aborts the search: that is no failure of the server's.
    if (!signal?.aborted) observe('error');
    throw error;
  }
  // A cursor leased by another process was not searched here: that process counts its poll.
  if (run.stopped !== 'lease_busy') observe('ok');
  return run;
}

async function pollOnce(options: FhirPollerOptions, resourceType: string, signal?: AbortSignal): Promise<PollRun> {
  const { settings, pool, source } = options;
  const lease: PollLease = { source, resourceType, holder: options.holder ?? holderId(), seconds: options.leaseSeconds ?? 120 };
  const messageType = `FHIR_${resourceType}`;
  const run: PollRun = { resourceType, pages: 0, stored: 0, rejected: 0, alreadyStored: 0, sorted: undefined, cursor: undefined };
  const start = await claimCursor(pool, lease);
  if (!start) return { ...run, stopped: 'lease_busy' };
  run.cursor = start.lastUpdated;
  try {
    if (await options.backlogFull?.(messageType)) return { ...run, stopped: 'backpressure' };
    const params = searchParameters(settings, resourceType, start.lastUpdated);
    let window: PollWindow | undefined;
    for await (const page of options.client.searchResponses(resourceType, params, signal)) {
      run.pages++;
      if (!window) {
        run.sorted = settings.sort && selfLinkSays(page.bundle, '_sort', '_lastUpdated');
        const serverNow = BigInt((page.serverDate ?? options.now?.() ?? new Date()).getTime()) * 1_000_000n;
        window = new PollWindow(start, { sorted: run.sorted, settledBefore: serverNow - BigInt(settings.settleSeconds) * 1_000_000_000n });
      }
      await storePage(options, window, page, resourceType, run);
      if (window.movesMidRun) {
        const cursor = window.checkpoint(false);
        if (!(await saveCursor(pool, lease, cursor, false))) return { ...run, stopped: 'lease_lost' };
        run.cursor = cursor.lastUpdated;
      } else if (!(await renewLease(pool, lease))) {
        // Unsorted: nothing to save before the last page, but the lease must outlive a long search.
        return { ...run, stopped: 'lease_lost' };
      }
      // Asked between pages, so a full lane costs no page read for nothing; the next run starts here.
      if (page.bundle.link?.some((l) => l.relation === 'next') && (await options.backlogFull?.(messageType))) {
        if (!window.movesMidRun && !(await saveCursor(pool, lease, window.checkpoint(false), false))) return { ...run, stopped: 'lease_lost' };
        return { ...run, stopped: 'backpressure' };
      }
    }
    if (window) {
      const cursor = window.checkpoint(true);
      if (!(await saveCursor(pool, lease, cursor, true))) return { ...run, stopped: 'lease_lost' };
      run.cursor = cursor.lastUpdated;
    }
    return run;
  } finally {
    await releaseCursor(pool, lease).catch(() => {
      // The lease runs out by itself.
    });
  }
}

/** Polls every configured type in turn; a failure on one is reported in its run and does not stop the others. */
export async function pollServer(options: FhirPollerOptions, signal?: AbortSignal): Promise<PollRun[]> {
  const runs: PollRun[] = [];
  for (const resourceType of options.settings.resourceTypes) {
    if (signal?.aborted) break;
    try {
      runs.push(await pollResourceType(options, resourceType, signal));
    } catch (error) {
      runs.push({ resourceType, pages: 0, stored: 0, rejected: 0, alreadyStored: 0, sorted: undefined, cursor: undefined, error: classify(error) });
    }
  }
  return runs;
}

export interface FhirPoller {
  /** runs a poll now (or waits for the one in progress) and resolves with its runs */
  pollNow(): Promise<PollRun[]>;
  /** no further polls; the one in progress is aborted and awaited */
  stop(): Promise<void>;
}

/**
 * Polls on the configured schedule: every intervalSeconds (the first at once) or on the cron pattern; never
 * two polls of one server at once in this process (a slow one makes the next tick wait, not overlap).
 */
export function startFhirPoller(options: FhirPollerOptions & { onRun?: (runs: PollRun[]) => void }): FhirPoller {
  const holder = options.holder ?? holderId();
  const abort = new AbortController();
  let running: Promise<PollRun[]> | undefined;
  let stopped = false;
  const tick = (): Promise<PollRun[]> => {
    if (stopped) return Promise.resolve([]);
    running ??= pollServer({ ...options, holder }, abort.signal)
      .then((runs) => {
        if (!stopped) options.onRun?.(runs);
        return runs;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const { cron, intervalSeconds } = options.settings;
  let timer: NodeJS.Timeout | undefined;
  let schedule: Cron | undefined;
  if (cron !== undefined) {
    schedule = new Cron(cron, { protect: true, unref: true }, () => void tick());
  } else {
    timer = setInterval(() => void tick(), (intervalSeconds ?? 60) * 1000);
    timer.unref();
    void tick();
  }
  return {
    pollNow: () => (running ? running.then(() => tick()) : tick()),
    async stop() {
      stopped = true;
      clearInterval(timer);
      schedule?.stop();
      abort.abort();
      await running?.catch(() => {});
    },
  };
}

function holderId(): string {
  return `fhir-poller:${randomUUID()}`;
}

function searchParameters(settings: FhirPollSettings, resourceType: string, cursor: string | undefined): URLSearchParams {
  const params = new URLSearchParams(settings.filters?.[resourceType] ?? '');
  const from = cursor ?? settings.since;
  if (from !== undefined) params.set('_lastUpdated', `ge${from}`);
  if (settings.sort) params.set('_sort', '_lastUpdated');
  params.set('_count', String(settings.pageSize));
  return params;
}

/**
 * Whether the search the server performed used `name=value`: search.html "Self Link": servers SHALL return
 * the parameters actually used in the self link, the sort it performed included ("_sort").
 */
function selfLinkSays(bundle: Bundle, name: string, value: string): boolean {
  const self = bundle.link?.find((l) => l.relation === 'self')?.url;
  if (!self) return false;
  try {
    return new URL(self, 'http://self.invalid/').searchParams.getAll(name).some((v) => v.split(',')[0] === value);
  } catch {
    return false;
  }
}

/** Stores the page's new versions (all at once: the store writes them in one commit) and records them. */
async function storePage(options: FhirPollerOptions, window: PollWindow, page: SearchPage, resourceType: string, run: PollRun): Promise<void> {
  const fresh: Array<{ resource: Resource; version: PolledVersion | undefined }> = [];
  let matches = 0;
  for (const entry of page.bundle.entry ?? []) {
    // search.html "Matches, Inclusions, and Outcomes": _include targets and OperationOutcomes are not matches.
    const mode = entry.search?.mode;
    if (!entry.resource || (mode !== undefined && mode !== 'match')) continue;
    matches++;
    const resource = entry.resource;
    const lastUpdated = resource.meta?.lastUpdated;
    const key = resourceVersionKey(resource, { lastUpdatedFallback: true });
    // search.html "Self Link": a server may ignore a parameter; the client filters what it did not ask for.
    if (lastUpdated !== undefined && window.isBehind(lastUpdated)) {
      run.alreadyStored++;
      continue;
    }
    if (key !== undefined && window.isSeen(key)) {
      run.alreadyStored++;
      continue;
    }
    const version = key !== undefined && lastUpdated !== undefined && instantNanos(lastUpdated) !== undefined ? { key, lastUpdated } : undefined;
    fresh.push({ resource, version });
  }
  // Counted as the page arrives, so a poll that fails on a later page still counts what it received.
  options.metrics?.fhirPollResourcesReceived.inc({ server: options.server, resource_type: resourceType }, matches);
  const receipts = await Promise.all(fresh.map(({ resource }) => options.sink.accept(inboundMessage(options, resource, resourceType))));
  for (const receipt of receipts) {
    if (receipt.duplicate) run.alreadyStored++;
    else {
      run.stored++;
      if (receipt.status === 'rejected') run.rejected++;
    }
  }
  window.stored(fresh.flatMap((f) => (f.version ? [f.version] : [])));
}

function inboundMessage(options: FhirPollerOptions, resource: Resource, resourceType: string): InboundMessage {
  const payload = Buffer.from(JSON.stringify(resource), 'utf8');
  const read = readResourceValue(resource, resourceType, options.definitions, { lastUpdatedFallback: true });
  const base = { source: options.source, payload, contentType: FHIR_JSON, correlationId: newCorrelationId() };
  if ('refusal' in read) return { ...base, messageType: read.refusal.messageType, rejectedReason: read.refusal.reason };
  return { ...base, ...read.message };
}
