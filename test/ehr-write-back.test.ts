import type { SupplyRequest, Task } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../src/config/index.ts';
import { CarelaneError } from '../src/contracts/errors.ts';
import type { ClaimedDelivery, HandlerContext } from '../src/engine/handlers.ts';
import { createLogger } from '../src/observability/logger.ts';
import { FhirClient, createTaskHandler, fhirServers, updateStatusHandler, TASK_IDENTIFIER_SYSTEM } from '../src/connectors/fhir/index.ts';
import { controlIdFor, hl7SendHandler, type Hl7DestinationSettings } from '../src/connectors/hl7v2/index.ts';
import { startEhrSimulator, startHl7Receiver, type EhrSimulator, type Hl7Receiver } from '../simulators/ehr/index.ts';

// Status write-back to the EHR simulator over real sockets: FHIR status updates and Tasks through the delivery
// handlers the engine runs, and HL7 v2 order status over MLLP judged by the receiver's ACK.

let ehr: EhrSimulator;
let receiver: Hl7Receiver;

beforeAll(async () => {
  ehr = await startEhrSimulator({ requireIfMatch: true });
  receiver = await startHl7Receiver();
});
afterAll(async () => {
  await ehr?.close();
  await receiver?.close();
});

let deliveries = 0;
function delivery(action: string, payload: unknown, idempotencyKey = `key-${++deliveries}`, endpoint = 'ehr'): ClaimedDelivery {
  const now = new Date();
  return { id: ++deliveries, messageId: null, correlationId: 'c-1', lane: 'standard', action, endpoint, orderingKey: null, idempotencyKey, payload, attempts: 1, needsLookup: false, createdAt: now, claimedAt: now, endpointFailures: 0, endpointClosedAt: null };
}
const context = (signal = new AbortController().signal): HandlerContext => ({ pool: undefined as never, log: createLogger('silent'), signal });

async function failure(promise: Promise<unknown>): Promise<CarelaneError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof CarelaneError) return error;
    throw error;
  }
  throw new Error('expected a failure');
}

const clientFor = (fetchImpl?: typeof fetch) => {
  const client = new FhirClient({ baseUrl: ehr.fhirBaseUrl, timeoutMs: 2000, ...(fetchImpl ? { fetch: fetchImpl } : {}) });
  return (endpoint: string) => {
    if (endpoint !== 'ehr') throw new Error(`unknown endpoint ${endpoint}`);
    return client;
  };
};
const tasks = () => ehr.store.all('Task') as Task[];

describe('fhir.update_status', () => {
  it('writes the status with If-Match on the version read; the version goes up by one and lookup sees it', async () => {
    const before = ehr.store.read('SupplyRequest', 'supply-ward-1') as SupplyRequest;
    const handler = updateStatusHandler(clientFor());
    const work = delivery('fhir.update_status', { resource: 'SupplyRequest/supply-ward-1', status: 'suspended' });
    expect(await handler.lookup!(work, context())).toBe('not_applied');
    const result = await handler.run(work, context());
    const after = ehr.store.read('SupplyRequest', 'supply-ward-1') as SupplyRequest;
    expect(after.status).toBe('suspended');
    expect(Number(after.meta!.versionId)).toBe(Number(before.meta!.versionId) + 1);
    expect(result?.stages?.[0]).toMatchObject({ outcome: 'ok', detail: { from: before.status, status: 'suspended', versionId: after.meta!.versionId } });
    expect(await handler.lookup!(work, context())).toBe('applied');
    // Run again (a retry): nothing is written, the version stays.
    await handler.run(work, context());
    expect((ehr.store.read('SupplyRequest', 'supply-ward-1') as SupplyRequest).meta!.versionId).toBe(after.meta!.versionId);
  });

  it('meets a 412 when the EHR changed the resource in between, re-reads, and reapplies on the new version', async () => {
    let puts = 0;
    // The EHR's own user edits the resource after our read and before our write: the simulator answers 412.
    const racing: typeof fetch = async (input, init) => {
      if (init?.method === 'PUT' && ++puts === 1) {
        const current = ehr.store.read('SupplyRequest', 'supply-ward-1') as SupplyRequest;
        ehr.store.put({ ...current, priority: 'urgent' });
      }
      return fetch(input, init);
    };
    const versionBefore = Number((ehr.store.read('SupplyRequest', 'supply-ward-1') as SupplyRequest).meta!.versionId);
    await updateStatusHandler(clientFor(racing)).run(delivery('fhir.update_status', { resource: 'SupplyRequest/supply-ward-1', status: 'active' }), context());
    const after = ehr.store.read('SupplyRequest', 'supply-ward-1') as SupplyRequest;
    expect(puts).toBe(2);
    // Both changes are there: the EHR's (priority) and ours (status), on version +2.
    expect(after).toMatchObject({ status: 'active', priority: 'urgent' });
    expect(Number(after.meta!.versionId)).toBe(versionBefore + 2);
  });

  it('does not overwrite a final status the EHR set meanwhile: recorded as skipped', async () => {
    const current = ehr.store.read('SupplyRequest', 'supply-patient-1') as SupplyRequest;
    ehr.store.put({ ...current, status: 'cancelled' });
    const result = await updateStatusHandler(clientFor()).run(delivery('fhir.update_status', { resource: 'SupplyRequest/supply-patient-1', status: 'completed' }), context());
    expect(result?.stages?.[0]).toMatchObject({ outcome: 'skipped', detail: { status: 'cancelled', wanted: 'completed' } });
    expect((ehr.store.read('SupplyRequest', 'supply-patient-1') as SupplyRequest).status).toBe('cancelled');
  });

  it('refuses a status outside the type value set, and an unknown resource is a permanent 404', async () => {
    const handler = updateStatusHandler(clientFor());
    const bad = await failure(handler.run(delivery('fhir.update_status', { resource: 'Appointment/appt-cath-1', status: 'active' }), context()));
    expect(bad).toMatchObject({ failureClass: 'permanent', code: 'fhir_bad_status', where: { field: 'payload.status' } });
    expect(bad.message).toContain('booked');
    const missing = await failure(handler.run(delivery('fhir.update_status', { resource: 'SupplyRequest/nope', status: 'active' }), context()));
    expect(missing.failureClass).toBe('permanent');
    expect(missing.message).toContain('404');
  });

  it('writes an Appointment status from its own value set', async () => {
    await updateStatusHandler(clientFor()).run(delivery('fhir.update_status', { resource: 'Appointment/appt-cath-1', status: 'arrived' }), context());
    expect(ehr.store.read('Appointment', 'appt-cath-1')).toMatchObject({ status: 'arrived' });
  });
});

describe('fhir.create_task', () => {
  const reserved = { focus: 'SupplyRequest/supply-ward-1', status: 'in-progress', businessStatus: { code: 'reserved', display: 'Reserved' }, note: 'stock reserved at the north site' };

  it('creates a Task on the demand resource with the key as identifier; a retry finds it instead of creating another', async () => {
    const handler = createTaskHandler(clientFor());
    const work = delivery('fhir.create_task', reserved, 'demand:sr-ward-1:reserved');
    expect(await handler.lookup!(work, context())).toBe('not_applied');
    const first = await handler.run(work, context());
    const second = await handler.run(work, context());
    const mine = tasks().filter((t) => t.identifier?.[0]?.value === 'demand:sr-ward-1:reserved');
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({
      status: 'in-progress',
      intent: 'order',
      focus: { reference: 'SupplyRequest/supply-ward-1' },
      identifier: [{ system: TASK_IDENTIFIER_SYSTEM, value: 'demand:sr-ward-1:reserved' }],
      businessStatus: { coding: [{ code: 'reserved', display: 'Reserved' }] },
      note: [{ text: 'stock reserved at the north site' }],
    });
    expect(first?.stages?.[0]?.detail).toMatchObject({ created: true });
    expect(second?.stages?.[0]?.detail).toMatchObject({ created: false, task: `Task/${mine[0]!.id}` });
    expect(await handler.lookup!(work, context())).toBe('applied');
  });

  it('an answer lost after the EHR stored the Task is ambiguous; lookup finds it and the retry creates nothing', async () => {
    const losing: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (init?.method === 'POST') throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNRESET' } });
      return response;
    };
    const work = delivery('fhir.create_task', { ...reserved, businessStatus: { code: 'backordered', display: 'Backordered' }, status: 'on-hold' }, 'demand:sr-ward-1:backordered');
    const lost = await failure(createTaskHandler(clientFor(losing)).run(work, context()));
    expect(lost.failureClass).toBe('ambiguous');
    const handler = createTaskHandler(clientFor());
    expect(await handler.lookup!(work, context())).toBe('applied');
    await handler.run(work, context());
    expect(tasks().filter((t) => t.identifier?.[0]?.value === 'demand:sr-ward-1:backordered')).toHaveLength(1);
  });

  it('with a taskKey, one Task per demand moves through partially reserved → reserved → released', async () => {
    const handler = createTaskHandler(clientFor());
    const steps = [
      ['in-progress', 'partially-reserved'],
      ['in-progress', 'reserved'],
      ['completed', 'released'],
    ] as const;
    for (const [status, code] of steps) {
      await handler.run(delivery('fhir.create_task', { focus: 'ServiceRequest/sr-endo-1', status, businessStatus: { code }, taskKey: 'demand:sr-endo-1' }), context());
    }
    const mine = tasks().filter((t) => t.identifier?.[0]?.value === 'demand:sr-endo-1');
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ status: 'completed', businessStatus: { coding: [{ code: 'released' }] } });
    expect(mine[0]!.meta!.versionId).toBe('3');
  });

  it('refuses a Task status outside task-status and a missing businessStatus, naming the field', async () => {
    const handler = createTaskHandler(clientFor());
    expect(await failure(handler.run(delivery('fhir.create_task', { ...reserved, status: 'reserved' }), context()))).toMatchObject({ code: 'fhir_bad_status', where: { field: 'payload.status' } });
    expect(await failure(handler.run(delivery('fhir.create_task', { focus: 'SupplyRequest/x', status: 'ready' }), context()))).toMatchObject({ where: { field: 'payload.businessStatus.code' } });
  });

  it('answers If-None-Exist matching several Tasks with 412, a permanent error', async () => {
    for (let i = 0; i < 2; i++) ehr.store.put({ resourceType: 'Task', status: 'ready', intent: 'order', identifier: [{ system: TASK_IDENTIFIER_SYSTEM, value: 'twice' }] } as Task);
    const duplicated = await failure(createTaskHandler(clientFor()).run(delivery('fhir.create_task', { ...reserved, taskKey: 'twice' }), context()));
    expect(duplicated).toMatchObject({ failureClass: 'permanent', code: 'fhir_task_duplicates' });
  });
});

describe('HL7 v2 write-back: hl7v2.send over MLLP', () => {
  const destination = (overrides: Partial<Hl7DestinationSettings> = {}): Record<string, Hl7DestinationSettings> => ({
    ehr: { host: receiver.host, port: receiver.port, sendingApplication: 'CARELANE', sendingFacility: 'NET', receivingApplication: 'SIMEHR', receivingFacility: 'NORTH', acknowledgment: 'original', responseTimeoutMs: 500, connectTimeoutMs: 500, ...overrides },
  });
  const status = { orderStatus: { placerOrderNumber: 'SUP-1001^MATMGMT', fillerOrderNumber: 'CL-77', orderStatus: 'IP', reason: { code: 'reserved', text: 'Reserved | north' } } };

  it('sends ORM^O01 ORC-1 SC with the status; AA is done; a retry with the same key is answered as a duplicate', async () => {
    const handler = hl7SendHandler(destination());
    try {
      receiver.setFault('none');
      const work = delivery('hl7v2.send', status, 'demand:sup-1001:ip');
      const result = await handler.run(work, context());
      await handler.run(work, context());
      const controlId = controlIdFor('demand:sup-1001:ip');
      const copies = receiver.received.filter((r) => r.controlId === controlId);
      expect(copies.map((c) => [c.answered, c.duplicate])).toEqual([['AA', false], ['AA', true]]);
      expect(result?.stages?.[0]?.detail).toMatchObject({ messageType: 'ORM^O01', controlId, ack: 'AA' });
      const segments = copies[0]!.text.split('\r');
      const msh = segments[0]!.split('|');
      expect([...msh.slice(0, 6), ...msh.slice(7)]).toEqual(['MSH', '^~\\&', 'CARELANE', 'NET', 'SIMEHR', 'NORTH', '', 'ORM^O01^ORM_O01', controlId, 'P', '2.5.1']);
      expect(msh[6]).toMatch(/^\d{14}\+0000$/);
      expect(segments[1]).toMatch(/^ORC\|SC\|SUP-1001\^MATMGMT\|CL-77\|\|IP\|\|\|\|\d{14}\+0000\|{7}reserved\^Reserved \\F\\ north\^L$/);
    } finally {
      await handler.close();
    }
  });

  it('AE and AR are permanent and carry the ERR text; CR too, CE is transient', async () => {
    const handler = hl7SendHandler(destination());
    try {
      receiver.setFault('AE');
      const ae = await failure(handler.run(delivery('hl7v2.send', status), context()));
      expect(ae).toMatchObject({ failureClass: 'permanent', code: 'hl7_ack_ae', where: { segment: 'ORC', field: 'ORC.2' } });
      expect(ae.message).toContain('order status not recorded');
      receiver.setFault('AR');
      const ar = await failure(handler.run(delivery('hl7v2.send', status), context()));
      expect(ar).toMatchObject({ failureClass: 'permanent', code: 'hl7_ack_ar' });
      expect(ar.message).toContain('ORM^O01 is not accepted');
    } finally {
      receiver.setFault('none');
      await handler.close();
    }
    const enhanced = hl7SendHandler(destination({ acknowledgment: 'enhanced' }));
    try {
      receiver.setFault('AR');
      expect(await failure(enhanced.run(delivery('hl7v2.send', status), context()))).toMatchObject({ failureClass: 'permanent', code: 'hl7_ack_cr' });
      receiver.setFault('AE');
      expect(await failure(enhanced.run(delivery('hl7v2.send', status), context()))).toMatchObject({ failureClass: 'transient', code: 'hl7_ack_ce' });
    } finally {
      receiver.setFault('none');
      await enhanced.close();
    }
  });

  it('enhanced mode: MSH-15 AL / MSH-16 NE, and CA is done', async () => {
    const handler = hl7SendHandler(destination({ acknowledgment: 'enhanced' }));
    try {
      const result = await handler.run(delivery('hl7v2.send', status, 'demand:enhanced'), context());
      expect(result?.stages?.[0]?.detail).toMatchObject({ ack: 'CA' });
      const sent = receiver.received.find((r) => r.controlId === controlIdFor('demand:enhanced'))!;
      expect(sent.text.split('\r')[0]!.split('|').slice(14, 16)).toEqual(['AL', 'NE']);
    } finally {
      await handler.close();
    }
  });

  it('no answer is ambiguous, a refused connection transient; the next delivery gets a fresh connection', async () => {
    const handler = hl7SendHandler(destination());
    try {
      receiver.setFault('silent');
      expect(await failure(handler.run(delivery('hl7v2.send', status), context()))).toMatchObject({ failureClass: 'ambiguous', code: 'mllp_ack_timeout' });
      receiver.setFault('close');
      expect((await failure(handler.run(delivery('hl7v2.send', status), context()))).failureClass).toBe('ambiguous');
      receiver.setFault('none');
      expect((await handler.run(delivery('hl7v2.send', status), context()))?.stages?.[0]?.detail).toMatchObject({ ack: 'AA' });
    } finally {
      receiver.setFault('none');
      await handler.close();
    }
    const nowhere = hl7SendHandler(destination({ port: 1 }));
    expect(await failure(nowhere.run(delivery('hl7v2.send', status), context()))).toMatchObject({ failureClass: 'transient', code: 'mllp_connect_failed' });
    await nowhere.close();
  });

  it('a message the EHR took but never answered counts as processed once; its retry is answered as the duplicate', async () => {
    const handler = hl7SendHandler(destination());
    const work = delivery('hl7v2.send', status, 'demand:silent-then-retry');
    const controlId = controlIdFor('demand:silent-then-retry');
    try {
      receiver.setFault('silent');
      expect(await failure(handler.run(work, context()))).toMatchObject({ failureClass: 'ambiguous' });
      receiver.setFault('none');
      expect((await handler.run(work, context()))?.stages?.[0]?.detail).toMatchObject({ ack: 'AA' });
    } finally {
      receiver.setFault('none');
      await handler.close();
    }
    expect(receiver.received.filter((r) => r.controlId === controlId).map((r) => [r.answered, r.duplicate])).toEqual([['', false], ['AA', true]]);
    expect(receiver.processed().filter((r) => r.controlId === controlId)).toHaveLength(1);
  });

  it('refuses a payload that is neither an order status nor a message, and an unknown destination', async () => {
    const handler = hl7SendHandler(destination());
    expect(await failure(handler.run(delivery('hl7v2.send', { orderStatus: { placerOrderNumber: 'X', orderStatus: 'DONE' } }), context()))).toMatchObject({ code: 'hl7_bad_payload', where: { field: 'payload.orderStatus.orderStatus' } });
    expect(await failure(handler.run(delivery('hl7v2.send', status, 'k', 'elsewhere'), context()))).toMatchObject({ code: 'hl7_destination_unknown' });
  });
});

describe('write-back configuration', () => {
  it('reads fhir.servers and hl7v2.destinations with their defaults, and wants secrets as references', () => {
    const config = parseConfigText(
      `
fhir:
  servers:
    ehr-main:
      url: https://ehr.example.org/fhir/R4
      auth: { type: bearer, token: "\${env:EHR_TOKEN}" }
hl7v2:
  destinations:
    ehr-orders: { host: 127.0.0.1, port: 2576, receivingApplication: EPIC }
`,
      { EHR_TOKEN: 'token-value' },
    );
    expect(config.fhir.servers['ehr-main']).toMatchObject({ url: 'https://ehr.example.org/fhir/R4', timeoutMs: 30_000, auth: { type: 'bearer', token: 'token-value' } });
    expect(config.hl7v2.destinations['ehr-orders']).toMatchObject({ sendingApplication: 'CARELANE', version: '2.5.1', acknowledgment: 'original', responseTimeoutMs: 30_000 });
    expect(() => parseConfigText('fhir: { servers: { e: { url: "https://x", auth: { type: bearer, token: literal } } } }', {})).toThrow(/fhir\.servers\.e\.auth\.token: secrets must be given/);
    const client = fhirServers(config.fhir.servers)('ehr-main');
    expect(client).toBeInstanceOf(FhirClient);
    expect(() => fhirServers(config.fhir.servers)('other')).toThrow(expect.objectContaining({ code: 'fhir_server_unknown' }));
  });
});
