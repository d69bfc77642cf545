import type { Appointment, Location, SupplyRequest } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarelaneError } from '../src/contracts/errors.ts';
import { FhirClient, FhirRequestError, FhirVersionConflictError } from '../src/connectors/fhir/index.ts';
import { startEhrSimulator, type EhrSimulator } from '../simulators/ehr/index.ts';

// The EHR simulator's FHIR R4 API as Carelane's own FhirClient sees it (no database needed).

let ehr: EhrSimulator;
let client: FhirClient;

beforeAll(async () => {
  ehr = await startEhrSimulator();
  client = new FhirClient({ baseUrl: ehr.fhirBaseUrl, timeoutMs: 2000 });
});
afterAll(async () => {
  await ehr?.close();
});

async function failureOf(promise: Promise<unknown>): Promise<CarelaneError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof CarelaneError) return error;
    throw error;
  }
  throw new Error('expected a failure');
}

describe('EHR simulator FHIR API through FhirClient', () => {
  it('reads a resource with its version, and answers an unknown id with a 404 OperationOutcome', async () => {
    const appointment = await client.read<Appointment>('Appointment', 'appt-cath-1');
    expect(appointment.status).toBe('booked');
    expect(appointment.meta?.versionId).toBe('1');
    const missing = await failureOf(client.read('Appointment', 'no-such-appointment'));
    expect(missing).toBeInstanceOf(FhirRequestError);
    expect((missing as FhirRequestError).status).toBe(404);
    expect(missing.failureClass).toBe('permanent');
    expect((missing as FhirRequestError).issues[0]?.code).toBe('not-found');
  });

  it('pages a search through Bundle.link next, one page per request', async () => {
    const pages = [];
    for await (const page of client.searchPages('Location', { _count: 1 })) pages.push(page);
    expect(pages).toHaveLength(3);
    expect(pages.every((page) => page.total === 3 && page.type === 'searchset')).toBe(true);
    const ids = pages.flatMap((page) => (page.entry ?? []).map((entry) => (entry.resource as Location).id));
    expect(new Set(ids)).toEqual(new Set(['loc-cath-north', 'loc-endo-south', 'loc-ward-north']));
    const active: SupplyRequest[] = [];
    for await (const request of client.search<SupplyRequest>('SupplyRequest', { status: 'active', _count: 1 })) active.push(request);
    expect(active.map((r) => r.id).sort()).toEqual(['supply-patient-1', 'supply-ward-1']);
  });

  it('polls changes with a _lastUpdated cursor: only what changed after it comes back', async () => {
    const first: string[] = [];
    const cursor = await client.pollChanges<Appointment>('Appointment', undefined, async (a) => void first.push(a.id!));
    expect(first.sort()).toEqual(['appt-cath-1', 'appt-endo-1']);
    expect(cursor).toBeDefined();
    ehr.reschedule('appt-endo-1', '2026-03-02T11:00:00Z', '2026-03-02T11:45:00Z');
    const second: Appointment[] = [];
    const next = await client.pollChanges<Appointment>('Appointment', cursor, async (a) => void second.push(a));
    expect(second.map((a) => [a.id, a.meta?.versionId, a.start])).toEqual([['appt-endo-1', '2', '2026-03-02T11:00:00Z']]);
    const third: Appointment[] = [];
    expect(await client.pollChanges<Appointment>('Appointment', next, async (a) => void third.push(a))).toBe(next);
    expect(third).toEqual([]);
  });

  it('updates with If-Match on the current version, and refuses a stale one with 412', async () => {
    const read = await client.read<SupplyRequest>('SupplyRequest', 'supply-ward-1');
    const updated = await client.update({ ...read, status: 'completed' }, { ifMatch: read.meta!.versionId! });
    expect(updated.versionId).toBe(String(Number(read.meta!.versionId) + 1));
    expect(updated.resource.status).toBe('completed');
    const stale = await failureOf(client.update({ ...read, status: 'cancelled' }, { ifMatch: read.meta!.versionId! }));
    expect(stale).toBeInstanceOf(FhirVersionConflictError);
    expect((stale as FhirVersionConflictError).status).toBe(412);
    expect((await client.read<SupplyRequest>('SupplyRequest', 'supply-ward-1')).status).toBe('completed');
  });

  it('answers an invalid resource with 422 naming the element, and a bad parameter with 400', async () => {
    const read = await client.read<Appointment>('Appointment', 'appt-cath-1');
    const invalid = await failureOf(client.update({ ...read, status: undefined } as unknown as Appointment));
    expect((invalid as FhirRequestError).status).toBe(422);
    expect((invalid as FhirRequestError).issues[0]?.expression[0]).toContain('Appointment.status');
    const badSort = await failureOf(client.searchPages('Appointment', { _sort: 'start' }).next());
    expect((badSort as FhirRequestError).status).toBe(400);
  });

  it('faults: 5xx and down are transient, slow runs into the client timeout', async () => {
    try {
      ehr.setFault('5xx');
      const unavailable = await failureOf(client.read('Location', 'loc-cath-north'));
      expect((unavailable as FhirRequestError).status).toBe(503);
      expect(unavailable.failureClass).toBe('transient');
      ehr.setFault('down');
      expect((await failureOf(client.read('Location', 'loc-cath-north'))).failureClass).toBe('transient');
      ehr.setFault('slow');
      const impatient = new FhirClient({ baseUrl: ehr.fhirBaseUrl, timeoutMs: 100 });
      expect((await failureOf(impatient.read('Location', 'loc-cath-north'))).failureClass).toBe('transient');
    } finally {
      ehr.setFault('none');
    }
    expect((await client.read<Location>('Location', 'loc-cath-north')).status).toBe('active');
  });
});
