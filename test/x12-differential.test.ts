import { readFileSync } from 'node:fs';
import path from 'node:path';
import { X12FatInterchange, X12Parser, type X12Interchange, type X12Segment as NodeX12Segment } from 'node-x12';
import { describe, expect, it } from 'vitest';
import { allIssues, readX12, tokenizeX12 } from '../src/connectors/x12/index.ts';

const REALDATA = path.resolve(import.meta.dirname, '../../shared/realdata/x12');

/**
 * Differential check against node-x12 (the X12 library DESIGN.md names) on the VALID real samples: both readers
 * must see the same segments, in the same order, with the same element values.
 *
 * Deliberate differences, normalised below rather than hidden:
 * - ISA13 and IEA02: node-x12 turns them into numbers ('000003438' → '3438'); Carelane keeps the element as
 *   written (X12.5 defines ISA13 as N0 9/9, fixed width; a TA1 must echo it verbatim). Compared as numbers.
 * - A last segment without its terminator (AckTest.edi, MultipleInterchangesAndGroups.edi end in 'IEA*2*…'
 *   with no final line feed): node-x12 silently drops it, Carelane reads it (tolerant reading: the IEA is
 *   there, only the layout is short). node-x12 is given the file with the terminator appended.
 * Valid samples node-x12 cannot read at all, and why:
 * - xlate-staedi/optionalInterchangeServices.edi: ISB (X12.5 optional interchange services, between ISA and
 *   GS) — node-x12 1.7 throws "ISB segment cannot appear outside of a functional group".
 */
const VALID = [
  'node-x12/850.edi',
  'node-x12/850_2.edi',
  'node-x12/850_3.edi',
  'node-x12/850_fat.edi',
  'node-x12/855.edi',
  'node-x12/856.edi',
  'olmelabs-ediengine/850.Composite.SLN.OK.edi',
  'olmelabs-ediengine/850.OK.edi',
  'olmelabs-ediengine/856.Crossdock.OK.edi',
  'olmelabs-ediengine/AckTest.edi',
  'olmelabs-ediengine/MultipleInterchangesAndGroups.edi',
  'xlate-staedi/invoice810_po850_dual.edi',
  'xlate-staedi/multi-tx-transaction-type.edi',
  'xlate-staedi/simple810.edi',
  'xlate-staedi/simple997-multiple-interchanges.edi',
  'xlate-staedi/simple997.edi',
  'xlate-staedi/simple999.edi',
  'xlate-staedi/simple_with_binary_segment.edi',
  'xlate-staedi/ts214_ellipses_segterm.edi',
];
const NODE_X12_CANNOT_READ = ['xlate-staedi/optionalInterchangeServices.edi'];

/** Numeric control numbers compared as numbers (see above). */
const NUMERIC_AS_WRITTEN: Record<string, number> = { ISA: 13, IEA: 2 };
function normalised(segment: string[]): string[] {
  const at = NUMERIC_AS_WRITTEN[segment[0]!];
  if (at === undefined || !/^\d+$/.test(segment[at] ?? '')) return segment;
  return segment.map((value, index) => (index === at ? String(Number(value)) : value));
}

function nodeX12Segments(text: string): string[][] {
  const parsed = new X12Parser(true).parse(text);
  // Array.from: X12FatInterchange extends Array, and its constructor recurses when map/flatMap build a species copy.
  const interchanges: X12Interchange[] = parsed instanceof X12FatInterchange ? Array.from(parsed.interchanges) : [parsed];
  const flat = (s: NodeX12Segment) => [s.tag, ...s.elements.map((e) => e.value)];
  return interchanges.flatMap((i) => [
    flat(i.header),
    ...i.functionalGroups.flatMap((g) => [flat(g.header), ...g.transactions.flatMap((t) => [flat(t.header), ...t.segments.map(flat), flat(t.trailer)]), flat(g.trailer)]),
    flat(i.trailer),
  ]);
}

describe('X12 reader agrees with node-x12 on the valid real samples', () => {
  it.each(VALID)('%s: same segment ids and element values', (name) => {
    const text = readFileSync(path.join(REALDATA, name), 'utf8');
    expect(allIssues(readX12(text))).toEqual([]);
    const tokenized = tokenizeX12(text);
    const ours = tokenized.flatMap((t) => t.segments.map((s) => normalised(s.elements)));
    const terminator = tokenized[0]!.delimiters.segment;
    const theirs = nodeX12Segments(text.trimEnd().endsWith(terminator) ? text : text + terminator).map(normalised);
    expect(ours.length).toBeGreaterThan(3);
    expect(ours).toEqual(theirs);
  });

  it.each(NODE_X12_CANNOT_READ)('%s: Carelane reads it, node-x12 refuses it (documented difference)', (name) => {
    const text = readFileSync(path.join(REALDATA, name), 'utf8');
    expect(allIssues(readX12(text))).toEqual([]);
    expect(() => nodeX12Segments(text)).toThrow(/ISB/);
  });
});
