import { X12Parser } from 'node-x12';
import { withCheckDigit } from '../src/connectors/gs1/index.ts';
import { readX12, toCanonical, transactionSet, writeInterchange } from '../src/connectors/x12/index.ts';
import type { SegmentValues } from '../src/connectors/x12/writer.ts';
import { formatTable, round, type BenchServer } from './support.ts';

/**
 * `npm run bench -- x12`: 856 ship notices of `lines` item lines each (HL shipment → order → pack → item, the
 * HIDA healthcare 856 shape: LIN with GTIN (UK) and lot (LT), SN1 quantity, DTM*036 expiry), read and mapped
 * to canonical ship notices (readX12 + toCanonical) — and parsed by node-x12 in the same run as the baseline.
 * node-x12 only parses (no envelope/count validation, no mapping), so it does less work than Carelane.
 * Pure CPU: the PostgreSQL server of the run is not used.
 */

export interface X12BenchOptions {
  /** documents per run (default 200) */
  documents: number;
  /** item lines per 856 (default 1000) */
  lines: number;
  /** item levels per pack (default 50) */
  itemsPerPack?: number;
  log: (line: string) => void;
}

export interface MemorySample {
  heapUsedMiB: number;
  rssMiB: number;
}

export interface X12Run {
  system: 'carelane readX12+toCanonical' | 'node-x12 parse';
  documents: number;
  lines: number;
  seconds: number;
  documentsPerSecond: number;
  linesPerSecond: number;
  megabytesPerSecond: number;
  before: MemorySample;
  after: MemorySample;
  peak: MemorySample;
}

export interface X12BenchResult {
  name: 'x12';
  documentBytes: number;
  linesPerDocument: number;
  runs: X12Run[];
  /** Carelane documents/s over node-x12 documents/s */
  carelaneOverNodeX12: number;
}

/** One 856 with `lines` items; `n` varies control numbers, shipment id and lots so no two documents are equal. */
export function shipNotice856(n: number, lines: number, itemsPerPack = 50): string {
  const body: SegmentValues[] = [
    ['BSN', '00', `SHP${String(n).padStart(8, '0')}`, '20260301', '0800', '0001'],
    ['HL', '1', '', 'S'],
    ['TD1', 'CTN25', String(Math.ceil(lines / itemsPerPack))],
    ['REF', 'BM', `BOL${n}`],
    ['DTM', '011', '20260301'],
    ['HL', '2', '1', 'O'],
    ['PRF', `PO-${n}`, '', '', '20260220'],
  ];
  let hl = 2;
  let pack = 0;
  for (let line = 1; line <= lines; line++) {
    if ((line - 1) % itemsPerPack === 0) {
      pack = ++hl;
      body.push(['HL', String(pack), '2', 'P'], ['MAN', 'GM', withCheckDigit(`00061414100${String(n % 1000).padStart(3, '0')}${String(pack).padStart(3, '0')}`)]);
    }
    hl++;
    const gtin = withCheckDigit(`1061414${String(100000 + (line % 900)).slice(1).padStart(6, '0')}`);
    body.push(
      ['HL', String(hl), String(pack), 'I'],
      ['LIN', String(line), 'UK', gtin, 'VN', `SKU-${line}`, 'LT', `L${n}-${line}`],
      ['SN1', '', String(1 + (line % 24)), 'EA'],
      ['DTM', '036', `2027${String(1 + (line % 12)).padStart(2, '0')}28`],
    );
  }
  body.push(['CTT', String(hl)]);
  return writeInterchange('SH', [transactionSet('856', String(n).padStart(4, '0'), body)], {
    sender: { qualifier: 'ZZ', id: 'MEDSUPPLY' },
    receiver: { qualifier: 'ZZ', id: 'CARELANE' },
    version: '005010',
    interchangeControlNumber: n,
    groupControlNumber: n,
    usage: 'P',
    at: new Date('2026-03-01T08:00:00Z'),
  });
}

const MiB = 1024 * 1024;
const memory = (): MemorySample => {
  const m = process.memoryUsage();
  return { heapUsedMiB: round(m.heapUsed / MiB, 1), rssMiB: round(m.rss / MiB, 1) };
};
const maxSample = (a: MemorySample, b: MemorySample): MemorySample => ({ heapUsedMiB: Math.max(a.heapUsedMiB, b.heapUsedMiB), rssMiB: Math.max(a.rssMiB, b.rssMiB) });
const collect = () => (globalThis as { gc?: () => void }).gc?.();

/** Runs `work` on every document, sampling memory after each (the loop is synchronous: a timer would never fire). */
function measure(system: X12Run['system'], texts: readonly string[], linesPerDocument: number, work: (text: string) => number): X12Run {
  collect();
  const before = memory();
  let peak = before;
  let lines = 0;
  let bytes = 0;
  const started = process.hrtime.bigint();
  for (const text of texts) {
    lines += work(text);
    bytes += text.length;
    peak = maxSample(peak, memory());
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const after = memory();
  if (lines !== texts.length * linesPerDocument) throw new Error(`${system} saw ${lines} item lines, expected ${texts.length * linesPerDocument}: the figures are void`);
  return {
    system,
    documents: texts.length,
    lines,
    seconds: round(seconds, 3),
    documentsPerSecond: round(texts.length / seconds, 1),
    linesPerSecond: Math.round(lines / seconds),
    megabytesPerSecond: round(bytes / MiB / seconds, 1),
    before,
    after,
    peak: maxSample(peak, after),
  };
}

function carelane(text: string): number {
  let lines = 0;
  for (const interchange of readX12(text).interchanges) {
    if (interchange.issues.length > 0) throw new Error(`bench 856 has envelope issues: ${interchange.issues[0]!.message}`);
    for (const group of interchange.groups) {
      for (const transaction of group.transactions) {
        const document = toCanonical(transaction);
        if (document.type !== '856') throw new Error(`expected an 856, got ${document.type}`);
        lines += document.shipNotice.items.length;
      }
    }
  }
  return lines;
}

function nodeX12(text: string): number {
  const interchange = new X12Parser(true).parse(text);
  if (!('functionalGroups' in interchange)) throw new Error('node-x12 returned several interchanges for one');
  return interchange.functionalGroups.reduce((sum, group) => sum + group.transactions.reduce((n, t) => n + t.segments.filter((s) => s.tag === 'LIN').length, 0), 0);
}

/** Same signature as the other benches; this one needs no database, so `_server` is unused. */
export async function runX12Bench(_server: BenchServer | undefined, options: X12BenchOptions): Promise<X12BenchResult> {
  const lines = options.lines;
  options.log(`x12: generating ${options.documents} 856 documents of ${lines} lines ...`);
  const texts = Array.from({ length: options.documents }, (_, i) => shipNotice856(i + 1, lines, options.itemsPerPack));
  // Warm-up on a few documents so both contenders are measured with JIT-compiled code.
  const warm = texts.slice(0, Math.min(5, texts.length));
  warm.forEach(carelane);
  warm.forEach(nodeX12);
  options.log('x12: Carelane readX12 + toCanonical ...');
  const ours = measure('carelane readX12+toCanonical', texts, lines, carelane);
  options.log('x12: node-x12 parse ...');
  const baseline = measure('node-x12 parse', texts, lines, nodeX12);
  return { name: 'x12', documentBytes: texts[0]!.length, linesPerDocument: lines, runs: [ours, baseline], carelaneOverNodeX12: round(ours.documentsPerSecond / baseline.documentsPerSecond, 2) };
}

export function formatX12Result(result: X12BenchResult): string {
  const table = formatTable(
    ['system', 'documents', 'lines', 'seconds', 'docs/s', 'lines/s', 'MiB/s', 'heap before', 'heap after', 'heap peak', 'RSS before', 'RSS after', 'RSS peak'],
    result.runs.map((r) => [r.system, r.documents, r.lines, r.seconds, r.documentsPerSecond, r.linesPerSecond, r.megabytesPerSecond, r.before.heapUsedMiB, r.after.heapUsedMiB, r.peak.heapUsedMiB, r.before.rssMiB, r.after.rssMiB, r.peak.rssMiB]),
  );
  return `X12 856 ship notices, ${result.linesPerDocument} item lines each (${Math.round(result.documentBytes / 1024)} KiB per document); memory in MiB\n${table}\nCarelane / node-x12 (documents/s): ${result.carelaneOverNodeX12}`;
}
