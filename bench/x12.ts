import v8 from 'node:v8';
import vm from 'node:vm';
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
 *
 * Memory, with a full garbage collection before each figure that says "after GC": the heap a 1,000-line
 * document's parsed + canonical form keeps alive (what one document in flight costs), the peak heap and RSS
 * while the documents are processed one after the other, and the heap retained once they are done (a leak
 * would show there).
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
  /** after GC, before the first document */
  before: MemorySample;
  /** after GC, once every document is done: what stays */
  after: MemorySample;
  /** highest sample while the documents were processed (garbage included) */
  peak: MemorySample;
}

export interface X12BenchResult {
  name: 'x12';
  documentBytes: number;
  linesPerDocument: number;
  runs: X12Run[];
  /** heap (after GC) held by one document's readX12 result and its canonical ship notice, in MiB */
  oneDocumentHeapMiB: number;
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
/**
 * A full GC, so "after GC" figures are live data and not garbage awaiting collection. `npm run bench` does not
 * pass --expose-gc; the flag set at run time takes effect for a new context's `gc` (V8 reads it on creation).
 */
const collect: () => void = (() => {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
})();

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
  collect();
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

/** The rounds of one contender as one run: times and counts add up, memory is first before, last after, highest peak. */
function combine(rounds: readonly X12Run[], bytes: number): X12Run {
  const documents = rounds.reduce((sum, r) => sum + r.documents, 0);
  const lines = rounds.reduce((sum, r) => sum + r.lines, 0);
  const seconds = rounds.reduce((sum, r) => sum + r.seconds, 0);
  return {
    system: rounds[0]!.system,
    documents,
    lines,
    seconds: round(seconds, 3),
    documentsPerSecond: round(documents / seconds, 1),
    linesPerSecond: Math.round(lines / seconds),
    megabytesPerSecond: round(bytes / MiB / seconds, 1),
    before: rounds[0]!.before,
    after: rounds.at(-1)!.after,
    peak: rounds.map((r) => r.peak).reduce(maxSample),
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

/**
 * The heap one document's parse and canonical form keep alive while a flow holds them: after GC with ten copies
 * held minus after GC without, divided by ten; the median of five rounds (JIT code and GC bookkeeping move a
 * single reading by about a MiB).
 */
function heldByOneDocument(text: string): number {
  const rounds = Array.from({ length: 5 }, () => heldByCopies(text, 10)).sort((a, b) => a - b);
  return round(rounds[2]! / MiB, 2);
}

function heldByCopies(text: string, copies: number): number {
  collect();
  const before = process.memoryUsage().heapUsed;
  const held = Array.from({ length: copies }, () => {
    const document = readX12(text);
    return { document, mapped: document.interchanges.flatMap((i) => i.groups.flatMap((g) => g.transactions.map(toCanonical))) };
  });
  collect();
  const heldBytes = (process.memoryUsage().heapUsed - before) / copies;
  if (held.some((h) => h.mapped.length !== 1)) throw new Error('expected one 856 per copy');
  return heldBytes;
}

/** Same signature as the other benches; this one needs no database, so `_server` is unused. */
export async function runX12Bench(_server: BenchServer | undefined, options: X12BenchOptions): Promise<X12BenchResult> {
  const lines = options.lines;
  options.log(`x12: generating ${options.documents} 856 documents of ${lines} lines ...`);
  // Flat strings, as read from a socket or file: the writer's concatenations would otherwise be flattened (and
  // their pieces freed) inside the first measurement.
  const texts = Array.from({ length: options.documents }, (_, i) => Buffer.from(shipNotice856(i + 1, lines, options.itemsPerPack), 'latin1').toString('latin1'));
  // Warm-up on a few documents so both contenders are measured with JIT-compiled code.
  const warm = texts.slice(0, Math.min(5, texts.length));
  warm.forEach(carelane);
  warm.forEach(nodeX12);
  const oneDocumentHeapMiB = heldByOneDocument(texts[0]!);
  // In alternating rounds (Carelane first, then node-x12 first, ...): on a shared machine whose load changes by
  // the minute, both contenders then see the same conditions and the ratio stays meaningful.
  const rounds = Math.min(4, texts.length);
  const ourRounds: X12Run[] = [];
  const baselineRounds: X12Run[] = [];
  for (let r = 0; r < rounds; r++) {
    const slice = texts.filter((_, i) => i % rounds === r);
    options.log(`x12: round ${r + 1}/${rounds}: Carelane readX12 + toCanonical and node-x12 parse on ${slice.length} documents ...`);
    const runOurs = () => ourRounds.push(measure('carelane readX12+toCanonical', slice, lines, carelane));
    const runBaseline = () => baselineRounds.push(measure('node-x12 parse', slice, lines, nodeX12));
    if (r % 2 === 0) (runOurs(), runBaseline());
    else (runBaseline(), runOurs());
  }
  const totalBytes = texts.reduce((sum, t) => sum + t.length, 0);
  const ours = combine(ourRounds, totalBytes);
  const baseline = combine(baselineRounds, totalBytes);
  return { name: 'x12', documentBytes: texts[0]!.length, linesPerDocument: lines, runs: [ours, baseline], oneDocumentHeapMiB, carelaneOverNodeX12: round(ours.documentsPerSecond / baseline.documentsPerSecond, 2) };
}

export function formatX12Result(result: X12BenchResult): string {
  const table = formatTable(
    ['system', 'documents', 'lines', 'seconds', 'docs/s', 'lines/s', 'MiB/s', 'heap before', 'heap after', 'heap peak', 'RSS before', 'RSS after', 'RSS peak'],
    result.runs.map((r) => [r.system, r.documents, r.lines, r.seconds, r.documentsPerSecond, r.linesPerSecond, r.megabytesPerSecond, r.before.heapUsedMiB, r.after.heapUsedMiB, r.peak.heapUsedMiB, r.before.rssMiB, r.after.rssMiB, r.peak.rssMiB]),
  );
  return (
    `X12 856 ship notices, ${result.linesPerDocument} item lines each (${Math.round(result.documentBytes / 1024)} KiB per document); memory in MiB, before/after after a full GC\n${table}\n` +
    `One document parsed + mapped holds ${result.oneDocumentHeapMiB} MiB of heap\nCarelane / node-x12 (documents/s): ${result.carelaneOverNodeX12}`
  );
}
