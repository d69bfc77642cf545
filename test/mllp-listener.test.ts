import net from 'node:net';
import { networkInterfaces } from 'node:os';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarelaneError } from '../src/contracts/errors.ts';
import { Ingest } from '../src/engine/ingest.ts';
import { MllpClient, startMllpListener, type InboundSink, type MllpListener } from '../src/connectors/hl7v2/index.ts';
import { createTestDatabase, databaseTargets, type TestDatabase } from './support/databases.ts';

const log = pino({ level: 'silent' });
const HOST = '127.0.0.1';
const MAX_BYTES = 4096;
const REALDATA = path.resolve(import.meta.dirname, '../../shared/realdata/hl7v2');
const sample = (name: string) => readFileSync(path.join(REALDATA, name), 'utf8');

/** A real ADT^A01 (rethinkhealth fixtures) with the given MSH-10, segments ended by CR as on the wire. */
function adt(controlId: string): string {
  const lines = sample('rethinkhealth-hl7v2-qa-fixtures/adt-a01-basic.hl7').split(/\r\n|\r|\n/).filter(Boolean);
  const msh = lines[0]!.split('|');
  msh[9] = controlId;
  lines[0] = msh.join('|');
  return `${lines.join('\r')}\r`;
}

const segment = (ack: string, name: string) => ack.split('\r').find((s) => s.startsWith(`${name}|`))?.split('|');

interface StoredRow {
  id: number;
  status: string;
  status_reason: string | null;
  message_type: string;
  external_id: string | null;
  payload: Buffer;
  payload_truncated: boolean;
  ack_payload: string | null;
  duplicate_count: number;
}

describe('MLLP listener on a real socket and a real database', () => {
  let db: TestDatabase;
  let ingest: Ingest;
  let listener: MllpListener;
  let ids = 0;
  const nextId = (prefix: string) => `${prefix}-${++ids}-${process.pid}`;

  const rowsWhere = async (where: string, params: unknown[]): Promise<StoredRow[]> =>
    (await db.pool.query<StoredRow>(`select * from carelane.messages where ${where} order by id`, params)).rows;
  const connect = () => MllpClient.connect(HOST, listener.port, { responseTimeoutMs: 10_000 });

  beforeAll(async () => {
    db = await createTestDatabase(databaseTargets()[0]!);
    ingest = new Ingest(db.pool, [{ lane: 'standard', flow: 'noop' }]);
    listener = await startMllpListener({ host: HOST, port: 0, source: 'mllp-test', maxMessageBytes: MAX_BYTES, idleTimeoutMs: 30_000, ingest, log, unframedQuietMs: 100 });
  });
  afterAll(async () => {
    await listener?.close();
    await ingest?.flush();
    await db?.drop();
  });

  it('answers a valid ADT^A01 with AA, and the message is stored when the ACK arrives', async () => {
    const client = await connect();
    const controlId = nextId('ADT');
    const message = adt(controlId);
    const ack = await client.send(message);
    // queried the moment the ACK is in hand: the row must already be committed
    const rows = await rowsWhere('external_id = $1', [controlId]);
    await client.close();

    expect(segment(ack, 'MSA')).toEqual(['MSA', 'AA', controlId]);
    const msh = segment(ack, 'MSH')!;
    expect(msh.slice(2, 6)).toEqual(['RECV_APP', 'FACILITY_B', 'ADT_APP', 'FACILITY_A']);
    expect(msh[8]).toBe('ACK^A01^ACK');
    expect(msh[9]).not.toBe(controlId);
    expect(msh[11]).toBe('2.5.1');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'received', message_type: 'ADT^A01', external_id: controlId, ack_payload: ack, duplicate_count: 0 });
    expect(rows[0]!.payload.equals(Buffer.from(message))).toBe(true);
    await ingest.flush();
    const stages = await db.pool.query(`select stage, at from carelane.message_stages where message_id = $1`, [rows[0]!.id]);
    expect(stages.rows.map((r) => r.stage)).toEqual(['acknowledged']);
  });

  it('does not answer until the message is stored', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slowSink: InboundSink = {
      accept: async (message) => {
        await gate;
        return ingest.accept(message);
      },
      acknowledge: (id) => ingest.acknowledge(id),
    };
    const slow = await startMllpListener({ host: HOST, port: 0, source: 'mllp-slow', maxMessageBytes: MAX_BYTES, idleTimeoutMs: 30_000, ingest: slowSink, log });
    const client = await MllpClient.connect(HOST, slow.port);
    try {
      let answered = false;
      const controlId = nextId('SLOW');
      const ack = client.send(adt(controlId)).then((a) => ((answered = true), a));
      await new Promise((r) => setTimeout(r, 300));
      expect(answered).toBe(false);
      expect(await rowsWhere('external_id = $1', [controlId])).toHaveLength(0);
      release();
      expect(segment(await ack, 'MSA')?.[1]).toBe('AA');
      expect(await rowsWhere('external_id = $1', [controlId])).toHaveLength(1);
    } finally {
      release();
      await client.close();
      await slow.close();
    }
  });

  it('answers a duplicate MSH-10 with the identical ACK and stores one message', async () => {
    const controlId = nextId('DUP');
    const first = await connect();
    const ack1 = await first.send(adt(controlId));
    const ack2 = await first.send(adt(controlId));
    await first.close();
    // a resend after a reconnect, as a sender does when it missed the ACK
    const second = await connect();
    const ack3 = await second.send(adt(controlId));
    await second.close();

    expect(segment(ack1, 'MSA')?.[1]).toBe('AA');
    expect(ack2).toBe(ack1);
    expect(ack3).toBe(ack1);
    const rows = await rowsWhere('external_id = $1', [controlId]);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.duplicate_count).toBe(2);
  });

  it('counts one duplicate as duplicate_count 1', async () => {
    const controlId = nextId('DUP1');
    const client = await connect();
    const ack1 = await client.send(adt(controlId));
    const ack2 = await client.send(adt(controlId));
    await client.close();
    expect(ack2).toBe(ack1);
    const rows = await rowsWhere('external_id = $1', [controlId]);
    expect(rows.map((r) => r.duplicate_count)).toEqual([1]);
  });

  describe('bad input is stored as rejected, answered with a negative ACK saying why, and the connection goes on', () => {
    async function expectStillServing(client: MllpClient): Promise<void> {
      const sameId = nextId('AFTER');
      expect(segment(await client.send(adt(sameId)), 'MSA')).toEqual(['MSA', 'AA', sameId]);
      const fresh = await connect();
      const freshId = nextId('NEWCONN');
      expect(segment(await fresh.send(adt(freshId)), 'MSA')).toEqual(['MSA', 'AA', freshId]);
      await fresh.close();
    }

    it('an empty frame', async () => {
      const client = await connect();
      client.writeRaw(Buffer.from([0x0b, 0x1c, 0x0d]));
      const ack = await client.nextResponse();
      expect(segment(ack, 'MSA')?.[1]).toBe('AR');
      const err = segment(ack, 'ERR')!;
      expect(err[3]).toBe('100^Segment sequence error^HL70357');
      expect(err[4]).toBe('E');
      expect(err[8]).toContain('empty MLLP frame');
      const rows = await rowsWhere(`status = 'rejected' and status_reason like 'mllp_empty_frame%'`, []);
      expect(rows.length).toBeGreaterThanOrEqual(1);
      expect(rows[0]!.payload).toHaveLength(0);
      await expectStillServing(client);
      await client.close();
    });

    it('binary junk sent without MLLP framing', async () => {
      const client = await connect();
      const junk = Buffer.from([0x00, 0xff, 0xfe, 0x13, 0x37, 0x42, 0x99, 0x1b, 0x5b]);
      client.writeRaw(junk);
      const ack = await client.nextResponse();
      expect(segment(ack, 'MSA')?.[1]).toBe('AR');
      expect(segment(ack, 'ERR')![8]).toContain('outside an MLLP frame');
      const rows = await rowsWhere('payload = $1', [junk]);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ status: 'rejected', message_type: 'unknown' });
      expect(rows[0]!.status_reason).toContain('mllp_framing');
      await expectStillServing(client);
      await client.close();
    });

    it('a message without MSH', async () => {
      const client = await connect();
      const body = sample('rethinkhealth-hl7v2-qa-fixtures/invalid-missing-msh.hl7');
      const ack = await client.send(body);
      expect(segment(ack, 'MSA')?.[1]).toBe('AR');
      const err = segment(ack, 'ERR')!;
      expect(err[2]).toBe('MSH^1');
      expect(err[3]).toBe('100^Segment sequence error^HL70357');
      expect(err[8]).toBe("the message does not start with an MSH segment (found 'PID' on line 1)");
      const rows = await rowsWhere('payload = $1', [Buffer.from(body)]);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ status: 'rejected', message_type: 'unknown', ack_payload: ack });
      await expectStillServing(client);
      await client.close();
    });

    it('an oversize message', async () => {
      const client = await connect();
      const controlId = nextId('BIG');
      const big = `${adt(controlId)}NTE|1||${'x'.repeat(MAX_BYTES)}\r`;
      const ack = await client.send(big);
      // the header is in the kept first bytes: the AR still names the message
      expect(segment(ack, 'MSA')).toEqual(['MSA', 'AR', controlId, expect.stringContaining('exceeds')]);
      const err = segment(ack, 'ERR')!;
      expect(err[3]).toBe('207^Application internal error^HL70357');
      expect(err[8]).toBe(`message of ${Buffer.byteLength(big)} bytes exceeds this listener's limit of ${MAX_BYTES} bytes`);
      const rows = await rowsWhere('external_id = $1', [controlId]);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ status: 'rejected', payload_truncated: true });
      expect(rows[0]!.payload.equals(Buffer.from(big).subarray(0, MAX_BYTES))).toBe(true);
      await expectStillServing(client);
      await client.close();
    });

    it('a header without MSH-9 (real malformed sample): AR naming the message, the field and the code', async () => {
      const client = await connect();
      const body = sample('cdcgov-trusted-intermediary/malformed-msh/msh_present_but_missing_msh-9.hl7');
      const ack = await client.send(body);
      expect(segment(ack, 'MSA')?.slice(0, 3)).toEqual(['MSA', 'AR', '111111']);
      const err = segment(ack, 'ERR')!;
      expect(err[2]).toBe('MSH^1^9');
      expect(err[3]).toBe('101^Required field missing^HL70357');
      expect(err[8]).toBe('MSH-9 message type is empty');
      const rows = await rowsWhere('payload = $1', [Buffer.from(body)]);
      expect(rows.map((r) => r.status)).toEqual(['rejected']);
      await expectStillServing(client);
      await client.close();
    });
  });

  it('rejects a version that is not HL7 v2 with ERR-3 203 (real sample with MSH-12 1.0)', async () => {
    const client = await connect();
    const body = sample('rethinkhealth-hl7v2-qa-fixtures/invalid-wrong-version.hl7').replace('|MSG001|', `|${nextId('V1')}|`);
    const ack = await client.send(body);
    await client.close();
    expect(segment(ack, 'MSA')?.[1]).toBe('AR');
    expect(segment(ack, 'ERR')?.slice(2, 4)).toEqual(['MSH^1^12', '203^Unsupported version id^HL70357']);
    expect(segment(ack, 'MSH')?.[11]).toBe('1.0');
    expect((await rowsWhere('payload = $1', [Buffer.from(body)])).map((r) => r.status)).toEqual(['rejected']);
  });

  it('splits an FHS/BHS batch, stores its message and answers a batch of ACKs in the same envelope (real Mirth batch)', async () => {
    const client = await connect();
    const body = sample('mirth-connect/test-hl7-batch-input.txt');
    const ack = await client.send(body);
    await client.close();
    const segments = ack.split('\r').filter(Boolean).map((s) => s.slice(0, 3));
    expect(segments).toEqual(['FHS', 'BHS', 'MSH', 'MSA', 'BTS', 'FTS']);
    // its MSH asks for enhanced mode (MSH-15 AL): the accept acknowledgment CA
    expect(segment(ack, 'MSA')?.slice(0, 3)).toEqual(['MSA', 'CA', '12345678']);
    expect(segment(ack, 'BTS')).toEqual(['BTS', '1']);
    const rows = await rowsWhere("source = 'mllp-test' and external_id = $1", ['12345678']);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'received', message_type: 'ORM^O01' });
    expect(rows[0]!.payload.toString().startsWith('MSH|^~\\&|MIRTH|MIRTH|')).toBe(true);
    expect(rows[0]!.payload.toString()).not.toContain('FHS');
  });

  it('answers each message of a batch on its own: AA, AR for the bad one, the first answer again for a duplicate', async () => {
    const [first, second] = [nextId('B1'), nextId('B2')];
    const batch = ['BHS|^~\\&|SENDER|FAC|CARELANE|NET|20260501120000||||BATCH-7', adt(first).trimEnd(), 'MSH|^~\\&|SENDER|FAC|CARELANE|NET|20260501120000||ADT^A08||P|2.5.1', adt(first).trimEnd(), adt(second).trimEnd(), 'BTS|4'].join('\r');
    const client = await connect();
    const ack = await client.send(batch);
    await client.close();
    const msas = ack.split('\r').filter((s) => s.startsWith('MSA|')).map((s) => s.split('|').slice(1, 3));
    expect(msas).toEqual([['AA', first], ['AR', ''], ['AA', first], ['AA', second]]);
    // BHS-12 reference batch control id names the batch answered (split index n is BHS-(n+1), as for MSH)
    expect(segment(ack, 'BHS')?.[11]).toBe('BATCH-7');
    expect(segment(ack, 'BHS')?.[10]).toMatch(/^C/);
    expect(segment(ack, 'BTS')).toEqual(['BTS', '4']);
    expect(ack).toContain('MSH-10 message control id is empty');
    expect((await rowsWhere("source = 'mllp-test' and external_id = any($1)", [[first, second]])).map((r) => [r.external_id, r.duplicate_count])).toEqual([[first, 1], [second, 0]]);
  });

  it('rejects a batch whose BTS-1 count does not match, naming BTS.1', async () => {
    const controlId = nextId('BTS');
    const client = await connect();
    const ack = await client.send(['BHS|^~\\&|SENDER|FAC', adt(controlId).trimEnd(), 'BTS|3'].join('\r'));
    await client.close();
    expect(segment(ack, 'MSA')?.[1]).toBe('AR');
    expect(segment(ack, 'ERR')?.[2]).toBe('BTS^1^1');
    expect(segment(ack, 'ERR')?.[8]).toContain('BTS-1 says the batch holds 3 messages, 1 were received');
    expect((await rowsWhere('external_id = $1', [controlId])).map((r) => r.status)).toEqual(['rejected']);
  });

  it('answers frames pipelined in one write strictly in order', async () => {
    const client = await connect();
    const controlIds = Array.from({ length: 30 }, (_, i) => nextId(`ORD${i}`));
    const bodies = controlIds.map((id, i) => (i % 7 === 3 ? `PID|${id}\r` : adt(id)));
    const acks = await Promise.all(bodies.map((body) => client.send(body)));
    await client.close();
    acks.forEach((ack, i) => {
      const msa = segment(ack, 'MSA')!;
      if (i % 7 === 3) expect(msa[1]).toBe('AR');
      else expect(msa.slice(1, 3)).toEqual(['AA', controlIds[i]]);
    });
  });

  it('answers the accept acknowledgment CA to a real enhanced-mode message (MSH-15 AL)', async () => {
    const client = await connect();
    const body = sample('cdcgov-trusted-intermediary/TX_001_TX_OML_O21.hl7').replace(/\r?\n/g, '\r');
    const ack = await client.send(body);
    await client.close();
    expect(segment(ack, 'MSA')?.slice(0, 3)).toEqual(['MSA', 'CA', '0123']);
    expect(segment(ack, 'MSH')?.[8]).toBe('ACK^O21^ACK');
  });

  it('never answers AA for a message it could not store: AE with ERR-3 207, and the connection stays usable', async () => {
    const deadPool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/none', connectionTimeoutMillis: 1000 });
    deadPool.on('error', () => {});
    const down = await startMllpListener({ host: HOST, port: 0, source: 'mllp-down', maxMessageBytes: MAX_BYTES, idleTimeoutMs: 30_000, ingest: new Ingest(deadPool, []), log });
    const client = await MllpClient.connect(HOST, down.port);
    try {
      for (const controlId of [nextId('DOWN'), nextId('DOWN')]) {
        const ack = await client.send(adt(controlId));
        expect(segment(ack, 'MSA')?.slice(0, 3)).toEqual(['MSA', 'AE', controlId]);
        const err = segment(ack, 'ERR')!;
        expect(err[3]).toBe('207^Application internal error^HL70357');
        expect(err[8]).toBe('message not stored, resend');
      }
    } finally {
      await client.close();
      await down.close();
      await deadPool.end();
    }
  });

  it('closes the connection instead of answering a batch when a message not stored asked for no error ACK (MSH-15 SU)', async () => {
    const failing = nextId('BATCH-FAIL');
    const flakySink: InboundSink = {
      accept: async (message) => {
        if (message.externalId === failing) throw new Error('database down for this message');
        return ingest.accept(message);
      },
      acknowledge: (id) => ingest.acknowledge(id),
    };
    const flaky = await startMllpListener({ host: HOST, port: 0, source: 'mllp-flaky', maxMessageBytes: MAX_BYTES, idleTimeoutMs: 30_000, ingest: flakySink, log });
    const client = await MllpClient.connect(HOST, flaky.port, { responseTimeoutMs: 10_000 });
    try {
      const good = nextId('BATCH-OK');
      const successOnly = adt(failing).replace(/^(MSH(?:\|[^|\r]*){11})/, '$1|||SU');
      expect(successOnly.split('\r')[0]!.split('|')[14]).toBe('SU');
      const batch = ['BHS|^~\\&|SENDER|FAC|CARELANE|NET|20260501120000||||BATCH-SU', adt(good).trimEnd(), successOnly.trimEnd(), 'BTS|2'].join('\r');
      // An answered batch would tell the sender both messages arrived; the one that was not stored would be lost.
      await expect(client.send(batch)).rejects.toMatchObject({ code: 'mllp_connection_closed' });
      expect(await rowsWhere('external_id = $1', [failing])).toHaveLength(0);
      const kept = await rowsWhere('external_id = $1', [good]);
      expect(kept).toHaveLength(1);
      expect(kept[0]!.status).toBe('received');
    } finally {
      await client.close();
      await flaky.close();
    }
  });

  it('binds to 127.0.0.1 only', async () => {
    expect(listener.host).toBe('127.0.0.1');
    const other = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal);
    if (other) {
      const refused = await MllpClient.connect(other.address, listener.port, { connectTimeoutMs: 2000 }).then(
        async (c) => (await c.close(), null),
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(CarelaneError);
      expect((refused as CarelaneError).code).toBe('mllp_connect_failed');
    }
    await expect(startMllpListener({ host: '', port: 0, source: 'x', maxMessageBytes: MAX_BYTES, idleTimeoutMs: 1000, ingest, log })).rejects.toMatchObject({ code: 'mllp_no_host' });
  });

  it('closes a connection that stays idle past idleTimeoutMs', async () => {
    const idle = await startMllpListener({ host: HOST, port: 0, source: 'mllp-idle', maxMessageBytes: MAX_BYTES, idleTimeoutMs: 300, ingest, log });
    try {
      const socket = net.connect({ host: HOST, port: idle.port });
      const started = Date.now();
      await new Promise<void>((resolve) => socket.once('close', () => resolve()));
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await idle.close();
    }
  });

  it('close() ends open connections', async () => {
    const own = await startMllpListener({ host: HOST, port: 0, source: 'mllp-close', maxMessageBytes: MAX_BYTES, idleTimeoutMs: 30_000, ingest, log });
    const client = await MllpClient.connect(HOST, own.port);
    const pending = client.nextResponse().catch((error: unknown) => error);
    await own.close();
    expect(await pending).toMatchObject({ code: 'mllp_connection_closed' });
    await expect(MllpClient.connect(HOST, own.port, { connectTimeoutMs: 2000 })).rejects.toMatchObject({ code: 'mllp_connect_failed' });
  });
});
