import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Type } from 'typebox';
import { appendEvents, type NewEvent } from '../src/connectors/events/index.ts';
import {
  CANONICAL_EVENT_CONTRACTS,
  business,
  fieldsOfClass,
  ReservationReleasedEventSchema,
  seedCanonicalContracts,
  unclassifiedFields,
} from '../src/contracts/canonical/index.ts';
import { contractValidators, jsonPath } from '../src/contracts/enforcement.ts';
import { CarelaneError } from '../src/contracts/errors.ts';
import { decideChangeRequest, proposeContractVersion } from '../src/contracts/registry.ts';
import { resolveException } from '../src/engine/exceptions.ts';
import type { DeliveryHandler, Engine } from '../src/engine/index.ts';
import { enqueueDeliveries } from '../src/engine/index.ts';
import { reservationEvent } from '../src/flows/demand/reservation-steps.ts';
import { orderLines } from '../src/flows/replenishment/replenishment-steps.ts';
import { inTransaction } from '../src/store/database.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { startEngine, testConfig, waitFor } from './support/engine-harness.ts';

// Issue 8, contracts governance made binding: a canonical event goes into the outbox only if it fits an ACTIVE
// version of the contract named as its topic. A breaking version waiting for approval is not used; approving it is
// what makes its payloads acceptable.

const RELEASED = 'carelane.reservation.released';
const released = (extra: Record<string, unknown> = {}): NewEvent => ({ topic: RELEASED, key: 'D-1', correlationId: 'corr-1', payload: { demandKey: 'D-1', reservationKey: 'carelane.res.D-1.1', ...extra } });
/** v2 of the released event: a required `reason` is a breaking change (an old producer's events lack it) */
const ReleasedV2 = Type.Object({ ...ReservationReleasedEventSchema.properties, reason: Type.String(business({ minLength: 1 })) }, business({ additionalProperties: false }));

async function refusal(promise: Promise<unknown>): Promise<CarelaneError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'expected a contract_violation').toBeInstanceOf(CarelaneError);
  return error as CarelaneError;
}

describe('shipped event contracts', () => {
  it('name each event topic the flows write, classify every field and carry no PHI', () => {
    expect(CANONICAL_EVENT_CONTRACTS.map((c) => c.name).sort()).toEqual(['carelane.purchase_order.placed', 'carelane.reservation.partial', 'carelane.reservation.released', 'carelane.reservation.reserved']);
    for (const contract of CANONICAL_EVENT_CONTRACTS) {
      expect(unclassifiedFields(contract.schema), contract.name).toEqual([]);
      expect(fieldsOfClass(contract.schema, 'PHI'), contract.name).toEqual([]);
      expect(fieldsOfClass(contract.schema, 'PII'), contract.name).toEqual([]);
    }
  });

  it('turns validator paths into JSONPath', () => {
    expect(jsonPath('')).toBe('$');
    expect(jsonPath('/lines/0/quantity')).toBe('$.lines[0].quantity');
    expect(jsonPath('/odd key/a~1b')).toBe('$["odd key"]["a/b"]');
  });
});

describe('contract enforcement on the event outbox', () => {
  let db: TestDatabase;
  const outbox = async () => (await db.pool.query<{ topic: string; payload: Record<string, unknown> }>('select topic, payload from carelane.event_outbox order by id')).rows;
  const append = (events: NewEvent[]) => inTransaction(db.pool, (tx) => appendEvents(tx, events));

  beforeAll(async () => {
    db = await createTestDatabase(embeddedTarget(), 4);
    const seeded = await seedCanonicalContracts(db.pool, CANONICAL_EVENT_CONTRACTS);
    expect(seeded.conflicts).toEqual([]);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('accepts the events the flows build, as they build them', async () => {
    const reserve = { demandKey: 'D-7', reservationKey: 'carelane.res.D-7.1', site: 'NORTH', odooConnection: 'odoo-main', pickingTypeId: 5, sourceLocationId: 8, destinationLocationId: 21, lines: [{ productId: 41, quantity: 2 }] };
    const reserved = reservationEvent(reserve, { pickingId: 77, state: 'assigned', status: 'reserved', lines: [{ productId: 41, quantity: 2, reserved: 2 }], shortfalls: [] }, 'corr-7');
    const partial = reservationEvent(reserve, { pickingId: 77, state: 'confirmed', status: 'partial', lines: [{ productId: 41, quantity: 2, reserved: 1 }], shortfalls: [{ productId: 41, quantity: 1 }] }, 'corr-7');
    // src/flows/replenishment/replenishment-steps.ts placeOrderStep writes exactly these keys
    const lines = orderLines([{ id: 1, correlationId: 'c', productId: 41, quantity: 3, unitPrice: 4.5, locationId: 8 }, { id: 2, correlationId: 'c', productId: 41, quantity: 1, unitPrice: 4.5, locationId: 8 }]);
    const placed: NewEvent = { topic: 'carelane.purchase_order.placed', key: 'po-1', correlationId: 'po:po-1', payload: { poKey: 'po-1', name: 'P00012', state: 'purchase', site: 'NORTH', vendorId: 9, lines } };
    await append([reserved, partial, released(), placed]);
    expect((await outbox()).map((e) => e.topic)).toEqual(['carelane.reservation.reserved', 'carelane.reservation.partial', RELEASED, 'carelane.purchase_order.placed']);
  });

  it('refuses an event that fits no active version, as a business contract_violation naming each path, and writes none of the batch', async () => {
    const before = (await outbox()).length;
    const error = await refusal(
      append([
        released(),
        { topic: 'carelane.purchase_order.placed', key: 'po-2', correlationId: 'po:po-2', payload: { poKey: 'po-2', name: 'P00013', state: 'approved', site: 'NORTH', vendorId: '9', lines: [{ productId: 41, quantity: 0, unitPrice: 1 }], buyer: 'x' } },
      ]),
    );
    expect(error).toMatchObject({ failureClass: 'business', exceptionType: 'contract_violation', code: 'contract_violation' });
    expect(error.message).toContain('event carelane.purchase_order.placed fits no active version of contract "carelane.purchase_order.placed"');
    expect(error.detail).toMatchObject({ contract: 'carelane.purchase_order.placed', activeVersions: ['1.0.0'] });
    expect((error.detail!.errors as Array<{ path: string }>).map((e) => e.path).sort()).toEqual(['$.buyer', '$.lines[0].quantity', '$.state', '$.vendorId']);
    expect(error.where).toEqual({ field: expect.stringMatching(/^\$\./) });
    // the detail says where and why, never the value (payloads may carry PHI)
    expect(JSON.stringify(error.detail)).not.toContain('approved');
    expect((await outbox()).length).toBe(before);
  });

  it('lets a topic without a canonical contract through unchecked', async () => {
    await append([{ topic: 'site.custom.thing', key: 'k', correlationId: 'c', payload: { anything: true } }]);
    expect((await outbox()).at(-1)).toMatchObject({ topic: 'site.custom.thing' });
  });

  it('a compatible change takes effect at once, each version compiled once', async () => {
    const withNote = Type.Object({ ...ReservationReleasedEventSchema.properties, note: Type.Optional(Type.String(business())) }, business({ additionalProperties: false }));
    expect(await refusal(append([released({ note: 'EHR cancelled the case' })]))).toMatchObject({ exceptionType: 'contract_violation' });
    const outcome = await proposeContractVersion(db.pool, { name: RELEASED, kind: 'canonical', schema: JSON.parse(JSON.stringify(withNote)), reason: 'consumers want a note', actor: 'oidc:integrator' });
    expect(outcome).toMatchObject({ version: '1.1.0', status: 'active', level: 'minor' });
    const compiled = contractValidators.compilations;
    await append([released({ note: 'EHR cancelled the case' })]);
    await append([released({ note: 'again' }), released()]);
    expect(contractValidators.compilations - compiled).toBe(1);
  });

  it('a breaking version is not used while proposed, and is once an admin approves it; a rejected one never', async () => {
    const withReason = released({ reason: 'case cancelled' });
    expect(await refusal(append([withReason]))).toMatchObject({ detail: { activeVersions: ['1.1.0'] } });

    const proposal = await proposeContractVersion(db.pool, { name: RELEASED, kind: 'canonical', schema: JSON.parse(JSON.stringify(ReleasedV2)), reason: 'consumers need the reason', actor: 'oidc:alice' });
    expect(proposal).toMatchObject({ version: '2.0.0', status: 'proposed', level: 'major' });
    const whileProposed = await refusal(append([withReason]));
    expect(whileProposed.detail).toMatchObject({ activeVersions: ['1.1.0'], errors: [{ version: '1.1.0', path: '$.reason', message: expect.stringContaining('not in the contract') }] });

    await decideChangeRequest(db.pool, proposal.changeRequestId!, { approve: true, note: 'consumers ready', actor: 'oidc:bob' });
    await append([withReason]);
    expect((await outbox()).at(-1)).toMatchObject({ topic: RELEASED, payload: { reason: 'case cancelled' } });
    // both majors are active: an event of the old shape still fits 1.1.0
    await append([released()]);
    // one that fits neither is told why against each
    const neither = await refusal(append([released({ reason: '' , extra: 1 })]));
    expect(neither.detail).toMatchObject({ activeVersions: ['2.0.0', '1.1.0'] });
    expect((neither.detail!.errors as Array<{ version: string; path: string }>).map((e) => `${e.version} ${e.path}`).sort()).toEqual(['1.1.0 $.extra', '1.1.0 $.reason', '2.0.0 $.extra', '2.0.0 $.reason']);

    const retyped = Type.Object({ ...ReleasedV2.properties, reason: Type.Integer(business()) }, business({ additionalProperties: false }));
    const rejected = await proposeContractVersion(db.pool, { name: RELEASED, kind: 'canonical', schema: JSON.parse(JSON.stringify(retyped)), reason: 'reason codes', actor: 'oidc:alice' });
    await decideChangeRequest(db.pool, rejected.changeRequestId!, { approve: false, note: 'no', actor: 'oidc:bob' });
    expect(await refusal(append([released({ reason: 42 })]))).toMatchObject({ detail: { activeVersions: ['2.0.0', '1.1.0'] } });
  });
});

describe('a delivery whose canonical event breaks its contract', () => {
  let db: TestDatabase;
  let engine: Engine;
  const publisher: DeliveryHandler = {
    action: 'test.publish_release',
    async run(delivery) {
      const payload = delivery.payload as Record<string, unknown>;
      return {
        stages: [{ stage: 'released in the test' }],
        inTransaction: async (tx) => {
          await tx.query(`update carelane.deliveries set payload = payload || '{"ran": true}' where id = $1`, [delivery.id]);
          await appendEvents(tx, [{ topic: RELEASED, key: String(payload.demandKey), correlationId: delivery.correlationId, payload }]);
        },
      };
    },
  };
  const openException = () =>
    waitFor(async () => (await db.pool.query<{ id: number; type: string; classification: string; reason: string; detail: Record<string, unknown> }>(`select id::int as id, type, classification, reason, detail from carelane.exceptions where status = 'open'`)).rows[0]);

  beforeAll(async () => {
    db = await createTestDatabase(embeddedTarget(), 6);
    await seedCanonicalContracts(db.pool, CANONICAL_EVENT_CONTRACTS);
    engine = await startEngine(db, testConfig('engine: { pollIntervalMs: 50 }\n'), [publisher]);
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  it('parks as contract_violation with nothing of its transaction kept, and goes through after the approval', async () => {
    const payload = { demandKey: 'D-9', reservationKey: 'carelane.res.D-9.1', reason: 'case cancelled' };
    const [deliveryId] = await enqueueDeliveries(db.pool, [{ lane: 'standard', action: 'test.publish_release', endpoint: 'test', idempotencyKey: 'release:D-9', correlationId: 'corr-9', payload }]);
    const first = await openException();
    expect(first).toMatchObject({ type: 'contract_violation', classification: 'business', detail: { code: 'contract_violation', contract: RELEASED, errors: [{ version: '1.0.0', path: '$.reason' }] } });
    expect(first.reason).toContain('fits no active version');
    expect((await db.pool.query('select count(*)::int as n from carelane.event_outbox')).rows[0].n).toBe(0);
    // the step's own writes rolled back with the refused event
    expect((await db.pool.query('select status, payload from carelane.deliveries where id = $1', [deliveryId])).rows[0]).toEqual({ status: 'exception', payload });

    const proposal = await proposeContractVersion(db.pool, { name: RELEASED, kind: 'canonical', schema: JSON.parse(JSON.stringify(ReleasedV2)), reason: 'consumers need the reason', actor: 'oidc:alice' });
    await resolveException(db.pool, first.id, { action: 'replay', actor: 'oidc:operator', note: 'v2 proposed' });
    const second = await openException();
    expect(second.id).not.toBe(first.id);
    expect(second.detail).toMatchObject({ activeVersions: ['1.0.0'] });

    await decideChangeRequest(db.pool, proposal.changeRequestId!, { approve: true, note: 'consumers ready', actor: 'oidc:bob' });
    await resolveException(db.pool, second.id, { action: 'replay', actor: 'oidc:operator', note: 'v2 approved' });
    const done = await waitFor(async () => (await db.pool.query(`select status from carelane.deliveries where id = $1 and status = 'done'`, [deliveryId])).rows[0]);
    expect(done).toEqual({ status: 'done' });
    expect((await db.pool.query('select topic, payload from carelane.event_outbox')).rows).toEqual([{ topic: RELEASED, payload }]);
  });
});
