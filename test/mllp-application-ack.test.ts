import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { parseConfigText, type CarelaneConfig } from '../src/config/index.ts';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { MllpClient, readMessageHeader } from '../src/connectors/hl7v2/index.ts';
import { OdooClient, ProductGateway } from '../src/connectors/odoo/index.ts';
import { applyMappings } from '../src/flows/master-data/mappings.ts';
import { startOdooSimulator, type OdooSimulator } from '../simulators/odoo/index.ts';
import { startHl7Receiver, type Hl7Receiver, type ReceivedHl7 } from '../simulators/ehr/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { waitFor } from './support/engine-harness.ts';

// HL7 v2 enhanced acknowledgment mode end to end over real sockets (v2.5 chapter 2, 2.9.3): the sender's message
// asks for an accept acknowledgment (MSH-15) and an application acknowledgment (MSH-16). The commit ACK CA comes
// back on the sender's connection once the message is stored; the application ACK comes later, after the demand
// flow has processed it, as a message of Carelane's own on a second MLLP connection to the sender's configured
// return address (the EHR simulator's HL7 receiver here), which commits it with CA.

const PATIENT = 'MRN-APPACK-77';
let db: TestDatabase;
let odoo: OdooSimulator;
let returnAddress: Hl7Receiver;
/** a second sender's return address, whose endpoint gives up after one attempt */
let clinicAddress: Hl7Receiver;
let app: RunningCarelane;
let config: CarelaneConfig;
let sender: MllpClient;
const logLines: string[] = [];

function msh(type: string, controlId: string, acks: string, application = 'SCHED'): string {
  return `MSH|^~\\&|${application}|NORTH|CARELANE|NET|20261124080000||${type}|${controlId}|P|2.5.1|||${acks}`;
}

let bookings = 0;
/** A booking at its own hour: the same patient, place and time twice would be refused as a duplicate order. */
function siu(controlId: string, acks: string, room = 'OR-3', application = 'SCHED'): string {
  bookings++;
  const start = `202612${String(bookings).padStart(2, '0')}090000`;
  return [
    msh('SIU^S12^SIU_S12', controlId, acks, application),
    `SCH|${controlId}|F-${controlId}||||||^Knee arthroscopy|60|MIN|^^60^${start}^${start}`,
    `PID|1||${PATIENT}^^^HOSP^MR||DOE^JANE||19700101|F`,
    'RGS|1',
    `AIS|1||29881^Arthroscopy, knee^CPT|${start}|0|MIN|60|MIN`,
    `AIL|1||${room}^^^NORTH`,
  ].join('\r');
}

/** ORC-1 'ZZ' is no table 0119 order control: the demand mapping parks it as a mapping_failure naming ORC.1. */
const unmappableOrm = (controlId: string, acks: string, application?: string): string =>
  [msh('ORM^O01^ORM_O01', controlId, acks, application), `PID|1||${PATIENT}^^^HOSP^MR||DOE^JANE||19700101|F`, 'PV1|1|O|OR-3^^^NORTH', `ORC|ZZ|P-${controlId}`, `OBR|1|P-${controlId}||29881^Arthroscopy^CPT`].join('\r');

const msa = (text: string): string[] => text.split('\r').find((s) => s.startsWith('MSA|'))!.split('|');
const segmentsOf = (text: string): string[] => text.split('\r').filter(Boolean);

async function send(message: string): Promise<string> {
  return sender.send(message);
}

/** The application ACK for a control id, once it has reached the return address. */
function applicationAckFor(controlId: string): ReceivedHl7 | undefined {
  return returnAddress.received.find((r) => r.messageType.startsWith('ACK') && msa(r.text)[2] === controlId);
}

async function stages(controlId: string): Promise<Array<{ stage: string; outcome: string; detail: Record<string, unknown> | null }>> {
  const { rows } = await app.database.pool.query<{ stage: string; outcome: string; detail: Record<string, unknown> | null }>(
    `select s.stage, s.outcome, s.detail from carelane.message_stages s join carelane.messages m on m.id = s.message_id
     where m.external_id = $1 order by s.id`,
    [controlId],
  );
  return rows;
}

const ADMIN_TOKEN = 'app-ack-admin-token';

/** An operator's call on the HTTP API (the admin token holds every permission). */
async function operator(path: string, body: unknown): Promise<Response> {
  return fetch(`${app.httpUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/** The first message stored under a control id (an edited copy shares it). */
async function messageIdOf(controlId: string): Promise<number> {
  const { rows } = await app.database.pool.query<{ id: number }>('select id::int as id from carelane.messages where external_id = $1 order by id limit 1', [controlId]);
  return rows[0]!.id;
}

/** The application ACK deliveries of a message: idempotency key (ends with the MSA-1 code) and status. */
async function ackDeliveries(messageId: number): Promise<Array<{ key: string; status: string }>> {
  const { rows } = await app.database.pool.query<{ key: string; status: string }>(
    `select idempotency_key as key, status from carelane.deliveries where message_id = $1 and idempotency_key like 'hl7-app-ack:%' order by id`,
    [messageId],
  );
  return rows;
}

/** Waits until every application ACK delivery of the message is done, and returns them. */
async function settledAcks(messageId: number): Promise<Array<{ key: string; status: string }>> {
  return waitFor(async () => {
    const rows = await ackDeliveries(messageId);
    return rows.length > 0 && rows.every((r) => r.status === 'done') ? rows : undefined;
  }, 20_000, 'the application ACK deliveries done');
}

async function messageStatus(controlId: string): Promise<string | undefined> {
  const { rows } = await app.database.pool.query<{ status: string }>('select status from carelane.messages where external_id = $1', [controlId]);
  return rows[0]?.status;
}

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 4);
  odoo = await startOdooSimulator({ version: 18, databaseUrl: db.url, schema: 'odoo_app_ack', reset: true });
  returnAddress = await startHl7Receiver();
  clinicAddress = await startHl7Receiver();
  const client = await OdooClient.connect({ url: odoo.url, database: odoo.database, login: 'admin', apiKey: 'sim-admin-api-key', transport: 'jsonrpc' });
  const products = await new ProductGateway(client).ensure([{ key: 'item:gauze', defaultCode: 'GAUZE-4X4', name: 'Gauze 4x4' }]);
  const gauze = products.get('item:gauze')!.id;
  await odoo.seedQuant({ productId: gauze, locationId: odoo.seeded.stockLocationId, quantity: 100 });

  config = parseConfigText(
    `
server: { port: 0 }
mllp: { port: 0 }
engine: { pollIntervalMs: 50 }
odoo:
  connections:
    odoo-main: { url: "${odoo.url}", database: ${odoo.database}, login: admin, apiKey: "\${env:ODOO_KEY}", transport: jsonrpc, timeoutMs: 2000 }
    odoo-south: { url: "http://127.0.0.1:1", database: ${odoo.database}, login: admin, apiKey: "\${env:ODOO_KEY}", transport: jsonrpc, timeoutMs: 500 }
endpoints:
  odoo-south: { retry: { maxAttempts: 2, initialDelayMs: 50, maxDelayMs: 50 }, circuit: { failureThreshold: 1000 } }
  sched-acks: { retry: { maxAttempts: 50, initialDelayMs: 100, maxDelayMs: 300 }, circuit: { failureThreshold: 1000 } }
  clinic-acks: { retry: { maxAttempts: 1 }, circuit: { failureThreshold: 1000 } }
hl7v2:
  destinations:
    sched-acks: { host: 127.0.0.1, port: ${returnAddress.port}, responseTimeoutMs: 2000 }
    clinic-acks: { host: 127.0.0.1, port: ${clinicAddress.port}, responseTimeoutMs: 2000 }
  returnAddresses:
    - { sendingApplication: SCHED, sendingFacility: NORTH, destination: sched-acks }
    - { sendingApplication: CLINIC, destination: clinic-acks }
governance:
  tokenization:
    keys: [{ id: k1, secret: "\${env:PTK}" }]
    activeKeyId: k1
routes:
  - { source: mllp, type: "SIU^*", lane: critical, flow: demand }
  - { source: mllp, type: "ORM^*", lane: critical, flow: demand }
  - { source: mllp, type: "ADT^*", lane: critical, flow: demand }
`,
    { DATABASE_URL: db.url, CARELANE_ADMIN_TOKEN: ADMIN_TOKEN, ODOO_KEY: 'sim-admin-api-key', PTK: 'tokenization-secret-for-app-ack-tests-0123' },
  );
  app = await startCarelane({ config, origin: 'test' }, { log: pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) }) });
  const actor = { actor: 'test', source: 'test setup' };
  await applyMappings(app.database.pool, 'locations', [
    { ehrSystem: 'facility:NORTH', ehrCode: 'OR-3', site: 'north', odooConnection: 'odoo-main', storeroomLocationId: odoo.seeded.stockLocationId, destinationLocationId: odoo.seeded.wardLocationId, pickingTypeId: odoo.seeded.internalPickingTypeId },
    // a site whose Odoo never answers: its reservations run out of retries
    { ehrSystem: 'facility:NORTH', ehrCode: 'OR-9', site: 'south', odooConnection: 'odoo-south', storeroomLocationId: odoo.seeded.stockLocationId, destinationLocationId: odoo.seeded.wardLocationId, pickingTypeId: odoo.seeded.internalPickingTypeId },
  ], actor);
  await applyMappings(app.database.pool, 'items', [{ ehrSystem: 'http://north.example/items', ehrCode: 'G44', odooProductId: gauze }], actor);
  await applyMappings(app.database.pool, 'preference-cards', [
    { site: 'north', procedureSystem: 'CPT', procedureCode: '29881', lines: [{ system: 'http://north.example/items', code: 'G44', quantity: 4 }] },
    { site: 'south', procedureSystem: 'CPT', procedureCode: '29881', lines: [{ system: 'http://north.example/items', code: 'G44', quantity: 4 }] },
  ], actor);
  sender = await MllpClient.connect('127.0.0.1', app.mllpPort!, { responseTimeoutMs: 10_000 });
}, 60_000);

afterAll(async () => {
  await sender?.close();
  await app?.stop();
  await returnAddress?.close();
  await clinicAddress?.close();
  await odoo?.close();
  await db?.drop();
});

describe('HL7 v2 enhanced mode: application acknowledgments (MSH-16)', () => {
  it('answers CA on the connection, reserves in Odoo, then sends AA to the return address on a connection of its own', async () => {
    const commit = await send(siu('SIU-AL-1', 'AL|AL'));
    expect(msa(commit).slice(0, 3)).toEqual(['MSA', 'CA', 'SIU-AL-1']);
    // No application ACK can exist before processing: the CA is about storage only.
    expect(applicationAckFor('SIU-AL-1')).toBeUndefined();

    const received = await waitFor(() => applicationAckFor('SIU-AL-1'), 20_000, 'the application ACK at the return address');
    expect(await messageStatus('SIU-AL-1')).toBe('processed');
    const pickings = (await odoo.records('stock.picking', ['origin'])).filter((p) => String(p.origin).includes('F-SIU-AL-1'));
    expect(pickings).toHaveLength(1);

    const [header, acknowledgment, ...rest] = segmentsOf(received.text);
    const mshFields = header!.split('|');
    // MSH-3/4 from the message's MSH-5/6, MSH-5/6 its MSH-3/4, a control id of its own, MSH-15 AL / MSH-16 NE.
    expect(mshFields.slice(2, 6)).toEqual(['CARELANE', 'NET', 'SCHED', 'NORTH']);
    expect(mshFields[8]).toBe('ACK^S12^ACK');
    expect(mshFields[9]).not.toBe('SIU-AL-1');
    expect(mshFields.slice(14, 16)).toEqual(['AL', 'NE']);
    expect(acknowledgment).toBe('MSA|AA|SIU-AL-1');
    expect(rest).toEqual([]);
    // Only what an ACK carries: nothing of the PID.
    expect(received.text).not.toContain(PATIENT);
    expect(received.text).not.toContain('DOE');
    // The return address committed it (CA), so the send is done and on the message's timeline.
    expect(received.answered).toBe('CA');
    await waitFor(async () => (await stages('SIU-AL-1')).some((s) => s.stage === 'hl7v2.send to sched-acks' && s.outcome === 'ok') || undefined, 10_000, 'the send stage');
    expect((await stages('SIU-AL-1')).map((s) => s.stage)).toContain('hl7v2 application ACK AA queued for sched-acks');
  });

  it('adds to the AA one ERR of severity W per value the v2.7 sender marked as truncated, naming positions only', async () => {
    // MSH-2 `^~\&#`: '#' is the truncation character (v2.7 2.5.5.2); the family name and the procedure's text were cut.
    const message = siu('SIU-TRUNC-1', 'AL|AL')
      .replace('MSH|^~\\&|', 'MSH|^~\\&#|')
      .replace('|P|2.5.1|', '|P|2.7|')
      .replace('||DOE^JANE||', '||DOE#^JANE||')
      .replace('^Arthroscopy, knee^CPT', '^Arthrosc#^CPT');
    expect(msa(await send(message)).slice(1, 3)).toEqual(['CA', 'SIU-TRUNC-1']);
    const received = await waitFor(() => applicationAckFor('SIU-TRUNC-1'), 20_000, 'the application ACK at the return address');
    expect(await messageStatus('SIU-TRUNC-1')).toBe('processed');

    const [header, acknowledgment, ...errs] = segmentsOf(received.text);
    expect(header!.split('|').slice(1, 2)).toEqual(['^~\\&#']);
    expect(acknowledgment).toBe('MSA|AA|SIU-TRUNC-1');
    // ERR-2 segment ^ sequence ^ field ^ repetition ^ component, ERR-3 table 0357 "0", ERR-4 W (table 0516)
    expect(errs.map((s) => s.split('|').slice(0, 5))).toEqual([
      ['ERR', '', 'PID^1^5^1^1', '0^Message accepted^HL70357', 'W'],
      ['ERR', '', 'AIS^1^3^1^2', '0^Message accepted^HL70357', 'W'],
    ]);
    expect(errs.map((s) => s.split('|')[8])).toEqual([
      'PID.5.1: value marked as truncated by the sender (truncation character); stored as sent',
      'AIS.3.2: value marked as truncated by the sender (truncation character); stored as sent',
    ]);
    // positions only: neither the values nor anything else of the message
    expect(received.text).not.toMatch(/DOE|JANE|Arthrosc|MRN-/);
    expect(received.answered).toBe('CA');
    const timeline = await stages('SIU-TRUNC-1');
    expect(timeline.find((s) => s.stage.startsWith('hl7v2 parse warning'))?.stage).toBe('hl7v2 parse warning: 2 value(s) truncated by the sender (PID.5.1, AIS.3.2)');
    expect(timeline.find((s) => s.stage === 'hl7v2 application ACK AA queued for sched-acks')?.detail).toMatchObject({ errors: 0, warnings: 2 });
  });

  it('names at most nine truncated positions in an ACK, and counts the rest in a tenth warning', async () => {
    const notes = Array.from({ length: 12 }, (_, i) => `NTE|${i + 1}||note cut${i}#`);
    const message = `${siu('SIU-TRUNC-2', 'AL|AL').replace('MSH|^~\\&|', 'MSH|^~\\&#|').replace('|P|2.5.1|', '|P|2.7|')}\r${notes.join('\r')}`;
    expect(msa(await send(message))[1]).toBe('CA');
    const received = await waitFor(() => applicationAckFor('SIU-TRUNC-2'), 20_000, 'the application ACK at the return address');
    const errs = segmentsOf(received.text).filter((s) => s.startsWith('ERR|')).map((s) => s.split('|'));
    expect(msa(received.text)[1]).toBe('AA');
    expect(errs.map((f) => f[2])).toEqual([...Array.from({ length: 9 }, (_, i) => `NTE^${i + 1}^3^1`), '']);
    expect(errs.every((f) => f[4] === 'W')).toBe(true);
    expect(errs[9]![8]).toBe('3 more values marked as truncated by the sender (not listed); stored as sent');
    expect(received.text).not.toContain('note cut');
  });

  it('sends AE with an ERR naming the field when MSH-16 ER and the message cannot be mapped', async () => {
    const commit = await send(unmappableOrm('ORM-ER-1', 'AL|ER'));
    expect(msa(commit)[1]).toBe('CA');
    const received = await waitFor(() => applicationAckFor('ORM-ER-1'), 20_000, 'the AE at the return address');
    const segments = segmentsOf(received.text);
    // MSA-3 repeats the first reason for senders that read only MSA (v2.5.1; withdrawn in v2.7)
    expect(segments[1]).toBe("MSA|AE|ORM-ER-1|ORC-1 order control 'ZZ' is not an HL7 table 0119 code Carelane maps");
    const err = segments.find((s) => s.startsWith('ERR|'))!.split('|');
    expect(err[2]).toBe('ORC^1^1');
    expect(err[3]).toBe('103^Table value not found^HL70357');
    expect(err[4]).toBe('E');
    expect(err[8]).toContain("ORC-1 order control 'ZZ'");
    expect(received.text).not.toContain(PATIENT);
    expect(await messageStatus('ORM-ER-1')).toBe('failed');
  });

  it('sends AR with ERR 200 for a message type Carelane does not process (ADT^A01)', async () => {
    const adt = [msh('ADT^A01^ADT_A01', 'ADT-AL-1', 'AL|AL'), 'EVN|A01|20261124080000', `PID|1||${PATIENT}^^^HOSP^MR||DOE^JANE`, 'PV1|1|I|W5^12^1^NORTH'].join('\r');
    expect(msa(await send(adt))[1]).toBe('CA');
    const received = await waitFor(() => applicationAckFor('ADT-AL-1'), 20_000, 'the AR at the return address');
    const segments = segmentsOf(received.text);
    expect(msa(received.text).slice(0, 3)).toEqual(['MSA', 'AR', 'ADT-AL-1']);
    expect(segments[2]).toMatch(/^ERR\|\|MSH\^1\^9\|200\^Unsupported message type\^HL70357\|E\|/);
  });

  it('tells the sender AA too when a message that got AE succeeds after its mapping is added and it replays', async () => {
    expect(msa(await send(siu('SIU-REPLAY-1', 'AL|AL', 'OR-7')))[1]).toBe('CA');
    const error = await waitFor(() => applicationAckFor('SIU-REPLAY-1'), 20_000, 'the AE');
    expect(msa(error.text)[1]).toBe('AE');
    expect(segmentsOf(error.text).find((s) => s.startsWith('ERR|'))).toMatch(/^ERR\|\|\|204\^Unknown key identifier\^HL70357\|E\|\|\|\|no mapping for location facility:NORTH\\F\\OR-7/);
    await applyMappings(app.database.pool, 'locations', [
      { ehrSystem: 'facility:NORTH', ehrCode: 'OR-7', site: 'north', odooConnection: 'odoo-main', storeroomLocationId: odoo.seeded.stockLocationId, destinationLocationId: odoo.seeded.wardLocationId, pickingTypeId: odoo.seeded.internalPickingTypeId },
    ], { actor: 'test', source: 'test' });
    const accepted = await waitFor(() => returnAddress.received.find((r) => r.messageType.startsWith('ACK') && msa(r.text).slice(1, 3).join('|') === 'AA|SIU-REPLAY-1'), 20_000, 'the AA after the replay');
    expect(accepted.text.split('|')[9]).not.toBe(error.text.split('|')[9]);
    expect(await messageStatus('SIU-REPLAY-1')).toBe('processed');
  });

  it("still sends AA after a replay when the earlier AE itself could not be delivered (its own failure is not the message's processing)", async () => {
    clinicAddress.setFault('close');
    expect(msa(await send(siu('SIU-CLINIC-1', 'AL|AL', 'OR-8', 'CLINIC')))[1]).toBe('CA');
    // The AE reached the clinic once, was dropped, and its delivery was parked after its one attempt.
    await waitFor(async () => {
      const { rows } = await app.database.pool.query<{ status: string }>(`select status from carelane.deliveries where idempotency_key like 'hl7-app-ack:%' and payload->>'message' like '%SIU-CLINIC-1%'`);
      return rows[0]?.status === 'exception' || undefined;
    }, 20_000, 'the AE delivery parked');
    expect(clinicAddress.received.map((r) => msa(r.text)[1])).toEqual(['AE']);
    clinicAddress.setFault('none');
    await applyMappings(app.database.pool, 'locations', [
      { ehrSystem: 'facility:NORTH', ehrCode: 'OR-8', site: 'north', odooConnection: 'odoo-main', storeroomLocationId: odoo.seeded.stockLocationId, destinationLocationId: odoo.seeded.wardLocationId, pickingTypeId: odoo.seeded.internalPickingTypeId },
    ], { actor: 'test', source: 'test' });
    const accepted = await waitFor(() => clinicAddress.processed().find((r) => msa(r.text)[2] === 'SIU-CLINIC-1'), 20_000, 'the AA at the clinic');
    expect(msa(accepted.text)[1]).toBe('AA');
    expect(accepted.text.split('\r')[0]!.split('|').slice(4, 6)).toEqual(['CLINIC', 'NORTH']);
  });

  it('sends AR when processing ran out of retries on a peer (a reason unrelated to the message content)', async () => {
    expect(msa(await send(siu('SIU-SOUTH-1', 'AL|ER', 'OR-9')))[1]).toBe('CA');
    const received = await waitFor(() => applicationAckFor('SIU-SOUTH-1'), 20_000, 'the AR at the return address');
    expect(msa(received.text).slice(0, 2)).toEqual(['MSA', 'AR']);
    const err = segmentsOf(received.text).find((s) => s.startsWith('ERR|'))!.split('|');
    expect(err[3]).toBe('207^Application internal error^HL70357');
    expect(err[8]).toMatch(/^processing could not be completed: a system Carelane depends on failed after 2 attempt\(s\); held for an operator \(exception \d+\)$/);
    // The peer's own error text (hosts, ports) stays inside Carelane.
    expect(received.text).not.toContain('127.0.0.1');
  });

  it('sends nothing for MSH-16 SU when processing failed, and records why', async () => {
    expect(msa(await send(unmappableOrm('ORM-SU-1', 'AL|SU')))[1]).toBe('CA');
    const skipped = await waitFor(async () => (await stages('ORM-SU-1')).find((s) => s.stage === 'hl7v2 application ACK AE not sent'), 20_000, 'the skipped stage');
    expect(skipped.outcome).toBe('skipped');
    expect(skipped.detail).toMatchObject({ reason: 'MSH-16 SU asks for success acknowledgments only', ackFor: 'ORM-SU-1' });
    // A later message's ACK has arrived, so this one would have too.
    await send(siu('SIU-AL-2', 'AL|AL'));
    await waitFor(() => applicationAckFor('SIU-AL-2'), 20_000, 'a later application ACK');
    expect(applicationAckFor('ORM-SU-1')).toBeUndefined();
    expect(await messageStatus('ORM-SU-1')).toBe('failed');
  });

  it('records, rather than fails, when the sender has no return address configured', async () => {
    expect(msa(await send(unmappableOrm('ORM-NOADDR-1', 'AL|AL', 'LAB')))[1]).toBe('CA');
    const skipped = await waitFor(async () => (await stages('ORM-NOADDR-1')).find((s) => s.stage === 'hl7v2 application ACK AE not sent'), 20_000, 'the skipped stage');
    expect(skipped.detail).toMatchObject({ reason: 'no hl7v2.returnAddresses entry for sender LAB^NORTH' });
    // The failure is the message's own (its mapping), not the missing address: one exception, for the mapping.
    const { rows } = await app.database.pool.query<{ type: string }>(
      `select e.type from carelane.exceptions e join carelane.messages m on m.id = e.message_id where m.external_id = 'ORM-NOADDR-1'`,
    );
    expect(rows).toEqual([{ type: 'mapping_failure' }]);
  });

  it('sends no application ACK for MSH-16 NE or an original-mode message', async () => {
    expect(msa(await send(siu('SIU-NE-1', 'AL|NE')))[1]).toBe('CA');
    expect(msa(await send(siu('SIU-ORIG-1', '')))[1]).toBe('AA');
    await waitFor(async () => ((await messageStatus('SIU-NE-1')) === 'processed' && (await messageStatus('SIU-ORIG-1')) === 'processed') || undefined, 20_000, 'both processed');
    await send(siu('SIU-AL-3', 'AL|AL'));
    await waitFor(() => applicationAckFor('SIU-AL-3'), 20_000, 'a later application ACK');
    expect(applicationAckFor('SIU-NE-1')).toBeUndefined();
    expect(applicationAckFor('SIU-ORIG-1')).toBeUndefined();
    expect((await stages('SIU-NE-1')).filter((s) => s.stage.startsWith('hl7v2 application ACK'))).toEqual([]);
  });

  it('answers CA, then sends AR with ERR 200 at MSH-9 for a message no route takes, which stays unprocessed', async () => {
    const mfn = [msh('MFN^M02^MFN_M02', 'MFN-AL-1', 'AL|AL'), 'MFI|PRA||UPD|||AL', 'MFE|MAD|||DR-1'].join('\r');
    expect(msa(await send(mfn)).slice(0, 3)).toEqual(['MSA', 'CA', 'MFN-AL-1']);
    const received = await waitFor(() => applicationAckFor('MFN-AL-1'), 20_000, 'the AR at the return address');
    const segments = segmentsOf(received.text);
    expect(msa(received.text).slice(0, 3)).toEqual(['MSA', 'AR', 'MFN-AL-1']);
    expect(segments[2]).toMatch(/^ERR\|\|MSH\^1\^9\|200\^Unsupported message type\^HL70357\|E\|/);
    expect(segments[2]!.split('|')[8]).toBe('message type MFN\\S\\M02 is not processed by this receiver (no route takes it)');
    expect(received.answered).toBe('CA');
    // The AR's own delivery ending does not make the message look processed (nor earn it an AA).
    const messageId = await messageIdOf('MFN-AL-1');
    expect((await settledAcks(messageId)).map((d) => d.key)).toEqual([`hl7-app-ack:${messageId}:AR`]);
    expect(await messageStatus('MFN-AL-1')).toBe('received');
    expect((await stages('MFN-AL-1')).map((s) => s.stage)).toContain('hl7v2 application ACK AR queued for sched-acks');
  });

  for (const action of ['dismiss', 'cancel'] as const) {
    it(`tells the sender AE once, and nothing else, when an operator chooses ${action} while that AE is still on its way`, async () => {
      const controlId = `ORM-${action.toUpperCase()}-1`;
      returnAddress.setFault('close');
      let exceptionId: number;
      try {
        expect(msa(await send(unmappableOrm(controlId, 'AL|AL')))[1]).toBe('CA');
        // The AE reached the return address, which dropped it: its delivery is retrying.
        await waitFor(() => returnAddress.received.find((r) => r.text.includes(`MSA|AE|${controlId}`)), 20_000, 'a dropped AE');
        const { rows } = await app.database.pool.query<{ id: number }>(
          `select e.id::int as id from carelane.exceptions e join carelane.messages m on m.id = e.message_id where m.external_id = $1 and e.status = 'open'`,
          [controlId],
        );
        exceptionId = rows[0]!.id;
        const resolved = await operator(`/api/v1/exceptions/${exceptionId}/resolve`, { action, note: 'the ward phoned: order withdrawn, host ehr-prod-7' });
        expect(resolved.status).toBe(200);
      } finally {
        returnAddress.setFault('none');
      }
      const messageId = await messageIdOf(controlId);
      // Before: once that AE was delivered the message settled again and was told AR (dismiss: a parked step and no
      // open exception) or AA (cancel: nothing parked any more), contradicting the AE it had just received.
      expect((await settledAcks(messageId)).map((d) => d.key)).toEqual([`hl7-app-ack:${messageId}:AE`]);
      const told = returnAddress.processed().filter((r) => msa(r.text)[2] === controlId);
      expect(told.map((r) => msa(r.text)[1])).toEqual(['AE']);
      const err = segmentsOf(told[0]!.text).find((s) => s.startsWith('ERR|'))!.split('|');
      expect(err[8]).toContain("ORC-1 order control 'ZZ'");
      // The operator's note is the audit trail's, not the sender's.
      expect(told[0]!.text).not.toContain('phoned');
      expect(told[0]!.text).not.toContain('ehr-prod-7');
      const { rows: exception } = await app.database.pool.query<{ status: string; resolution_action: string }>('select status, resolution_action from carelane.exceptions where id = $1', [exceptionId!]);
      expect(exception[0]).toEqual({ status: 'resolved', resolution_action: action });
    });
  }

  it('sends the AE when the operator dismisses an exception whose message was not settled before', async () => {
    // A message failed before the sender had a return address (or before application ACKs existed): it settled
    // without one, recorded as skipped. The operator's dismiss settles it again and the sender is told now.
    const commit = await send(unmappableOrm('ORM-LATE-1', 'AL|AL'));
    expect(msa(commit)[1]).toBe('CA');
    const messageId = await messageIdOf('ORM-LATE-1');
    await waitFor(async () => (await messageStatus('ORM-LATE-1')) === 'failed' || undefined, 20_000, 'the message failed');
    const sent = await settledAcks(messageId);
    // Take the AE back out, as if it had never been sent: the verdict is made again when the operator acts.
    await app.database.pool.query('delete from carelane.deliveries where id = any(select id from carelane.deliveries where message_id = $1 and idempotency_key = $2)', [messageId, sent[0]!.key]);
    // Counted as read, duplicates included: the AE sent again has the same MSH-10 (its delivery's key is the same).
    const copies = () => returnAddress.received.filter((r) => r.answered === 'CA' && msa(r.text)[2] === 'ORM-LATE-1');
    const before = copies().length;
    const { rows } = await app.database.pool.query<{ id: number }>(`select id::int as id from carelane.exceptions where message_id = $1 and status = 'open'`, [messageId]);
    expect((await operator(`/api/v1/exceptions/${rows[0]!.id}/resolve`, { action: 'dismiss', note: 'sender will correct it' })).status).toBe(200);
    const acks = await settledAcks(messageId);
    expect(acks.map((d) => d.key)).toEqual([`hl7-app-ack:${messageId}:AE`]);
    const told = await waitFor(() => (copies().length > before ? copies() : undefined), 20_000, 'the AE after the dismiss');
    expect(msa(told.at(-1)!.text)[1]).toBe('AE');
  });

  it('answers for an edited and replayed message with the copy, and sends nothing more for the original', async () => {
    expect(msa(await send(unmappableOrm('ORM-EDIT-1', 'AL|AL')))[1]).toBe('CA');
    const originalId = await messageIdOf('ORM-EDIT-1');
    await settledAcks(originalId);
    const { rows } = await app.database.pool.query<{ payload: Buffer }>('select payload from carelane.messages where id = $1', [originalId]);
    const corrected = rows[0]!.payload.toString('utf8').replace('ORC|ZZ|', 'ORC|NW|');
    const edited = await operator(`/api/v1/messages/${originalId}/edit-replay`, { payload: corrected, reason: 'ORC-1 typo at the sender' });
    expect(edited.status).toBe(201);
    const accepted = await waitFor(() => returnAddress.processed().find((r) => msa(r.text).slice(1, 3).join('|') === 'AA|ORM-EDIT-1'), 20_000, 'the AA for the corrected copy');
    expect(accepted).toBeDefined();
    // The sender hears AE (the original) then AA (its corrected copy) for its MSH-10, and nothing else.
    expect(returnAddress.processed().filter((r) => msa(r.text)[2] === 'ORM-EDIT-1').map((r) => msa(r.text)[1])).toEqual(['AE', 'AA']);
    const superseded = (await stages('ORM-EDIT-1')).find((s) => s.stage === 'hl7v2 application ACK: superseded by an edited copy');
    expect(superseded).toMatchObject({ outcome: 'skipped', detail: { ackFor: 'ORM-EDIT-1' } });
    expect((await ackDeliveries(originalId)).map((d) => d.key)).toEqual([`hl7-app-ack:${originalId}:AE`]);
  });

  it('keeps an application ACK the return address did not take through retries and a restart, with the same MSH-10', async () => {
    returnAddress.setFault('close');
    expect(msa(await send(siu('SIU-RESTART-1', 'AL|AL')))[1]).toBe('CA');
    // The return address dropped the connection on at least one attempt: the delivery is retrying.
    const dropped = await waitFor(() => returnAddress.received.find((r) => r.text.includes('MSA|AA|SIU-RESTART-1')), 20_000, 'a dropped attempt');
    await sender.close();
    await app.stop();
    returnAddress.setFault('none');
    app = await startCarelane({ config, origin: 'test' }, { log: pino({ level: 'silent' }) });
    sender = await MllpClient.connect('127.0.0.1', app.mllpPort!, { responseTimeoutMs: 10_000 });
    const received = await waitFor(() => returnAddress.received.find((r) => r.answered === 'CA' && msa(r.text)[2] === 'SIU-RESTART-1'), 20_000, 'the application ACK after the restart');
    const controlIdOf = (text: string) => (readMessageHeader(text) as { ok: true; header: { controlId: string } }).header.controlId;
    expect(controlIdOf(received.text)).toBe(controlIdOf(dropped.text));
    // Exactly one AA reached the return address's application (the dropped copies were never taken in).
    expect(returnAddress.processed().filter((r) => msa(r.text)[2] === 'SIU-RESTART-1')).toHaveLength(1);
  });

  it('writes no patient identifier into any log line', () => {
    expect(logLines.length).toBeGreaterThan(10);
    expect(logLines.filter((line) => line.includes(PATIENT) || line.includes('DOE'))).toEqual([]);
  });
});
