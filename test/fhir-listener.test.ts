import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFhirListener, type FhirListener } from '../src/connectors/fhir/index.ts';
import { Ingest } from '../src/engine/ingest.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

// The FHIR inbound listener on real sockets, storing into a real PostgreSQL before it answers.

const SUBSCRIPTION = 'https://ehr.example.org/fhir/Subscription/supply';
const SECRET = 'Bearer s3cret-from-subscription-channel-header';

const supplyRequest = (overrides: object = {}) => ({
  resourceType: 'SupplyRequest',
  id: 'sr-1',
  meta: { versionId: '3', lastUpdated: '2025-03-01T10:00:00Z' },
  status: 'active',
  itemCodeableConcept: { text: 'sterile gloves' },
  quantity: { value: 10 },
  ...overrides,
});

/** A Subscriptions Backport R4 notification (Bundle history + backport-subscription-status-r4 Parameters). */
function notification(type: string, count: number, resources: object[] = []) {
  return {
    resourceType: 'Bundle',
    type: 'history',
    entry: [
      {
        fullUrl: 'urn:uuid:9e41ff6d-5be6-4e6a-8b85-abd4e7f58400',
        resource: {
          resourceType: 'Parameters',
          parameter: [
            { name: 'subscription', valueReference: { reference: SUBSCRIPTION } },
            { name: 'status', valueCode: 'active' },
            { name: 'type', valueCode: type },
            { name: 'events-since-subscription-start', valueString: String(count) },
            ...(type === 'event-notification'
              ? [{ name: 'notification-event', part: [{ name: 'event-number', valueString: String(count) }, { name: 'focus', valueReference: { reference: 'SupplyRequest/sr-1' } }] }]
              : []),
          ],
        },
        request: { method: 'GET', url: `${SUBSCRIPTION}/$status` },
        response: { status: '200' },
      },
      ...resources.map((resource) => ({ fullUrl: 'https://ehr.example.org/fhir/SupplyRequest/sr-1', resource, request: { method: 'PUT', url: 'SupplyRequest/sr-1' }, response: { status: '200' } })),
    ],
  };
}

let db: TestDatabase;
let ingest: Ingest;
let open: FhirListener;
let guarded: FhirListener;
let scoped: FhirListener;

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 6);
  ingest = new Ingest(db.pool, [{ lane: 'standard', flow: 'noop' }]);
  open = await startFhirListener({ host: '127.0.0.1', port: 0, sink: ingest, authentication: 'none', maxBodyBytes: 64 * 1024 });
  guarded = await startFhirListener({ host: '127.0.0.1', port: 0, sink: ingest, authentication: { header: 'Authorization', values: ['Bearer old', SECRET] } });
  // Routes as a deployment writes them: events and demand resources, nothing for liveness notifications.
  const routed = new Ingest(db.pool, [
    { type: 'FHIR_notification_event-notification', lane: 'standard', flow: 'noop' },
    { type: 'FHIR_SupplyRequest', lane: 'standard', flow: 'noop' },
  ]);
  scoped = await startFhirListener({ host: '127.0.0.1', port: 0, sink: routed, authentication: 'none' });
});
afterAll(async () => {
  await Promise.all([open, guarded, scoped].map((l) => l?.close()));
  await ingest?.flush();
  await db?.drop();
});

async function post(listener: FhirListener, path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${listener.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/fhir+json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as { resourceType: string; issue: Array<{ code: string; expression?: string[]; diagnostics: string }> } };
}

async function rows(source: string) {
  const { rows } = await db.pool.query<{ id: number; message_type: string; external_id: string | null; status: string; status_reason: string | null; duplicate_count: number; deliveries: number }>(
    `select m.id, m.message_type, m.external_id, m.status, m.status_reason, m.duplicate_count,
            (select count(*)::int from carelane.deliveries d where d.message_id = m.id) as deliveries
       from carelane.messages m where m.source = $1 order by m.id`,
    [source],
  );
  return rows;
}

describe('FHIR listener: subscription notifications', () => {
  it('stores a handshake and answers 200', async () => {
    const response = await post(open, '/fhir/notify/ehr-a', notification('handshake', 0));
    expect(response.status).toBe(200);
    expect(response.body.issue[0]).toMatchObject({ code: 'informational' });
    expect(await rows('fhir:ehr-a')).toEqual([expect.objectContaining({ message_type: 'FHIR_notification_handshake', external_id: `${SUBSCRIPTION}#0`, status: 'received' })]);
  });

  it('stores an event-notification once: a redelivery is answered 200 as a duplicate', async () => {
    const event = notification('event-notification', 1, [supplyRequest()]);
    expect((await post(open, '/fhir/notify/ehr-b', event)).status).toBe(200);
    expect((await post(open, '/fhir/notify/ehr-b', event)).status).toBe(200);
    expect(await rows('fhir:ehr-b')).toEqual([
      expect.objectContaining({ message_type: 'FHIR_notification_event-notification', external_id: `${SUBSCRIPTION}#1`, duplicate_count: 1, deliveries: 1 }),
    ]);
  });

  it('keeps a heartbeat apart from the event it repeats the count of, and creates no work for it', async () => {
    expect((await post(scoped, '/fhir/notify/ehr-c', notification('event-notification', 2, [supplyRequest()]))).status).toBe(200);
    expect((await post(scoped, '/fhir/notify/ehr-c', notification('heartbeat', 2))).status).toBe(200);
    expect((await post(scoped, '/fhir/notify/ehr-c', notification('handshake', 0))).status).toBe(200);
    expect((await rows('fhir:ehr-c')).map((r) => [r.message_type, r.external_id, r.deliveries])).toEqual([
      ['FHIR_notification_event-notification', `${SUBSCRIPTION}#2`, 1],
      ['FHIR_notification_heartbeat', `${SUBSCRIPTION}#2`, 0],
      ['FHIR_notification_handshake', `${SUBSCRIPTION}#0`, 0],
    ]);
  });

  it('rejects a notification whose resource is invalid, naming the path inside the Bundle', async () => {
    const response = await post(open, '/fhir/notify/ehr-d', notification('event-notification', 3, [supplyRequest({ status: 'shipped' })]));
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'value', expression: ['Bundle.entry[1].resource.status'] }] });
    expect(await rows('fhir:ehr-d')).toEqual([expect.objectContaining({ status: 'rejected', status_reason: expect.stringContaining('Bundle.entry[1].resource.status'), deliveries: 0 })]);
  });

  it('rejects a Bundle that is not a notification, naming the element', async () => {
    const response = await post(open, '/fhir/notify/ehr-e', { resourceType: 'Bundle', type: 'searchset', entry: [] });
    expect(response.status).toBe(400);
    expect(response.body.issue[0]).toMatchObject({ code: 'invalid', expression: ['Bundle.type'] });
    expect(await rows('fhir:ehr-e')).toEqual([expect.objectContaining({ message_type: 'FHIR_notification', status: 'rejected' })]);
  });
});

describe('FHIR listener: plain webhooks', () => {
  it('stores a resource with id + versionId as its external id; a resend is a duplicate', async () => {
    expect((await post(open, '/fhir/ehr-f/SupplyRequest', supplyRequest())).status).toBe(200);
    expect((await post(open, '/fhir/ehr-f/SupplyRequest', supplyRequest())).status).toBe(200);
    expect((await post(open, '/fhir/ehr-f/SupplyRequest', supplyRequest({ meta: { versionId: '4' } }))).status).toBe(200);
    expect((await rows('fhir:ehr-f')).map((r) => [r.message_type, r.external_id, r.duplicate_count])).toEqual([
      ['FHIR_SupplyRequest', 'SupplyRequest/sr-1/_history/3', 1],
      ['FHIR_SupplyRequest', 'SupplyRequest/sr-1/_history/4', 0],
    ]);
  });

  it('answers invalid JSON with 400 and an OperationOutcome, after storing it as rejected', async () => {
    const response = await post(open, '/fhir/ehr-g/SupplyRequest', '{"resourceType": "SupplyRequest",');
    expect(response.status).toBe(400);
    expect(response.body.issue[0]).toMatchObject({ code: 'structure', diagnostics: expect.stringContaining('not JSON') });
    expect(await rows('fhir:ehr-g')).toEqual([expect.objectContaining({ message_type: 'FHIR_SupplyRequest', status: 'rejected', status_reason: expect.stringMatching(/^fhir_invalid_json/) })]);
  });

  it('answers an invalid resource with 400 naming the path of the missing element', async () => {
    const { quantity: _dropped, ...withoutQuantity } = supplyRequest();
    const response = await post(open, '/fhir/ehr-h/SupplyRequest', withoutQuantity);
    expect(response.status).toBe(400);
    expect(response.body.issue[0]).toMatchObject({ code: 'required', expression: ['SupplyRequest.quantity'] });
    const wrongType = await post(open, '/fhir/ehr-h/SupplyRequest', { resourceType: 'Patient', id: 'p1' });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.issue[0]).toMatchObject({ expression: ['resourceType'] });
    expect((await rows('fhir:ehr-h')).map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });

  it('stores an oversize body cut at the limit and answers 413', async () => {
    const response = await post(open, '/fhir/ehr-i/SupplyRequest', supplyRequest({ note: [{ text: 'x'.repeat(70 * 1024) }] }));
    expect(response.status).toBe(413);
    expect(await rows('fhir:ehr-i')).toEqual([expect.objectContaining({ status: 'rejected', status_reason: expect.stringMatching(/^fhir_oversize/) })]);
  });
});

describe('FHIR listener: authentication and outages', () => {
  it('refuses a missing or wrong shared secret with 401 without storing anything, and accepts the right one', async () => {
    expect((await post(guarded, '/fhir/ehr-j/SupplyRequest', supplyRequest())).status).toBe(401);
    expect((await post(guarded, '/fhir/ehr-j/SupplyRequest', supplyRequest(), { authorization: 'Bearer s3cret' })).status).toBe(401);
    expect(await rows('fhir:ehr-j')).toEqual([]);
    expect((await post(guarded, '/fhir/ehr-j/SupplyRequest', supplyRequest(), { authorization: SECRET })).status).toBe(200);
    expect(await rows('fhir:ehr-j')).toHaveLength(1);
  });

  it('answers 404 for unknown paths and 405 for other methods', async () => {
    expect((await post(open, '/fhir/ehr-k/not-a-type', supplyRequest())).status).toBe(404);
    expect((await fetch(`${open.url}/fhir/ehr-k/SupplyRequest`)).status).toBe(405);
  });

  it('never answers 2xx when the database is down: 503 with Retry-After', async () => {
    const downPool = new pg.Pool({ connectionString: 'postgres://carelane@127.0.0.1:1/none', connectionTimeoutMillis: 500 });
    const down = await startFhirListener({ host: '127.0.0.1', port: 0, sink: new Ingest(downPool, [{ lane: 'standard', flow: 'noop' }]), authentication: 'none' });
    try {
      const notify = await post(down, '/fhir/notify/ehr-l', notification('event-notification', 1, [supplyRequest()]));
      expect(notify.status).toBe(503);
      expect(notify.headers.get('retry-after')).toBe('30');
      expect(notify.body.issue[0]).toMatchObject({ code: 'transient' });
      // A bad input is not answered 400 either when its rejection could not be stored.
      expect((await post(down, '/fhir/ehr-l/SupplyRequest', 'not json')).status).toBe(503);
    } finally {
      await down.close();
      await downPool.end();
    }
  });
});
