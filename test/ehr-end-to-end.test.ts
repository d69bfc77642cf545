import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { parseConfigText } from '../src/config/index.ts';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { patientIdentifiers, startEhrSimulator, type EhrSimulator } from '../simulators/ehr/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { waitFor } from './support/engine-harness.ts';
import { carelanePorts, everythingSent, findIdentifiers, startWireTap } from './support/phi-scan.ts';

// The EHR simulator against a running Carelane started from a config: FHIR REST-hook notifications into the
// FHIR listener, HL7 v2 over MLLP into the MLLP listener, and everything Carelane sent back (its answers on
// the wire, every log line, /metrics, the event outbox) scanned for the scenario's patients (issue 8).

const SECRET = 'Bearer ehr-sim-channel-secret-0123456789';

let db: TestDatabase;
let app: RunningCarelane;
let ehr: EhrSimulator;
const logLines: string[] = [];
const wire = startWireTap();

async function stored(source: string): Promise<Array<{ message_type: string; status: string; payload: string }>> {
  const { rows } = await app.database.pool.query<{ message_type: string; status: string; payload: string }>(
    `select message_type, status, convert_from(payload, 'UTF8') as payload from carelane.messages where source = $1 order by id`,
    [source],
  );
  return rows;
}

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget());
  const config = parseConfigText(
    `
server: { port: 0 }
mllp: { port: 0 }
engine: { pollIntervalMs: 100 }
fhir:
  listener: { port: 0 }
  sources:
    - id: ehr-sim
      secret: "\${env:EHR_SECRET}"
`,
    { DATABASE_URL: db.url, CARELANE_ADMIN_TOKEN: 'ehr-e2e-admin-token', EHR_SECRET: SECRET },
  );
  // Debug level: the most Carelane would ever write in production, captured line by line.
  const log = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
  app = await startCarelane({ config, origin: 'test' }, { log });
  wire.carelane(...carelanePorts(app));
  ehr = await startEhrSimulator({
    subscriptions: [
      { id: 'demand', endpoint: `${app.fhirUrl}/fhir/notify/ehr-sim`, headers: { authorization: SECRET }, resourceTypes: ['Appointment', 'ServiceRequest', 'SupplyRequest'], heartbeatMs: 300 },
      { id: 'wrong-secret', endpoint: `${app.fhirUrl}/fhir/notify/ehr-sim`, headers: { authorization: 'Bearer not-the-secret' }, resourceTypes: ['Location'], maxAttempts: 1 },
    ],
    hl7: { host: '127.0.0.1', port: app.mllpPort! },
  });
});
afterAll(async () => {
  wire.stop();
  await ehr?.close();
  await app?.stop();
  await db?.drop();
});

describe('EHR simulator → running Carelane', () => {
  it('hands the simulator a handshake, then a booked Appointment as an event-notification, stored before the 200', async () => {
    await waitFor(() => ehr.notifications().find((n) => n.subscription === 'demand' && n.type === 'handshake'), 10_000, 'handshake');
    const booked = ehr.book({
      patientId: 'pat-1003',
      locationId: 'loc-cath-north',
      start: '2026-03-03T08:00:00Z',
      end: '2026-03-03T09:00:00Z',
      service: { system: 'http://snomed.info/sct', code: '41976001', display: 'Cardiac catheterization' },
    });
    const sent = await waitFor(() => ehr.notifications().find((n) => n.type === 'event-notification' && n.focus === `Appointment/${booked.id}`), 10_000, 'event notification');
    expect(sent.status).toBe(200);
    const messages = await stored('fhir:ehr-sim');
    const events = messages.filter((m) => m.message_type === 'FHIR_notification_event-notification');
    expect(events).toHaveLength(1);
    expect(events[0]!.status).not.toBe('rejected');
    expect(events[0]!.payload).toContain(booked.id);
    expect(messages.map((m) => m.message_type)).toContain('FHIR_notification_handshake');
  });

  it('refuses a subscription whose channel header carries the wrong secret (401, nothing stored)', async () => {
    const refused = await waitFor(() => ehr.notifications().find((n) => n.subscription === 'wrong-secret'), 10_000, 'refused handshake');
    expect(refused.status).toBe(401);
    expect((await stored('fhir:ehr-sim')).filter((m) => m.payload.includes('wrong-secret'))).toEqual([]);
  });

  it('stores heartbeats when the subscription is idle', async () => {
    await waitFor(() => ehr.notifications().find((n) => n.type === 'heartbeat' && n.status === 200), 10_000, 'heartbeat');
    expect((await stored('fhir:ehr-sim')).map((m) => m.message_type)).toContain('FHIR_notification_heartbeat');
  });

  it('sends SIU^S12 and ORM^O01 over MLLP: AA after storing each', async () => {
    const booking = await ehr.sendSchedule('S12', 'appt-cath-1');
    expect(booking.ackCode).toBe('AA');
    const order = await ehr.sendOrder('sr-endo-1');
    expect(order.ackCode).toBe('AA');
    const cancellation = await ehr.sendSchedule('S15', 'appt-endo-1');
    expect(cancellation.ackCode).toBe('AA');
    const types = (await stored('mllp')).map((m) => m.message_type);
    expect(types).toEqual(['SIU^S12', 'ORM^O01', 'SIU^S15']);
  });

  it('sends no patient identifier or name from the scenario back: answers, log lines, metrics, events', async () => {
    await ehr.idle();
    // Let the engine process what arrived (its debug lines are part of what is scanned).
    await waitFor(async () => {
      const { rows } = await app.database.pool.query<{ n: number }>(`select count(*)::int as n from carelane.deliveries where status not in ('done', 'exception')`);
      return rows[0]!.n === 0 || undefined;
    }, 20_000, 'deliveries settled');
    const forbidden = patientIdentifiers(ehr.scenario);
    expect(forbidden).toContain('SIM-MRN-70411');
    // The scan means something only if the values went through Carelane: they are in the stored payloads.
    const payloads = [...(await stored('fhir:ehr-sim')), ...(await stored('mllp'))].map((m) => m.payload).join('\n');
    expect(payloads).toContain('Thistlewood');
    expect(payloads).toContain('SIM-MRN-70411');
    expect(findIdentifiers([{ where: 'into Carelane', text: wire.received() }], forbidden).map((found) => found.value)).toEqual(expect.arrayContaining(['Thistlewood', 'SIM-MRN-70411']));
    expect(logLines.length).toBeGreaterThan(5);
    const sent = await everythingSent(app, wire, logLines);
    // Carelane answered both channels: FHIR notifications and MLLP (ACKs)
    expect(sent.filter((text) => text.where.startsWith('answer from Carelane')).map((text) => text.where)).toEqual(
      expect.arrayContaining([`answer from Carelane :${new URL(app.fhirUrl!).port}`, `answer from Carelane :${app.mllpPort}`]),
    );
    expect(findIdentifiers(sent, forbidden)).toEqual([]);
  });
});
