import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../src/config/index.ts';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { startEhrSimulator, type EhrSimulator } from '../simulators/ehr/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { waitFor } from './support/engine-harness.ts';

// FHIR polling's own metrics on the running app's /metrics: one server is the EHR simulator, the other a
// simulator that answers every request 503 (its "5xx" fault). Each polls once, at start-up.

let db: TestDatabase;
let ehr: EhrSimulator;
let failing: EhrSimulator;
let app: RunningCarelane;

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget());
  ehr = await startEhrSimulator({ now: () => new Date(Date.now() - 60_000) });
  failing = await startEhrSimulator({ fault: '5xx' });
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
      poll: { resourceTypes: [SupplyRequest, Appointment], intervalSeconds: 3600, pageSize: 1, filters: { SupplyRequest: "status=active" } }
    ehr-south:
      url: "${failing.fhirBaseUrl}"
      poll: { resourceTypes: [SupplyRequest], intervalSeconds: 3600 }
routes:
  - { source: "fhir:ehr-north", lane: standard, flow: noop }
  - { source: "fhir:ehr-south", lane: standard, flow: noop }
`,
    { DATABASE_URL: db.url, CARELANE_ADMIN_TOKEN: 'polling-metrics-admin-token' },
  );
  app = await startCarelane({ config, origin: 'test' }, { log: pino({ level: 'silent' }) });
});
afterAll(async () => {
  await app?.stop();
  await ehr?.close();
  await failing?.close();
  await db?.drop();
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

async function scrape(): Promise<{ text: string; samples: Sample[] }> {
  const response = await fetch(`${app.httpUrl}/metrics`);
  expect(response.status).toBe(200);
  const text = await response.text();
  const samples = text.split('\n').flatMap((line) => {
    const match = /^([a-z_:][a-z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) return [];
    const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    return [{ name: match[1]!, labels, value: Number(match[3]) }];
  });
  return { text, samples };
}

/** The value of the one sample of `name` whose labels include `labels`; undefined when there is none. */
function value(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  expect(found.length).toBeLessThanOrEqual(1);
  return found[0]?.value;
}

describe('FHIR polling metrics', () => {
  it('counts polls by outcome, the resources received and the poll durations, and shows the cursor lag', async () => {
    const { samples, text } = await waitFor(async () => {
      const scraped = await scrape();
      const polls = scraped.samples.filter((s) => s.name === 'carelane_fhir_polls_total');
      if (polls.length < 3) await new Promise((resolve) => setTimeout(resolve, 200));
      return polls.length >= 3 ? scraped : undefined;
    }, 20_000, 'a poll of each server and type');

    const north = (resourceType: string) => ({ server: 'ehr-north', resource_type: resourceType });
    const south = { server: 'ehr-south', resource_type: 'SupplyRequest' };
    expect(value(samples, 'carelane_fhir_polls_total', { ...north('SupplyRequest'), outcome: 'ok' })).toBe(1);
    expect(value(samples, 'carelane_fhir_polls_total', { ...north('Appointment'), outcome: 'ok' })).toBe(1);
    expect(value(samples, 'carelane_fhir_polls_total', { ...north('SupplyRequest'), outcome: 'error' })).toBeUndefined();
    // the scenario's two active SupplyRequests and two Appointments, one page each (pageSize 1)
    expect(value(samples, 'carelane_fhir_poll_resources_received_total', north('SupplyRequest'))).toBe(2);
    expect(value(samples, 'carelane_fhir_poll_resources_received_total', north('Appointment'))).toBe(2);
    expect(value(samples, 'carelane_fhir_poll_duration_seconds_count', north('SupplyRequest'))).toBe(1);
    expect(value(samples, 'carelane_fhir_poll_duration_seconds_sum', north('SupplyRequest'))).toBeGreaterThan(0);

    // the server answering 503: an error poll, timed, nothing received
    expect(value(samples, 'carelane_fhir_polls_total', { ...south, outcome: 'error' })).toBe(1);
    expect(value(samples, 'carelane_fhir_polls_total', { ...south, outcome: 'ok' })).toBeUndefined();
    expect(value(samples, 'carelane_fhir_poll_duration_seconds_count', south)).toBe(1);
    expect(value(samples, 'carelane_fhir_poll_resources_received_total', south) ?? 0).toBe(0);

    // cursor lag: now minus the saved cursor, read at scrape time; no cursor saved on the failing server, no sample
    const { rows } = await app.database.pool.query<{ resource_type: string; last_updated: string }>(
      `select resource_type, last_updated from carelane.fhir_poll_cursors where source = 'fhir:ehr-north' and last_updated is not null`,
    );
    expect(rows.map((r) => r.resource_type).sort()).toEqual(['Appointment', 'SupplyRequest']);
    const { samples: later } = await scrape();
    for (const row of rows) {
      const lag = value(later, 'carelane_fhir_poll_cursor_lag_seconds', north(row.resource_type));
      const expected = (Date.now() - Date.parse(row.last_updated)) / 1000;
      // the simulator's clock runs 60 s behind, so its stamps are at least that old
      expect(lag).toBeGreaterThanOrEqual(60);
      expect(Math.abs(lag! - expected)).toBeLessThan(5);
    }
    expect(value(later, 'carelane_fhir_poll_cursor_lag_seconds', south)).toBeUndefined();

    // labels are configuration names: no resource id reaches /metrics
    const fhirLines = text.split('\n').filter((line) => line.startsWith('carelane_fhir_'));
    expect(fhirLines.join('\n')).not.toMatch(/supply-patient-1|supply-ward-1|appt-cath-1|appt-endo-1/);
  });
});
