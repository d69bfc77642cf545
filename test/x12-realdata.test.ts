import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CarelaneError } from '../src/contracts/errors.ts';
import { allIssues, readX12, toCanonical, type X12ErrorCode } from '../src/connectors/x12/index.ts';

const REALDATA = path.resolve(import.meta.dirname, '../../shared/realdata/x12');

/**
 * Every .edi file of the real samples, with what it must give. Expectations come from each file's name and
 * its source project's tests: olmelabs/EdiEngine (ControlNumbersMismatch, WrongGroupsAndTranCount, NonEdi,
 * 850.SyntaxNotes.ERR), xlate/staedi (invalid997*, invalid999, empty997, extraDelimiter997, nonnumeric_BIN01),
 * and node-x12 (271.edi is cut off after its SE: no GE, no IEA).
 */
type Expectation = { types: string[] } | { rejected: X12ErrorCode; thrown?: boolean; also?: X12ErrorCode[] };
const EXPECTED: Record<string, Expectation> = {
  'node-x12/271.edi': { rejected: 'x12_missing_trailer' },
  'node-x12/850.edi': { types: ['850'] },
  'node-x12/850_2.edi': { types: ['850'] },
  'node-x12/850_3.edi': { types: ['850'] },
  'node-x12/850_fat.edi': { types: ['850', '850'] },
  'node-x12/855.edi': { types: ['855'] },
  'node-x12/856.edi': { types: ['856'] },
  'olmelabs-ediengine/850.Composite.SLN.OK.edi': { types: ['850'] },
  'olmelabs-ediengine/850.OK.edi': { types: ['850'] },
  'olmelabs-ediengine/850.SyntaxNotes.ERR.edi': { rejected: 'x12_element_relation' },
  'olmelabs-ediengine/856.Crossdock.OK.edi': { types: ['856'] },
  'olmelabs-ediengine/AckTest.edi': { types: ['940', '940', '940'] },
  'olmelabs-ediengine/ControlNumbersMismatch.edi': { rejected: 'x12_control_number_mismatch' },
  'olmelabs-ediengine/MultipleInterchangesAndGroups.edi': { types: ['940', '940', '940', '940', '940', '940'] },
  'olmelabs-ediengine/NonEdi.edi': { rejected: 'x12_not_edi', thrown: true },
  'olmelabs-ediengine/WrongGroupsAndTranCount.edi': { rejected: 'x12_count_mismatch' },
  'xlate-staedi/empty997.edi': { rejected: 'x12_segment_missing' },
  'xlate-staedi/extraDelimiter997.edi': { rejected: 'x12_element_invalid' },
  'xlate-staedi/invalid997.edi': { rejected: 'x12_element_invalid' },
  'xlate-staedi/invalid997_min.edi': { rejected: 'x12_element_invalid', also: ['x12_control_number_mismatch'] },
  'xlate-staedi/invalid999.edi': { rejected: 'x12_count_mismatch', also: ['x12_too_many_elements', 'x12_unexpected_segment', 'x12_element_invalid'] },
  'xlate-staedi/invoice810_po850_dual.edi': { types: ['810', '810', '850'] },
  'xlate-staedi/multi-tx-transaction-type.edi': { types: ['855', '855'] },
  'xlate-staedi/nonnumeric_BIN01.edi': { rejected: 'x12_binary_length_invalid', thrown: true },
  'xlate-staedi/optionalInterchangeServices.edi': { types: ['997'] },
  'xlate-staedi/simple810.edi': { types: ['810', '810'] },
  'xlate-staedi/simple997-multiple-interchanges.edi': { types: ['997', '997', '997'] },
  'xlate-staedi/simple997.edi': { types: ['997'] },
  'xlate-staedi/simple999.edi': { types: ['999'] },
  'xlate-staedi/simple_with_binary_segment.edi': { types: ['000'] },
  'xlate-staedi/ts214_ellipses_segterm.edi': { types: ['214'] },
};

const files = readdirSync(REALDATA).flatMap((dir) => readdirSync(path.join(REALDATA, dir)).filter((f) => f.endsWith('.edi')).map((f) => `${dir}/${f}`));

describe('X12 reader on every real sample', () => {
  it('has an expectation for every .edi file in the folder', () => {
    expect(files.sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(files.map((name) => ({ name, expected: EXPECTED[name]! })))('$name', ({ name, expected }) => {
    const bytes = readFileSync(path.join(REALDATA, name));
    if ('types' in expected) {
      const document = readX12(bytes);
      expect(allIssues(document)).toEqual([]);
      const transactions = document.interchanges.flatMap((i) => i.groups.flatMap((g) => g.transactions));
      expect(transactions.map((t) => t.type)).toEqual(expected.types);
      for (const t of transactions.filter((t) => ['850', '855', '856', '810'].includes(t.type))) expect(toCanonical(t).type).toBe(t.type);
      return;
    }
    if (expected.thrown) {
      expect(() => readX12(bytes)).toThrow(CarelaneError);
      try {
        readX12(bytes);
      } catch (error) {
        expect((error as CarelaneError).code).toBe(expected.rejected);
        expect((error as CarelaneError).where?.line).toBeGreaterThan(0);
      }
      return;
    }
    const issues = allIssues(readX12(bytes));
    const codes = issues.map((i) => i.code);
    expect(codes).toContain(expected.rejected);
    for (const code of expected.also ?? []) expect(codes).toContain(code);
    // Each issue names its segment and line.
    for (const issue of issues) {
      expect(issue.segment).toMatch(/^[A-Z0-9]{2,3}$/);
      expect(issue.line).toBeGreaterThan(0);
    }
  });

  it('names segment, element, segment position and line precisely for the broken samples', () => {
    const mismatch = allIssues(readX12(readFileSync(path.join(REALDATA, 'olmelabs-ediengine/ControlNumbersMismatch.edi'))));
    expect(mismatch.map((i) => [i.code, i.segment, i.elementPosition, i.line, i.ackCode])).toEqual([
      ['x12_control_number_mismatch', 'IEA', 2, 9, '001'],
      ['x12_control_number_mismatch', 'GE', 2, 8, '4'],
      ['x12_control_number_mismatch', 'SE', 2, 7, '3'],
    ]);
    const syntax = allIssues(readX12(readFileSync(path.join(REALDATA, 'olmelabs-ediengine/850.SyntaxNotes.ERR.edi'))))[0]!;
    expect(syntax).toMatchObject({ segment: 'PO1', segmentPosition: 13, elementPosition: 7, line: 15, loop: 'PO1', ackCode: '2' });
    const counts = allIssues(readX12(readFileSync(path.join(REALDATA, 'xlate-staedi/invalid999.edi'))))[0]!;
    expect(counts).toMatchObject({ code: 'x12_count_mismatch', segment: 'SE', segmentPosition: 18, elementPosition: 1, badValue: '16' });
  });
});
