import type { Bundle, Resource, SupplyRequest } from '@medplum/fhirtypes';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FhirClient, pollResourceType, readCursors, type FhirPollerOptions, type FhirPollSettings } from '../src/connectors/fhir/index.ts';
import { claimCursor } from '../src/connectors/fhir/poll-store.ts';
import { Ingest } from '../src/engine/ingest.ts';
import { countPendingOnLane } from '../src/store/messages.ts';
import { startEhrSimulator, type EhrSimulator } from '../simulators/ehr/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

// FHIR polling (src/connectors/fhir/poller.ts) against the EHR simulator's search (paging by Bundle.link next,
// _lastUpdated, _sort) over real sockets, storing into a real PostgreSQL through the engine's Ingest.

let db: TestDatabase;
let ingest: Ingest;
const simulators: EhrSimulator[] = [];
let sources = 0;

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 6);
  ingest = new Ingest(db.pool, [
    { type: 'FHIR_SupplyRequest', source: 'fhir:poll-busy', lane: 'poll-busy', flow: 'noop' },
    { lane: 'standard', flow: 'noop' },
  ]);
});
afterEach(async () => {
  await Promise.all(simulators.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await ingest?.flush();
  await db?.drop();
});

/** An EHR with no scenario data, whose clock runs `behindMs` behind ours (stamps settle at once). */
async function emptyEhr(behindMs = 60_000): Promise<EhrSimulator> {
  const ehr = await startEhrSimulator({ scenario: { patients: [], locations: [], demand: [] }, now: () => new Date(Date.now() - behindMs) });
  simulators.push(ehr);
  return ehr;
}

const supply = (n: number, overrides: Partial<SupplyRequest> = {}): SupplyRequest => ({
  resourceType: 'SupplyRequest',
  id: `sup-${n}`,
  status: 'active',
  itemCodeableConcept: { coding: [{ system: 'http://ehr.carelane-simulator.invalid/item', code: `ITEM-${n}` }] },
  quantity: { value: n },
  ...overrides,
});

interface Exchange {
  url: URL;
}

/** fetch that records every request and can fail one (as a dropped connection: the poll process "crashes"). */
function recordingFetch(log: Exchange[], options: { failRequest?: number; rewrite?: (bundle: Bundle) => Bundle } = {}): typeof fetch {
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    log.push({ url });
    if (options.failRequest === log.length) throw new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } });
    const response = await fetch(input, init);
    if (!options.rewrite) return response;
    const bundle = options.rewrite((await response.json()) as Bundle);
    return new Response(JSON.stringify(bundle), { status: response.status, headers: response.headers });
  };
}

function poller(ehr: EhrSimulator, overrides: { settings?: Partial<FhirPollSettings>; source?: string; fetch?: typeof fetch; backlogFull?: FhirPollerOptions['backlogFull'] } = {}): FhirPollerOptions {
  return {
    server: 'ehr',
    source: overrides.source ?? `fhir:poll-${++sources}`,
    client: new FhirClient({ baseUrl: ehr.fhirBaseUrl, timeoutMs: 5000, ...(overrides.fetch ? { fetch: overrides.fetch } : {}) }),
    pool: db.pool,
    sink: ingest,
    settings: { resourceTypes: ['SupplyRequest'], pageSize: 2, sort: true, settleSeconds: 5, ...overrides.settings },
    ...(overrides.backlogFull ? { backlogFull: overrides.backlogFull } : {}),
  };
}

/** The messages of a source, by external id (a page's messages are stored together, in no particular order). */
async function stored(source: string) {
  const { rows } = await db.pool.query<{ external_id: string | null; status: string; status_reason: string | null; duplicate_count: number; message_type: string; ordering_key: string | null }>(
    `select m.external_id, m.status, m.status_reason, m.duplicate_count, m.message_type,
            (select d.ordering_key from carelane.deliveries d where d.message_id = m.id limit 1) as ordering_key
       from carelane.messages m where m.source = $1 order by m.external_id, m.id`,
    [source],
  );
  return rows;
}

describe('FHIR polling against the EHR simulator', () => {
  it('stores what existed before the first poll and what changed after it, each version once', async () => {
    const ehr = await emptyEhr();
    for (let n = 1; n <= 5; n++) ehr.store.put(supply(n));
    const log: Exchange[] = [];
    const options = poller(ehr, { fetch: recordingFetch(log) });

    const first = await pollResourceType(options, 'SupplyRequest');
    expect(first).toMatchObject({ pages: 3, stored: 5, rejected: 0, sorted: true });
    expect(first.cursor).toBe(ehr.store.read('SupplyRequest', 'sup-5')!.meta!.lastUpdated);
    // the first search asks for everything, sorted, in pages; the next pages are the server's own links
    expect(log[0]!.url.searchParams.get('_lastUpdated')).toBeNull();
    expect(log[0]!.url.searchParams.get('_sort')).toBe('_lastUpdated');
    expect(log[0]!.url.searchParams.get('_count')).toBe('2');
    expect(log.slice(1).every((e) => e.url.searchParams.has('_getpages'))).toBe(true);

    ehr.store.put({ ...ehr.store.read('SupplyRequest', 'sup-2')!, status: 'completed' } as Resource);
    ehr.store.put(supply(6));
    ehr.store.put(supply(7));
    const requestsBefore = log.length;
    const second = await pollResourceType(options, 'SupplyRequest');
    expect(second).toMatchObject({ stored: 3, alreadyStored: 1 }); // sup-5 at the cursor's instant is read again, and recognised
    expect(log[requestsBefore]!.url.searchParams.get('_lastUpdated')).toBe(`ge${first.cursor}`);

    const third = await pollResourceType(options, 'SupplyRequest');
    expect(third).toMatchObject({ stored: 0, alreadyStored: 1 });

    const rows = await stored(options.source);
    expect(rows.map((r) => r.external_id)).toEqual([
      'SupplyRequest/sup-1/_history/1',
      'SupplyRequest/sup-2/_history/1',
      'SupplyRequest/sup-2/_history/2',
      ...[3, 4, 5, 6].map((n) => `SupplyRequest/sup-${n}/_history/1`),
      'SupplyRequest/sup-7/_history/1',
    ]);
    // nothing was even offered to the store twice, and each is routed as a webhook's copy would be
    expect(rows.every((r) => r.duplicate_count === 0 && r.status === 'received' && r.message_type === 'FHIR_SupplyRequest')).toBe(true);
    expect(rows[0]!.ordering_key).toBe('SupplyRequest/sup-1');
  });

  it('resumes from the stored cursor after a crash mid-search: the pages stored are not read again', async () => {
    const ehr = await emptyEhr();
    for (let n = 1; n <= 6; n++) ehr.store.put(supply(n));
    const crashLog: Exchange[] = [];
    const source = `fhir:poll-crash`;
    // the second page's request dies: the first page is stored and its cursor saved
    await expect(pollResourceType(poller(ehr, { source, fetch: recordingFetch(crashLog, { failRequest: 2 }) }), 'SupplyRequest')).rejects.toMatchObject({ failureClass: 'transient' });
    expect((await stored(source)).map((r) => r.external_id)).toEqual(['SupplyRequest/sup-1/_history/1', 'SupplyRequest/sup-2/_history/1']);
    const [saved] = await readCursors(db.pool, source);
    expect(saved).toMatchObject({ resourceType: 'SupplyRequest', lastUpdated: ehr.store.read('SupplyRequest', 'sup-2')!.meta!.lastUpdated, lastRunAt: null });

    // a new process: new client, new lease holder; the crashed one's lease was given back
    const log: Exchange[] = [];
    const resumed = await pollResourceType(poller(ehr, { source, fetch: recordingFetch(log) }), 'SupplyRequest');
    expect(log[0]!.url.searchParams.get('_lastUpdated')).toBe(`ge${saved!.lastUpdated}`);
    expect(resumed).toMatchObject({ stored: 4, alreadyStored: 1 });
    const rows = await stored(source);
    expect(rows.map((r) => r.external_id)).toEqual([1, 2, 3, 4, 5, 6].map((n) => `SupplyRequest/sup-${n}/_history/1`));
    expect(rows.every((r) => r.duplicate_count === 0)).toBe(true);
    expect((await readCursors(db.pool, source))[0]).toMatchObject({ lastUpdated: ehr.store.read('SupplyRequest', 'sup-6')!.meta!.lastUpdated, lastRunAt: expect.any(Date) });
  });

  it('re-reads after a cursor save that never happened, and the store recognises every copy', async () => {
    const ehr = await emptyEhr();
    for (let n = 1; n <= 3; n++) ehr.store.put(supply(n));
    const options = poller(ehr);
    await pollResourceType(options, 'SupplyRequest');
    // as if the process died after committing the messages but before saving the cursor
    await db.pool.query(`update carelane.fhir_poll_cursors set last_updated = null, seen = '{}' where source = $1`, [options.source]);
    const again = await pollResourceType(options, 'SupplyRequest');
    expect(again).toMatchObject({ stored: 0, alreadyStored: 3 });
    const rows = await stored(options.source);
    expect(rows).toHaveLength(3);
    expect(rows.map((r) => r.duplicate_count)).toEqual([1, 1, 1]);
  });

  it('does not miss a resource stamped in the same second as the cursor on a server that stamps whole seconds', async () => {
    // Every write within the same second of the EHR's clock, shown as whole seconds (as many servers write meta.lastUpdated).
    const second = new Date(Math.floor((Date.now() - 60_000) / 1000) * 1000);
    const ehr = await startEhrSimulator({ scenario: { patients: [], locations: [], demand: [] }, now: () => second });
    simulators.push(ehr);
    const wholeSeconds = (bundle: Bundle): Bundle => ({
      ...bundle,
      entry: bundle.entry?.map((e) => ({ ...e, resource: { ...e.resource!, meta: { ...e.resource!.meta, lastUpdated: e.resource!.meta!.lastUpdated!.replace(/\.\d+Z$/, 'Z') } } })),
    });
    const options = poller(ehr, { fetch: recordingFetch([], { rewrite: wholeSeconds }) });
    ehr.store.put(supply(1));
    ehr.store.put(supply(2));
    const first = await pollResourceType(options, 'SupplyRequest');
    expect(first).toMatchObject({ stored: 2, cursor: second.toISOString().replace('.000Z', 'Z') });
    // committed after the poll, stamped with the cursor's second: `gt` would skip it, `ge` returns it
    ehr.store.put(supply(3));
    const next = await pollResourceType(options, 'SupplyRequest');
    expect(next).toMatchObject({ stored: 1, alreadyStored: 2 });
    expect((await stored(options.source)).map((r) => [r.external_id, r.duplicate_count])).toEqual([
      ['SupplyRequest/sup-1/_history/1', 0],
      ['SupplyRequest/sup-2/_history/1', 0],
      ['SupplyRequest/sup-3/_history/1', 0],
    ]);
  });

  it('keeps the cursor short of changes younger than the settle time, and does not store them twice', async () => {
    const ehr = await emptyEhr(0); // the EHR's clock is ours: what it stamps now is not settled yet
    ehr.store.put(supply(1));
    const options = poller(ehr, { settings: { settleSeconds: 30 } });
    const first = await pollResourceType(options, 'SupplyRequest');
    expect(first).toMatchObject({ stored: 1, cursor: undefined });
    expect((await readCursors(db.pool, options.source))[0]).toMatchObject({ lastUpdated: null, seen: 1 });
    const second = await pollResourceType(options, 'SupplyRequest');
    expect(second).toMatchObject({ stored: 0, alreadyStored: 1 });
    expect((await stored(options.source)).map((r) => r.duplicate_count)).toEqual([0]);
  });

  it('moves the cursor only after the last page when the server does not sort', async () => {
    const ehr = await emptyEhr();
    for (let n = 1; n <= 5; n++) ehr.store.put(supply(n));
    const source = 'fhir:poll-unsorted';
    const settings = { sort: false };
    await expect(pollResourceType(poller(ehr, { source, settings, fetch: recordingFetch([], { failRequest: 3 }) }), 'SupplyRequest')).rejects.toMatchObject({ failureClass: 'transient' });
    expect((await readCursors(db.pool, source))[0]).toMatchObject({ lastUpdated: null });
    const log: Exchange[] = [];
    const rerun = await pollResourceType(poller(ehr, { source, settings, fetch: recordingFetch(log) }), 'SupplyRequest');
    expect(log[0]!.url.searchParams.has('_sort')).toBe(false);
    // the four stored before the crash come back; the store knows them
    expect(rerun).toMatchObject({ sorted: false, stored: 1, alreadyStored: 4, cursor: ehr.store.read('SupplyRequest', 'sup-5')!.meta!.lastUpdated });
    expect((await stored(source)).map((r) => r.external_id)).toHaveLength(5);
  });

  it('stores an invalid resource as rejected, naming the element, once', async () => {
    const ehr = await emptyEhr();
    const { quantity: _none, ...withoutQuantity } = supply(1);
    ehr.store.put(withoutQuantity as Resource);
    ehr.store.put(supply(2));
    const options = poller(ehr);
    expect(await pollResourceType(options, 'SupplyRequest')).toMatchObject({ stored: 2, rejected: 1 });
    expect(await pollResourceType(options, 'SupplyRequest')).toMatchObject({ stored: 0 });
    // a rejected input keeps no external id (it is evidence, deduplicated by its content)
    expect((await stored(options.source)).map((r) => [r.external_id, r.status, r.status_reason?.split(':')[0], r.duplicate_count])).toEqual([
      ['SupplyRequest/sup-2/_history/1', 'received', undefined, 0],
      [null, 'rejected', 'fhir_invalid_resource', 0],
    ]);
    expect((await stored(options.source))[1]!.status_reason).toContain('SupplyRequest.quantity');
  });

  it('stops between pages while the lane is above its backlog limit, and goes on from there once it drains', async () => {
    const ehr = await emptyEhr();
    for (let n = 1; n <= 7; n++) ehr.store.put(supply(n));
    const source = 'fhir:poll-busy'; // routed to lane poll-busy, whose deliveries nothing works off here
    const limit = 3;
    const backlogFull = async () => (await countPendingOnLane(db.pool, 'poll-busy')) >= limit;
    const log: Exchange[] = [];
    const options = poller(ehr, { source, backlogFull, fetch: recordingFetch(log) });
    const paused = await pollResourceType(options, 'SupplyRequest');
    expect(paused).toMatchObject({ stopped: 'backpressure', pages: 2, stored: 4 });
    expect(log).toHaveLength(2); // the third page was not even read
    expect(await pollResourceType(options, 'SupplyRequest')).toMatchObject({ stopped: 'backpressure', pages: 0, stored: 0 });

    await db.pool.query(`update carelane.deliveries set status = 'done', completed_at = now() where lane = 'poll-busy' and status = 'pending'`);
    // from the saved cursor (sup-4's stamp): sup-4 is recognised, the three after it are stored
    const resumed = await pollResourceType(options, 'SupplyRequest');
    expect(resumed).toMatchObject({ stored: 3, alreadyStored: 1 });
    expect(resumed.stopped).toBeUndefined();
    expect(await pollResourceType(options, 'SupplyRequest')).toMatchObject({ stored: 0 });
    const rows = await stored(source);
    expect(rows.map((r) => r.external_id)).toEqual([1, 2, 3, 4, 5, 6, 7].map((n) => `SupplyRequest/sup-${n}/_history/1`));
    expect(rows.every((r) => r.duplicate_count === 0)).toBe(true);
  });

  it('stops without moving the cursor once another process has taken its lease over', async () => {
    const ehr = await emptyEhr();
    for (let n = 1; n <= 4; n++) ehr.store.put(supply(n));
    const source = 'fhir:poll-taken';
    const log: Exchange[] = [];
    const inner = recordingFetch(log);
    // after the first page is read, the lease passes to another holder (as when ours ran out while we stalled)
    const stalling: typeof fetch = async (input, init) => {
      const response = await inner(input, init);
      if (log.length === 1) await db.pool.query(`update carelane.fhir_poll_cursors set lease_holder = 'other-node' where source = $1`, [source]);
      return response;
    };
    expect(await pollResourceType(poller(ehr, { source, fetch: stalling }), 'SupplyRequest')).toMatchObject({ stopped: 'lease_lost', pages: 1 });
    expect((await readCursors(db.pool, source))[0]).toMatchObject({ lastUpdated: null });
    const { rows } = await db.pool.query<{ lease_holder: string }>('select lease_holder from carelane.fhir_poll_cursors where source = $1', [source]);
    expect(rows[0]!.lease_holder).toBe('other-node');
  });

  it('leaves a cursor another process holds alone', async () => {
    const ehr = await emptyEhr();
    ehr.store.put(supply(1));
    const options = poller(ehr);
    expect(await claimCursor(db.pool, { source: options.source, resourceType: 'SupplyRequest', holder: 'other-node', seconds: 60 })).toBeDefined();
    expect(await pollResourceType(options, 'SupplyRequest')).toMatchObject({ stopped: 'lease_busy', pages: 0 });
    expect(await stored(options.source)).toEqual([]);
  });
});
