import { pino } from 'pino';
import { startMllpListener } from '../src/connectors/hl7v2/index.ts';
import { Ingest } from '../src/engine/ingest.ts';
import { connect } from '../src/store/database.ts';
import { migrate } from '../src/store/migrate.ts';
import { adtA01 } from './hl7-sample.ts';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { runRawInsert, type RateRun } from './raw-insert.ts';
import { createScratchDatabase, formatTable, queryOnce, round, type BenchServer } from './support.ts';

export interface MllpBenchOptions {
  count: number;
  connections: number[];
  keep: boolean;
  log: (line: string) => void;
}

export interface MllpBenchResult {
  name: 'mllp';
  count: number;
  messageBytes: number;
  runs: Array<{ connections: number; mllp: RateRun; raw: RateRun; ratio: number }>;
}

const HOST = '127.0.0.1';

/**
 * MLLP ingest: messages persisted and ACKed per second, against single-row autocommitted inserts of the same
 * bytes on the same server. No engine runs: this measures the front door (persist, then ACK) alone.
 */
export async function runMllpBench(server: BenchServer, options: MllpBenchOptions): Promise<MllpBenchResult> {
  const runs: MllpBenchResult['runs'] = [];
  for (const connections of options.connections) {
    options.log(`mllp: raw insert baseline, ${connections} clients, ${options.count} rows ...`);
    const raw = await runRawInsert(server, (n) => Buffer.from(adtA01(n)), options.count, connections, options.keep);
    options.log(`mllp: MLLP listener, ${connections} connections, ${options.count} messages ...`);
    const mllp = await runMllpIngest(server, options.count, connections, options.keep);
    runs.push({ connections, mllp, raw, ratio: round(mllp.perSecond / raw.perSecond, 3) });
  }
  return { name: 'mllp', count: options.count, messageBytes: Buffer.byteLength(adtA01(0)), runs };
}

async function runMllpIngest(server: BenchServer, count: number, connections: number, keep: boolean): Promise<RateRun> {
  const scratch = await createScratchDatabase(server, `mllp_c${connections}`);
  const database = connect(scratch.url, connections + 2, 'carelane-mllp-bench');
  const log = pino({ level: 'silent' });
  try {
    await migrate(database.pool);
    const ingest = new Ingest(database.pool, [{ lane: 'standard', flow: 'noop' }]);
    const listener = await startMllpListener({ host: HOST, port: 0, source: 'bench', maxMessageBytes: 1024 * 1024, idleTimeoutMs: 60_000, ingest, log });
    // The senders run in their own process, as the EHR does: the listener's process does only its own work.
    const run = await sendFromAnotherProcess(listener.port, connections, count);
    const { seconds, refused } = run;
    await listener.close();
    await ingest.flush();

    const total = run.sent;
    const [stored] = await queryOnce<{ n: number }>(scratch.url, 'select count(*)::int as n from carelane.messages');
    if (refused > 0 || stored?.n !== total) {
      throw new Error(`MLLP bench: ${refused} messages not positively ACKed, ${stored?.n ?? 0} of ${total} stored: the figures are void`);
    }
    return { clients: connections, count: total, seconds: round(seconds, 3), perSecond: round(total / seconds, 1) };
  } finally {
    await database.close();
    if (!keep) await scratch.drop();
  }
}

export function formatMllpResult(result: MllpBenchResult): string {
  const table = formatTable(
    ['connections', 'MLLP msgs/s (persisted+ACKed)', 'raw inserts/s', 'MLLP/raw'],
    result.runs.map((r) => [r.connections, r.mllp.perSecond, r.raw.perSecond, r.ratio]),
  );
  return [
    `MLLP ingest: ${result.count.toLocaleString('en-US')} ADT^A01 messages of ${result.messageBytes} bytes per run; each connection sends, waits for its ACK, sends the next`,
    table,
    '',
    'Raw baseline: one autocommitted `insert into bench_raw (payload bytea)` per message, as many clients as connections,',
    'same payloads, same server. Target: MLLP/raw >= 0.5. No engine runs during the MLLP runs (persist + ACK only);',
    'the senders run in a process of their own, as an EHR does (the raw clients are pg clients of the bench process).',
  ].join('\n');
}

async function sendFromAnotherProcess(port: number, connections: number, count: number): Promise<{ seconds: number; sent: number; refused: number }> {
  const script = path.join(import.meta.dirname, 'mllp-sender-process.ts');
  const child = spawn(process.execPath, [script, HOST, String(port), String(connections), String(count), '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`MLLP bench: the sender process exited with ${code}`);
  return JSON.parse(output.trim().split('\n').pop()!) as { seconds: number; sent: number; refused: number };
}
