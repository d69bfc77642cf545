import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../src/config/index.ts';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { fhirServers, startFhirPolling } from '../src/connectors/fhir/index.ts';
import { Ingest } from '../src/engine/ingest.ts';
import { startEhrSimulator, type EhrSimulator } from '../simulators/ehr/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { waitFor } from './support/engine-harness.ts';

// carelane.yaml `fhir.servers.<name>.poll` → a running poller (src/app.ts): the EHR simulator's resources come in
// as FHIR_<Type> messages of source fhir:<name>, are routed by the routes as a webhook's would be, and
// flow.demand reads them.

let db: TestDatabase;
let ehr: EhrSimulator;
let app: RunningCarelane;

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget());
  ehr = await startEhrSimulator({ now: () => new Date(Date.now() - 60_000) });
  const config = parseConfigText(
    `
server: { port: 0 }
mllp: { enabled: false }
logging: { level: silent }
engine: { pollIntervalMs: 100 }
fhir:
  servers:
    ehr-north:
      url: "${ehr.fhirBaseUrl}"
      poll: { resourceTypes: [SupplyRequest, Appointment], intervalSeconds: 1, pageSize: 1, filters: { SupplyRequest: "status=active" } }
routes:
  - { source: "fhir:ehr-north", type: FHIR_SupplyRequest, lane: standard, flow: demand }
  - { source: "fhir:ehr-north", type: FHIR_Appointment, lane: standard, flow: noop }
`,
    { DATABASE_URL: db.url, CARELANE_ADMIN_TOKEN: 'polling-wiring-admin-token' },
  );
  app = await startCarelane({ config, origin: 'test' }, { log: pino({ level: 'silent' }) });
});
afterAll(async () => {
  await app?.stop();
  await ehr?.close();
  await db?.drop();
});

async function messages() {
  const { rows } = await app.database.pool.query<{ id: number; message_type: string; external_id: string; duplicate_count: number }>(
    `select id, message_type, external_id, duplicate_count from carelane.messages where source = 'fhir:ehr-north' order by external_id`,
  );
  return rows;
}

describe('FHIR polling wired from carelane.yaml', () => {
  it('polls the configured types on schedule, routes them, and picks up a booking made later, each once', async () => {
    await waitFor(async () => (await messages()).length === 4 || undefined, 20_000, 'the scenario polled');
    const appointment = ehr.book({
      patientId: ehr.scenario.patients[0]!.id!,
      locationId: ehr.scenario.locations[0]!.id!,
      start: '2026-03-03T08:00:00Z',
      end: '2026-03-03T09:00:00Z',
      service: { system: 'http://snomed.info/sct', code: '41976001', display: 'Cardiac catheterization' },
    });
    await waitFor(async () => (await messages()).length === 5 || undefined, 20_000, 'the booking polled');
    // two more ticks: nothing new, nothing offered twice
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const rows = await messages();
    // the booking's id is random: compare in one order on both sides
    const byId = (a: readonly unknown[], b: readonly unknown[]) => String(a[1]).localeCompare(String(b[1]));
    expect(rows.map((r) => [r.message_type, r.external_id, r.duplicate_count]).sort(byId)).toEqual([
      ['FHIR_Appointment', `Appointment/${appointment.id}/_history/1`, 0],
      ['FHIR_Appointment', 'Appointment/appt-cath-1/_history/1', 0],
      ['FHIR_Appointment', 'Appointment/appt-endo-1/_history/1', 0],
      ['FHIR_SupplyRequest', 'SupplyRequest/supply-patient-1/_history/1', 0],
      ['FHIR_SupplyRequest', 'SupplyRequest/supply-ward-1/_history/1', 0],
    ].sort(byId));
    // flow.demand read the polled SupplyRequests as it reads a webhook's: its mapping found the resources' own
    // content (no crosswalks are configured here, so both end as mapping failures that name what is missing)
    const supply = rows.filter((r) => r.message_type === 'FHIR_SupplyRequest');
    const outcomes = await waitFor(async () => {
      const { rows: found } = await app.database.pool.query<{ external_id: string; status: string; last_error: string }>(
        `select m.external_id, d.status, d.last_error from carelane.deliveries d join carelane.messages m on m.id = d.message_id
          where d.message_id = any($1) and d.action = 'flow.demand' and d.status in ('done', 'exception') order by m.external_id`,
        [supply.map((r) => r.id)],
      );
      return found.length === 2 ? found : undefined;
    }, 20_000, 'flow.demand ran');
    expect(outcomes).toEqual([
      { external_id: 'SupplyRequest/supply-patient-1/_history/1', status: 'exception', last_error: expect.stringMatching(/^fhir_no_location: .*SupplyRequest\.deliverTo/) },
      { external_id: 'SupplyRequest/supply-ward-1/_history/1', status: 'exception', last_error: expect.stringMatching(/^mapping_missing: .*Location\/loc-ward-north.*GLV-M/) },
    ]);
    const { rows: cursors } = await app.database.pool.query<{ resource_type: string; last_updated: string | null }>(
      `select resource_type, last_updated from carelane.fhir_poll_cursors where source = 'fhir:ehr-north' order by resource_type`,
    );
    expect(cursors).toEqual([
      { resource_type: 'Appointment', last_updated: appointment.meta!.lastUpdated },
      { resource_type: 'SupplyRequest', last_updated: ehr.store.read('SupplyRequest', 'supply-patient-1')!.meta!.lastUpdated },
    ]);
  });

  it('refuses settings a schema cannot catch, naming the key, before polling anything', () => {
    const start = (poll: object) =>
      startFhirPolling({
        servers: { 'ehr-x': { poll: { resourceTypes: ['SupplyRequest'], pageSize: 10, sort: true, settleSeconds: 5, ...poll } } },
        clientFor: fhirServers({ 'ehr-x': { url: ehr.fhirBaseUrl, timeoutMs: 1000 } }),
        pool: db.pool,
        sink: new Ingest(db.pool, []),
        log: pino({ level: 'silent' }),
        node: 'test',
      });
    expect(() => start({ intervalSeconds: 30, cron: '*/5 * * * *' })).toThrow(expect.objectContaining({ code: 'config_invalid', where: { field: 'fhir.servers.ehr-x.poll' } }));
    expect(() => start({ cron: 'every tuesday' })).toThrow(expect.objectContaining({ where: { field: 'fhir.servers.ehr-x.poll.cron' } }));
    expect(() => start({ filters: { SupplyRequest: '_count=5' } })).toThrow(/_count cannot be set here/);
    expect(() => start({ filters: { Appointment: 'status=booked' } })).toThrow(/Appointment is not among resourceTypes/);
  });
});
