import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import pg from 'pg';
import { createLogger } from '../src/observability/logger.ts';
import { startDemoClinics, startDemoPeers } from '../simulators/demo/index.ts';
import type { CarelaneMemory, CarelaneReady, SoakReply, SoakRequest } from './soak-carelane.ts';
import { createScratchDatabase, describeMachine, formatTable, round, startServer } from './support.ts';

/**
 * Soak (issue 10): the demo scenario (simulators/demo: North books, moves and cancels procedures over HL7 v2,
 * the clinics over FHIR subscriptions, ward supply requests, unknown codes and double bookings now and then;
 * reservations, shortfalls, POs, 850s and the supplier's 855/856/810) at 10× its normal pace (one clinical
 * event every 300 ms instead of 3 s) for 30 minutes. Carelane runs in a process of its own (bench/soak-carelane.ts,
 * started from a config file as in production); the simulators and the driver run here. They keep what a real
 * EHR, Odoo and supplier keep (resource versions, exchanges, documents), so their memory grows with the traffic
 * by design: it is shown, apart, and not judged. Every sample (each minute): Carelane's RSS and V8 heap after a
 * full GC (forked with --expose-gc), its event-loop lag, and the queue: deliveries pending or running, messages
 * not yet settled, open exceptions.
 *
 * Verdict: Carelane's RSS and heap flat (least-squares slope over the samples after the first minute, in MB per
 * hour, against a bound), queue depth and unsettled messages bounded (the last third's median no higher than the
 * first third's plus a margin).
 *
 *   npm run soak                      30 minutes, a sample a minute
 *   npm run soak -- --minutes 3 --sample-seconds 20
 * DATABASE_URL: run on that server (a scratch database is made and dropped); else the embedded one in var/bench-pg.
 */

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    'sample-seconds': { type: 'string', default: '60' },
    'interval-ms': { type: 'string', default: '300' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.error('usage: npm run soak -- [--minutes 30] [--sample-seconds 60] [--interval-ms 300]');
  process.exit(0);
}
const minutes = Number(values.minutes);
const sampleSeconds = Number(values['sample-seconds']);
const intervalMs = Number(values['interval-ms']);
if (!(minutes > 0) || !(sampleSeconds > 0) || !(intervalMs > 0)) throw new Error('--minutes, --sample-seconds and --interval-ms must be positive numbers');

interface Sample {
  atMinutes: number;
  /** Carelane's process */
  rssMb: number;
  heapMb: number;
  heapCommittedMb: number;
  externalMb: number;
  /** glibc's heap and arenas (Linux), -1 when not known */
  mallocMb: number;
  /** the simulators' and driver's process (this one): shown, not judged */
  simulatorsRssMb: number;
  simulatorsHeapMb: number;
  /** deliveries pending or running */
  queue: number;
  /** messages received or processing */
  unsettled: number;
  exceptions: number;
  messages: number;
  purchaseOrders: number;
  eventLoopLagMs: number;
}

const gc = (globalThis as { gc?: () => void }).gc;
const log = (line: string) => console.error(`[soak] ${line}`);
const mb = (bytes: number) => round(bytes / 1024 / 1024, 1);

/** least-squares slope of y over x */
function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  return sxx === 0 ? 0 : sxy / sxx;
}

interface CarelaneProcess {
  ready: CarelaneReady;
  sample(): Promise<CarelaneMemory>;
  stop(): Promise<void>;
}

/** Forks bench/soak-carelane.ts on the config file; its requests are answered in order, one at a time. */
async function startCarelaneProcess(configFile: string, env: NodeJS.ProcessEnv): Promise<CarelaneProcess> {
  const child: ChildProcess = fork(path.join(import.meta.dirname, 'soak-carelane.ts'), [configFile], {
    env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [...process.execArgv.filter((arg) => arg !== '--expose-gc'), '--expose-gc'],
  });
  const replies: Array<(reply: SoakReply) => void> = [];
  let exited: string | undefined;
  child.on('message', (reply: SoakReply) => replies.shift()?.(reply));
  child.on('exit', (code, signal) => {
    exited = `Carelane's process exited (${signal ?? code})`;
    for (const waiter of replies.splice(0)) waiter({ failed: exited });
  });
  const next = () =>
    new Promise<SoakReply>((resolve) => {
      if (exited) resolve({ failed: exited });
      else replies.push(resolve);
    });
  const request = (message: SoakRequest) => {
    const reply = next();
    child.send(message);
    return reply;
  };
  const first = await next();
  if (!('ready' in first)) throw new Error(`Carelane did not start: ${'failed' in first ? first.failed : JSON.stringify(first)}`);
  return {
    ready: first.ready,
    sample: async () => {
      const reply = await request({ op: 'sample' });
      if (!('sample' in reply)) throw new Error(`no sample from Carelane: ${'failed' in reply ? reply.failed : JSON.stringify(reply)}`);
      return reply.sample;
    },
    stop: async () => {
      if (exited) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await request({ op: 'stop' });
      await gone;
      clearTimeout(timer);
    },
  };
}

const server = await startServer(process.env);
const scratch = await createScratchDatabase(server, 'soak');
const machine = describeMachine(server);
console.log(`Carelane soak — ${machine.date}`);
console.log(`machine: ${machine.cpus} x ${machine.cpuModel}, ${machine.memoryGiB} GiB, ${machine.os}; node ${machine.node}, PostgreSQL ${machine.postgres} (${machine.database})`);
if (!gc) log('no --expose-gc here: the simulators\' heap figures include garbage not yet collected (Carelane\'s process always gets the flag)');

const workDir = mkdtempSync(path.join(os.tmpdir(), 'carelane-soak-'));
const stops: Array<() => Promise<void>> = [];
const samples: Sample[] = [];
const started = Date.now();
try {
  const demoEnv = { ...process.env, CARELANE_DEMO_X12_PORT: '0', CARELANE_DEMO_FHIR_PORT: '0', CARELANE_DEMO_INTERVAL_MS: String(intervalMs) };
  const peers = await startDemoPeers(demoEnv, scratch.url, workDir, createLogger('warn'));
  stops.push(() => peers.stop());
  const configFile = path.join(workDir, 'carelane.yaml');
  writeFileSync(configFile, peers.configText, { mode: 0o600 });
  const carelane = await startCarelaneProcess(configFile, {
    ...process.env,
    ...peers.configEnv,
    DATABASE_URL: scratch.url,
    PORT: '0',
    MLLP_PORT: '0',
    LOG_LEVEL: 'warn',
    CARELANE_ADMIN_TOKEN: 'soak-admin-token-not-secret',
  });
  stops.push(() => carelane.stop());
  const pool = new pg.Pool({ connectionString: scratch.url, max: 2 });
  stops.push(() => pool.end());
  const clinics = await startDemoClinics(peers, { pool, mllpPort: carelane.ready.mllpPort, fhirUrl: carelane.ready.fhirUrl }, demoEnv, createLogger('warn'));
  stops.push(() => clinics.stop());

  const sample = async (): Promise<Sample> => {
    const memory = await carelane.sample();
    gc?.();
    const { rows } = await pool.query<{ queue: number; unsettled: number; exceptions: number; messages: number; pos: number }>(
      `select (select count(*)::int from carelane.deliveries where status in ('pending', 'running')) as queue,
              (select count(*)::int from carelane.messages where status in ('received', 'processing')) as unsettled,
              (select count(*)::int from carelane.exceptions where status = 'open') as exceptions,
              (select count(*)::int from carelane.messages) as messages,
              (select count(*)::int from carelane.purchase_orders) as pos`,
    );
    const row = rows[0]!;
    const taken: Sample = {
      atMinutes: round((Date.now() - started) / 60_000, 1),
      rssMb: mb(memory.rssBytes),
      heapMb: mb(memory.heapUsedBytes),
      heapCommittedMb: mb(memory.heapCommittedBytes),
      externalMb: mb(memory.externalBytes),
      mallocMb: memory.mallocResidentBytes === undefined ? -1 : mb(memory.mallocResidentBytes),
      simulatorsRssMb: mb(process.memoryUsage().rss),
      simulatorsHeapMb: mb(v8.getHeapStatistics().used_heap_size),
      queue: row.queue,
      unsettled: row.unsettled,
      exceptions: row.exceptions,
      messages: row.messages,
      purchaseOrders: row.pos,
      eventLoopLagMs: round(memory.eventLoopLagMs, 1),
    };
    log(JSON.stringify(taken));
    return taken;
  };
  samples.push(await sample());
  const end = started + minutes * 60_000;
  while (Date.now() < end) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(sampleSeconds * 1000, end - Date.now())));
    samples.push(await sample());
  }
} finally {
  for (const step of stops.splice(0).reverse()) await step().catch((error: unknown) => log(`while stopping: ${(error as Error).message}`));
  rmSync(workDir, { recursive: true, force: true });
  await scratch.drop().catch(() => {});
  await server.stop();
}

// The first sample is the process right after start-up; the trend is read from the first full interval on.
const steady = samples.slice(1);
const rssSlope = round(slope(steady.map((s) => [s.atMinutes, s.rssMb])) * 60, 1);
const heapSlope = round(slope(steady.map((s) => [s.atMinutes, s.heapMb])) * 60, 1);
const third = Math.max(1, Math.floor(steady.length / 3));
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
/**
 * A backlog that grows shows as a typical depth that rises: the last third's median against the first third's.
 * Peaks are printed but not judged: one sample can land on a burst (a PO batch closing) that clears the next
 * minute, and a single spike said nothing about growth in earlier runs (59 and 122, gone a minute later).
 */
function thirds(values: number[]) {
  const first = values.slice(0, third);
  const last = values.slice(-third);
  return { firstMedian: median(first), lastMedian: median(last), firstPeak: Math.max(...first), lastPeak: Math.max(...last) };
}
// Bounds: growth that would double a 200 MB process in a day is a leak worth chasing; below that it is noise
// (JIT code, pools filling, caches reaching their size) on a run of minutes.
const RSS_BOUND_MB_PER_HOUR = 10;
const HEAP_BOUND_MB_PER_HOUR = 5;
const rssFlat = rssSlope <= RSS_BOUND_MB_PER_HOUR;
const heapFlat = heapSlope <= HEAP_BOUND_MB_PER_HOUR;
const queue = thirds(steady.map((s) => s.queue));
const queueBounded = queue.lastMedian <= queue.firstMedian * 1.5 + 10;
// Messages not settled (received/processing) must stay bounded too: a message whose deliveries all ended but
// that never settled is a leak of its own (a lost settlement once kept DFT^P03 messages 'processing' for ever).
const unsettled = thirds(steady.map((s) => s.unsettled));
const unsettledBounded = unsettled.lastMedian <= unsettled.firstMedian * 1.5 + 10;

console.log(`\nSoak: the demo network at one clinical event every ${intervalMs} ms (normal: 3000 ms) for ${minutes} min, a sample every ${sampleSeconds} s`);
console.log(
  formatTable(
    ['minute', 'Carelane RSS MB', 'Carelane heap MB (after GC)', 'heap committed MB', 'external MB', 'malloc MB', 'queue (pending+running)', 'unsettled msgs', 'open exceptions', 'messages', 'POs', 'loop lag ms', 'simulators RSS MB', 'simulators heap MB'],
    samples.map((s) => [s.atMinutes, s.rssMb, s.heapMb, s.heapCommittedMb, s.externalMb, s.mallocMb, s.queue, s.unsettled, s.exceptions, s.messages, s.purchaseOrders, s.eventLoopLagMs, s.simulatorsRssMb, s.simulatorsHeapMb]),
  ),
);
console.log('');
console.log(`Carelane RSS slope ${rssSlope} MB/h (flat if ≤ ${RSS_BOUND_MB_PER_HOUR}): ${rssFlat ? 'flat' : 'GROWING'}`);
console.log(`Carelane heap slope ${heapSlope} MB/h after GC (flat if ≤ ${HEAP_BOUND_MB_PER_HOUR}): ${heapFlat ? 'flat' : 'GROWING'}`);
console.log(`queue depth: median ${queue.firstMedian} (peak ${queue.firstPeak}) in the first third, median ${queue.lastMedian} (peak ${queue.lastPeak}) in the last third: ${queueBounded ? 'bounded' : 'GROWING'}`);
console.log(`open exceptions at the end: ${samples.at(-1)!.exceptions} (the driver's deliberate unknown codes and double bookings park as mapping_failure / duplicate_order)`);
console.log(`unsettled messages: median ${unsettled.firstMedian} (peak ${unsettled.firstPeak}) in the first third, median ${unsettled.lastMedian} (peak ${unsettled.lastPeak}) in the last third: ${unsettledBounded ? 'bounded' : 'GROWING'}`);
const simulatorsHeapSlope = round(slope(steady.map((s) => [s.atMinutes, s.simulatorsHeapMb])) * 60, 1);
console.log(`simulators' process (not judged: they keep what an EHR, Odoo and a supplier keep): RSS ${samples[0]!.simulatorsRssMb} → ${samples.at(-1)!.simulatorsRssMb} MB, heap slope ${simulatorsHeapSlope} MB/h`);
const verdict = rssFlat && heapFlat && queueBounded && unsettledBounded;
console.log(`verdict: ${verdict ? 'no leak: RSS flat, heap flat, queue and unsettled messages bounded' : 'NOT steady (see above)'}`);
console.log(JSON.stringify({ name: 'soak', minutes, intervalMs, sampleSeconds, machine, samples, rssSlopeMbPerHour: rssSlope, heapSlopeMbPerHour: heapSlope, queue, unsettled, simulatorsHeapSlopeMbPerHour: simulatorsHeapSlope, verdict }));
if (!verdict) process.exitCode = 1;
