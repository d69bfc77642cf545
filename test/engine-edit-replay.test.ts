import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { editAndReplay, EditReplayConflictError } from '../src/engine/edit-replay.ts';
import type { RouteConfig } from '../src/config/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

// Edit-and-replay (issue 9) against a real database: the original stays as sent, the corrected copy is stored
// under its source, type and correlation id with its own route step, the original's open exception is closed
// and its parked step cancelled, and the same correction twice is one copy.

const ROUTES: RouteConfig[] = [{ source: 'mllp', type: 'OMS^O05', lane: 'standard', flow: 'demand' }];
const ORIGINAL = 'MSH|^~\\&|CLINIC|NORTH|CARELANE|HOSP|20261124||OMS^O05|C1|P|2.5.1\rRQD|1|BAD-CODE\r';
const CORRECTED = Buffer.from(ORIGINAL.replace('BAD-CODE', 'GOOD-CODE'), 'utf8');

let db: TestDatabase;

async function failedMessage(key: string): Promise<{ messageId: number; deliveryId: number; exceptionId: number }> {
  const { rows: messages } = await db.pool.query<{ id: number }>(
    `insert into carelane.messages (source, message_type, dedupe_key, content_hash, correlation_id, status, content_type, payload, payload_size)
     values ('mllp', 'OMS^O05', $1, $1, $2, 'failed', 'application/hl7-v2', $3, $4) returning id::int as id`,
    [key, `corr-${key}`, Buffer.from(ORIGINAL), ORIGINAL.length],
  );
  const messageId = messages[0]!.id;
  const { rows: deliveries } = await db.pool.query<{ id: number }>(
    `insert into carelane.deliveries (message_id, correlation_id, lane, action, endpoint, idempotency_key, status)
     values ($1, $2, 'standard', 'flow.demand', 'internal', $3, 'exception') returning id::int as id`,
    [messageId, `corr-${key}`, `flow:${key}`],
  );
  const deliveryId = deliveries[0]!.id;
  const { rows: exceptions } = await db.pool.query<{ id: number }>(
    `insert into carelane.exceptions (type, classification, status, message_id, delivery_id, correlation_id, reason)
     values ('mapping_missing', 'business', 'open', $1, $2, $3, 'no item mapping for BAD-CODE') returning id::int as id`,
    [messageId, deliveryId, `corr-${key}`],
  );
  return { messageId, deliveryId, exceptionId: exceptions[0]!.id };
}

describe('edit and replay', () => {
  beforeAll(async () => {
    db = await createTestDatabase(embeddedTarget());
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('stores the corrected copy and routes it, closes the original exception, cancels its parked step, once', async () => {
    const { messageId, deliveryId, exceptionId } = await failedMessage('edit-1');
    const request = { messageId, payload: CORRECTED, actor: 'ops@clinic', reason: 'item code typo' };
    const outcome = await editAndReplay(db.pool, ROUTES, request);
    expect(outcome).toMatchObject({ originalId: messageId, correlationId: 'corr-edit-1', routed: true, resolvedExceptions: [exceptionId] });
    expect(outcome!.messageId).not.toBe(messageId);

    const { rows: messages } = await db.pool.query<{ id: number; source: string; message_type: string; status: string; payload: Buffer }>(
      `select id::int as id, source, message_type, status, payload from carelane.messages where correlation_id = 'corr-edit-1' order by id`,
    );
    // the original is kept as sent; it no longer counts as failed once its only parked step is cancelled
    expect(messages.map((m) => [m.id, m.source, m.message_type, m.status, m.payload.toString('utf8')])).toEqual([
      [messageId, 'mllp', 'OMS^O05', 'processed', ORIGINAL],
      [outcome!.messageId, 'mllp', 'OMS^O05', 'received', CORRECTED.toString('utf8')],
    ]);
    const { rows: steps } = await db.pool.query<{ id: number; message_id: number; action: string; status: string }>(
      'select id::int as id, message_id::int as message_id, action, status from carelane.deliveries where correlation_id = $1 order by id',
      ['corr-edit-1'],
    );
    expect(steps.map((s) => [s.message_id, s.action, s.status])).toEqual([
      [messageId, 'flow.demand', 'cancelled'],
      [outcome!.messageId, 'route', 'pending'],
    ]);
    expect(steps[0]!.id).toBe(deliveryId);
    const { rows: exceptions } = await db.pool.query('select status, resolved_by, resolution_action from carelane.exceptions where id = $1', [exceptionId]);
    expect(exceptions[0]).toEqual({ status: 'resolved', resolved_by: 'ops@clinic', resolution_action: 'edit_replay' });
    // the audit keeps hashes, never the payloads
    const { rows: audit } = await db.pool.query<{ detail: Record<string, unknown> }>(`select detail from carelane.audit_log where action = 'message.edit_replay' and target_id = $1`, [String(messageId)]);
    expect(audit).toHaveLength(1);
    expect(JSON.stringify(audit[0]!.detail)).not.toContain('CODE');

    // the same correction again: the first copy, nothing new
    const again = await editAndReplay(db.pool, ROUTES, request);
    expect(again).toMatchObject({ messageId: outcome!.messageId, resolvedExceptions: [] });
    const { rows: count } = await db.pool.query<{ n: number }>(`select count(*)::int as n from carelane.messages where correlation_id = 'corr-edit-1'`);
    expect(count[0]!.n).toBe(2);
  });

  it('refuses while the original still has a step queued, and changes nothing', async () => {
    const { messageId, exceptionId } = await failedMessage('edit-2');
    await db.pool.query(
      `insert into carelane.deliveries (message_id, correlation_id, lane, action, endpoint, idempotency_key, status) values ($1, 'corr-edit-2', 'standard', 'demand.reserve', 'odoo', 'reserve:edit-2', 'pending')`,
      [messageId],
    );
    await expect(editAndReplay(db.pool, ROUTES, { messageId, payload: CORRECTED, actor: 'ops@clinic', reason: 'fix' })).rejects.toBeInstanceOf(EditReplayConflictError);
    const { rows } = await db.pool.query(`select count(*)::int as n from carelane.messages where correlation_id = 'corr-edit-2'`);
    expect(rows[0]).toEqual({ n: 1 });
    const { rows: exceptions } = await db.pool.query('select status from carelane.exceptions where id = $1', [exceptionId]);
    expect(exceptions[0]).toEqual({ status: 'open' });
  });

  it('needs a reason, and answers undefined for a message that does not exist', async () => {
    await expect(editAndReplay(db.pool, ROUTES, { messageId: 1, payload: CORRECTED, actor: 'ops', reason: ' ' })).rejects.toThrow('needs a reason');
    expect(await editAndReplay(db.pool, ROUTES, { messageId: 999_999, payload: CORRECTED, actor: 'ops', reason: 'fix' })).toBeUndefined();
  });
});
