import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import pg from 'pg';
import { startFhirListener } from '../src/connectors/fhir/index.ts';
import { startMllpListener } from '../src/connectors/hl7v2/index.ts';
import { Ingest } from '../src/engine/ingest.ts';
import { connect } from '../src/store/database.ts';
import { migrate } from '../src/store/migrate.ts';
import { siuMessage, defaultScenario } from '../simulators/ehr/index.ts';
import { MllpSender } from './mllp-sender.ts';
import { createScratchDatabase, formatTable, queryOnce, round, type BenchServer } from './support.ts';

/**
 * EHR ingest (issue 4): FHIR R4 subscription notifications and HL7 v2 SIU^S12 messages persisted and
 * acknowledged per second through the running listeners (FHIR listener: 200 after the row is committed; MLLP
 * listener: AA after it is), with p99 latency per request, for 1 and 8 senders. Baseline in the same run: one
 * autocommitted insert of the same payload per message from as many clients, with its own p99.
 */

export interface EhrIngestBenchOptions {
  count: number;
  senders: number[];
  keep: boolean;
  log: (line: string) => void;
}

interface Run {
  senders: number;
  count: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

export interface EhrIngestBenchResult {
  name: 'ehr-ingest';
  count: number;
  fhirBytes: number;
  hl7Bytes: number;
  runs: Array<{ kind: 'FHIR notification' | 'HL7 v2 SIU^S12'; senders: number; listener: Run; raw: Run; ratio: number }>;
}

const HOST = '127.0.0.1';
const scenario = defaultScenario();
const appointment = scenario.demand.find((d) => d.resourceType === 'Appointment')!;
const [patient] = scenario.patients;
const [location] = scenario.locations;

/** The n-th REST-hook event-notification (R4 Subscriptions Backport), full-resource: a booked Appointment. */
function notification(n: number): Buffer {
  const resource = { ...appointment, id: `bench-${n}`, meta: { versionId: '1', lastUpdated: new Date().toISOString() } };
  const bundle = {
    resourceType: 'Bundle',
    id: randomUUID(),
    type: 'history',
    timestamp: new Date().toISOString(),
    entry: [
      {
        fullUrl: `urn:uuid:${randomUUID()}`,
        resource: {
          resourceType: 'Parameters',
          id: randomUUID(),
          meta: { profile: ['http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-status-r4'] },
          parameter: [
            { name: 'subscription', valueReference: { reference: 'http://ehr.invalid/fhir/Subscription/bench' } },
            { name: 'topic', valueCanonical: 'http://ehr.invalid/SubscriptionTopic/clinical-demand' },
            { name: 'status', valueCode: 'active' },
            { name: 'type', valueCode: 'event-notification' },
            { name: 'events-since-subscription-start', valueString: String(n + 1) },
            { name: 'notification-event', part: [{ name: 'event-number', valueString: String(n + 1) }, { name: 'focus', valueReference: { reference: `http://ehr.invalid/fhir/Appointment/bench-${n}` } }] },
          ],
        },
        request: { method: 'GET', url: 'http://ehr.invalid/fhir/Subscription/bench/$status' },
        response: { status: '200' },
      },
      { fullUrl: `http://ehr.invalid/fhir/Appointment/bench-${n}`, resource, request: { method: 'POST', url: 'Appointment' }, response: { status: '201' } },
    ],
  };
  return Buffer.from(JSON.stringify(bundle));
}

function siu(n: number): Buffer {
  return Buffer.from(siuMessage('S12', { ...appointment, id: `bench-${n}` } as never, patient!, location!, `SIU-${n}`));
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function timed(count: number, senders: number, one: (sender: number, n: number) => Promise<void>): Promise<Run> {
  const perSender = Math.ceil(count / senders);
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: senders }, async (_, s) => {
      for (let i = 0; i < perSender; i++) {
        const t = performance.now();
        await one(s, s * perSender + i);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const total = perSender * senders;
  return { senders, count: total, perSecond: round(total / seconds, 1), p50Ms: round(percentile(latencies, 50), 2), p99Ms: round(percentile(latencies, 99), 2) };
}

async function rawInsert(server: BenchServer, payloads: (n: number) => Buffer, count: number, senders: number, keep: boolean): Promise<Run> {
  const scratch = await createScratchDatabase(server, `ehr_raw_${senders}`);
  const clients = Array.from({ length: senders }, () => new pg.Client({ connectionString: scratch.url, application_name: 'ehr-raw-bench' }));
  try {
    await Promise.all(clients.map((c) => c.connect()));
    await clients[0]!.query('create table bench_raw (id bigserial primary key, payload bytea not null)');
    return await timed(count, senders, async (s, n) => void (await clients[s]!.query('insert into bench_raw (payload) values ($1)', [payloads(n)])));
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
    if (!keep) await scratch.drop();
  }
}

/** An HTTP agent per sender keeps one connection each, as an EHR's notification worker does. */
function post(agent: http.Agent, url: URL, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/fhir+json', 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function listenerRun(server: BenchServer, kind: 'fhir' | 'hl7', count: number, senders: number, keep: boolean): Promise<Run> {
  const scratch = await createScratchDatabase(server, `ehr_${kind}_${senders}`);
  const database = connect(scratch.url, senders + 2, 'carelane-ehr-bench');
  const log = pino({ level: 'silent' });
  try {
    await migrate(database.pool);
    const ingest = new Ingest(database.pool, [{ lane: 'standard', flow: 'noop' }]);
    let refused = 0;
    let run: Run;
    if (kind === 'fhir') {
      const listener = await startFhirListener({ host: HOST, port: 0, sink: ingest, authentication: 'none', sources: ['bench'] });
      const url = new URL('/fhir/notify/bench', listener.url);
      const agents = Array.from({ length: senders }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
      run = await timed(count, senders, async (s, n) => {
        if ((await post(agents[s]!, url, notification(n))) !== 200) refused++;
      });
      agents.forEach((a) => a.destroy());
      await listener.close();
    } else {
      const listener = await startMllpListener({ host: HOST, port: 0, source: 'bench', maxMessageBytes: 1024 * 1024, idleTimeoutMs: 60_000, ingest, log });
      const connections = await Promise.all(Array.from({ length: senders }, () => MllpSender.connect(HOST, listener.port)));
      run = await timed(count, senders, async (s, n) => {
        const ack = await connections[s]!.send(siu(n).toString('utf8'));
        if (!/\rMSA\|(AA|CA)\|/.test(`\r${ack}`)) refused++;
      });
      await Promise.all(connections.map((c) => c.close()));
      await listener.close();
    }
    await ingest.flush();
    const [stored] = await queryOnce<{ n: number }>(scratch.url, "select count(*)::int as n from carelane.messages where status <> 'rejected'");
    if (refused > 0 || stored?.n !== run.count) throw new Error(`ehr-ingest bench (${kind}): ${refused} refused, ${stored?.n ?? 0} of ${run.count} stored: the figures are void`);
    return run;
  } finally {
    await database.close();
    if (!keep) await scratch.drop();
  }
}

export async function runEhrIngestBench(server: BenchServer, options: EhrIngestBenchOptions): Promise<EhrIngestBenchResult> {
  const runs: EhrIngestBenchResult['runs'] = [];
  for (const [kind, label, payloads] of [
    ['fhir', 'FHIR notification', notification],
    ['hl7', 'HL7 v2 SIU^S12', siu],
  ] as const) {
    for (const senders of options.senders) {
      options.log(`ehr-ingest: ${label}, raw insert baseline, ${senders} clients, ${options.count} rows ...`);
      const raw = await rawInsert(server, payloads, options.count, senders, options.keep);
      options.log(`ehr-ingest: ${label} through the listener, ${senders} senders, ${options.count} messages ...`);
      const listener = await listenerRun(server, kind, options.count, senders, options.keep);
      runs.push({ kind: label, senders, listener, raw, ratio: round(listener.perSecond / raw.perSecond, 3) });
    }
  }
  return { name: 'ehr-ingest', count: options.count, fhirBytes: notification(0).length, hl7Bytes: siu(0).length, runs };
}

export function formatEhrIngestResult(result: EhrIngestBenchResult): string {
  const table = formatTable(
    ['input', 'senders', 'stored+acked/s', 'p50 ms', 'p99 ms', 'raw inserts/s', 'raw p99 ms', 'listener/raw'],
    result.runs.map((r) => [r.kind, r.senders, r.listener.perSecond, r.listener.p50Ms, r.listener.p99Ms, r.raw.perSecond, r.raw.p99Ms, r.ratio]),
  );
  return [
    `EHR ingest: ${result.count.toLocaleString('en-US')} messages per run — FHIR event-notifications of ${result.fhirBytes} bytes (POST /fhir/notify/<source>, 200 after commit),`,
    `HL7 v2 SIU^S12 of ${result.hl7Bytes} bytes over MLLP (AA after commit); each sender waits for its answer before sending the next`,
    table,
    '',
    'Raw baseline: one autocommitted `insert into bench_raw (payload bytea)` of the same payload per message, as many clients as senders,',
    'same server. Latency is per request as the sender sees it. No engine runs (persist + acknowledge only).',
  ].join('\n');
}
