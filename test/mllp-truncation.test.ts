import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ingest } from '../src/engine/ingest.ts';
import { MllpClient, startMllpListener, type MllpListener } from '../src/connectors/hl7v2/index.ts';
import { recordStage } from '../src/store/queue.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

// HL7 v2.7 truncation character (2.5.5.2) over a real MLLP socket into a real PostgreSQL: a value ending with
// MSH-2's 5th character was truncated by the sender; the message is stored and acknowledged as usual, its values
// kept as sent, and a parse warning naming the positions (never the values) is written on its timeline.

const HOST = '127.0.0.1';
let db: TestDatabase;
let ingest: Ingest;
let listener: MllpListener;

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 4);
  ingest = new Ingest(db.pool, [{ lane: 'standard', flow: 'noop' }]);
  listener = await startMllpListener({
    host: HOST,
    port: 0,
    source: 'mllp-truncation',
    maxMessageBytes: 64 * 1024,
    idleTimeoutMs: 30_000,
    ingest,
    log: pino({ level: 'silent' }),
    recordStage: (messageId, stage, outcome, detail) => recordStage(db.pool, messageId, stage, outcome, detail),
  });
});
afterAll(async () => {
  await listener?.close();
  await ingest?.flush();
  await db?.drop();
});

/** An invented v2.7 order whose sender cut two values to its lengths and marked them with '#'. */
function order(controlId: string, encoding = '^~\\&#'): string {
  return [
    `MSH|${encoding}|SCHED|NORTH|CARELANE|SUPPLY|20260301101500||ORM^O01^ORM_O01|${controlId}|P|2.7`,
    'PID|1||MRN-123^^^NORTH^MR||QUILLFEATHER-WINTERBOTTOM#^ALEXANDRIN||19800101|F',
    'ORC|NW|ORD-77^EHR|||||||20260301101500',
    'OBR|1|ORD-77^EHR||FX100^Catheter insertion, left femoral appro#^L',
    'NTE|1||Room #5',
  ].join('\r') + '\r';
}

async function stagesOf(controlId: string) {
  const { rows } = await db.pool.query<{ payload: Buffer; stage: string; outcome: string; detail: { warning: string; truncationCharacter: string; positions: Array<{ position: string; line: number }> } }>(
    `select m.payload, s.stage, s.outcome, s.detail from carelane.messages m join carelane.message_stages s on s.message_id = m.id
      where m.external_id = $1 and s.stage like 'hl7v2 parse warning%' order by s.id`,
    [controlId],
  );
  return rows;
}

describe('HL7 v2.7 truncation character on the MLLP listener', () => {
  it('stores and acknowledges the message as sent, with a parse warning naming the truncated positions', async () => {
    const client = await MllpClient.connect(HOST, listener.port, { responseTimeoutMs: 10_000 });
    try {
      const ack = await client.send(order('TRUNC-A'));
      expect(ack.split('\r').find((s) => s.startsWith('MSA|'))).toMatch(/^MSA\|AA\|TRUNC-A/);
      const stages = await stagesOf('TRUNC-A');
      expect(stages).toHaveLength(1);
      expect(stages[0]).toMatchObject({
        stage: 'hl7v2 parse warning: 2 value(s) truncated by the sender (PID.5.1, OBR.4.2)',
        outcome: 'ok',
        detail: { warning: 'hl7_truncated_value', truncationCharacter: '#', positions: [{ position: 'PID.5.1', line: 2 }, { position: 'OBR.4.2', line: 4 }] },
      });
      // kept as sent: the mark is still on the stored value
      expect(stages[0]!.payload.toString('utf8')).toContain('QUILLFEATHER-WINTERBOTTOM#^');
      // positions only: no value of the message is in the warning
      expect(JSON.stringify(stages[0])).not.toMatch(/QUILLFEATHER|femoral/);

      // a resend is a duplicate: answered the same, no second warning
      expect(await client.send(order('TRUNC-A'))).toBe(ack);
      expect(await stagesOf('TRUNC-A')).toHaveLength(1);
    } finally {
      await client.close();
    }
  });

  it('writes no warning when MSH-2 declares no truncation character', async () => {
    const client = await MllpClient.connect(HOST, listener.port, { responseTimeoutMs: 10_000 });
    try {
      const ack = await client.send(order('TRUNC-B', '^~\\&'));
      expect(ack).toMatch(/MSA\|AA\|TRUNC-B/);
      const { rows } = await db.pool.query(`select 1 from carelane.messages where external_id = 'TRUNC-B'`);
      expect(rows).toHaveLength(1);
      expect(await stagesOf('TRUNC-B')).toEqual([]);
    } finally {
      await client.close();
    }
  });

  it('warns per message inside a batch', async () => {
    const client = await MllpClient.connect(HOST, listener.port, { responseTimeoutMs: 10_000 });
    try {
      const clean = order('TRUNC-D').replace('WINTERBOTTOM#', 'WINTERBOTTOM').replace('appro#', 'approach');
      const batch = `BHS|^~\\&#|SCHED|NORTH|CARELANE|SUPPLY|20260301101500\r${order('TRUNC-C')}${clean}BTS|2\r`;
      const ack = await client.send(batch);
      expect(ack).toMatch(/MSA\|AA\|TRUNC-C/);
      expect(ack).toMatch(/MSA\|AA\|TRUNC-D/);
      expect((await stagesOf('TRUNC-C')).map((s) => s.detail.positions.map((p) => p.position))).toEqual([['PID.5.1', 'OBR.4.2']]);
      expect(await stagesOf('TRUNC-D')).toEqual([]);
    } finally {
      await client.close();
    }
  });
});
