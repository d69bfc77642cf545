import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeEscapes, hl7DateTimeToIso, Hl7Message } from './hl7-message.ts';
import { DEFAULT_DELIMITERS } from './message-header.ts';

const FIXTURES = new URL('../../../../shared/realdata/hl7v2/rethinkhealth-hl7v2-qa-fixtures/', import.meta.url);
const fixture = (name: string): string => readFileSync(new URL(name, FIXTURES), 'latin1');

describe('Hl7Message accessor', () => {
  it('numbers MSH fields as the standard does (MSH-1 is the separator)', () => {
    const m = Hl7Message.parse(fixture('siu-s12-schedule.hl7'));
    const msh = m.segment('MSH')!;
    expect(m.get(msh, 1)).toBe('|');
    expect(m.get(msh, 9, 2)).toBe('S12');
    expect(m.get(msh, 10)).toBe('SCH00001');
  });

  it('reads fields, components and repetitions with custom delimiters', () => {
    const m = Hl7Message.parse(fixture('edge-custom-delimiters.hl7'));
    const pid = m.segment('PID')!;
    expect(m.header.delimiters.field).not.toBe('|');
    expect(m.get(pid, 3)).not.toBe('');
    expect(m.get(pid, 3)).not.toContain(m.header.delimiters.component);
  });

  it('reads repetitions', () => {
    const m = Hl7Message.parse(fixture('edge-field-repetitions.hl7'));
    const pid = m.segment('PID')!;
    // PID-13 phone numbers repeat in this fixture
    expect(m.repetitions(pid, 13)).toBeGreaterThan(5);
    expect(m.get(pid, 13, 1, 1, 1)).toBe('555-0002');
  });

  it('reads segments ended by CRLF', () => {
    const m = Hl7Message.parse(fixture('edge-crlf-line-endings.hl7'));
    expect(m.segments.length).toBeGreaterThan(1);
    expect(m.segments.every((s) => /^[A-Z][A-Z0-9]{2}$/.test(s.name))).toBe(true);
  });

  it('decodes escape sequences (2.7)', () => {
    const d = DEFAULT_DELIMITERS;
    expect(decodeEscapes('A\\F\\B\\S\\C\\T\\D\\R\\E\\E\\', d)).toBe('A|B^C&D~E\\');
    expect(decodeEscapes('line\\.br\\next \\H\\bold\\N\\ \\X41\\', d)).toBe('line\nnext bold A');
    expect(decodeEscapes('C:\\temp', d)).toBe('C:\\temp');
    const m = Hl7Message.parse(fixture('edge-escaped-delimiters.hl7'));
    const decoded = m.segments.flatMap((s) => s.fields.map((_, i) => m.get(s, i)));
    expect(decoded.some((v) => v.includes('|') || v.includes('^') || v.includes('&'))).toBe(true);
  });

  it('converts DTM to ISO 8601 and refuses text', () => {
    expect(hl7DateTimeToIso('20260325140000')).toBe('2026-03-25T14:00:00');
    expect(hl7DateTimeToIso('202603251400-0500')).toBe('2026-03-25T14:00:00-05:00');
    expect(hl7DateTimeToIso('20260401')).toBe('2026-04-01');
    expect(hl7DateTimeToIso('DOB')).toBeUndefined();
  });

  it('lists the values a v2.7 sender marked as truncated, keeping them as sent (2.5.5.2)', () => {
    // MSH-2 `^~\&#`: '#' is the truncation character. Invented patient and values.
    const text = [
      'MSH|^~\\&#|SCHED|NORTH|CARELANE|SUPPLY|20260301101500||ORM^O01^ORM_O01|TRUNC-1|P|2.7',
      'PID|1||MRN-123^^^NORTH^MR||QUILLFEATHER-WINTERBOTTOM#^ALEXANDRIN#||19800101|F|||1 Room #5 Street^^Springfield',
      'ORC|NW|ORD-77^EHR|||||||20260301101500',
      'OBR|1|ORD-77^EHR||FX100^Catheter insertion, left femoral appro#^L',
      'NTE|1||Handle with care\\P\\',
      'NTE|2||Sterile field prepared; see pro#',
      'PID|2||||A~B#~C&D#',
    ].join('\r');
    const m = Hl7Message.parse(text);
    expect(m.delimiters.truncation).toBe('#');
    expect(m.truncatedValues().map((v) => v.position)).toEqual(['PID[1].5.1', 'PID[1].5.2', 'OBR.4.2', 'NTE[2].3', 'PID[2].5[2]', 'PID[2].5[3].1.2']);
    expect(m.truncatedValues()[2]).toMatchObject({ segment: 'OBR', line: 4, field: 4, repetition: 1, component: 2, subcomponent: 1 });
    // sequence: which PID (ERL-2), level: how deep the value sits (what an ERR-2 location names)
    expect(m.truncatedValues().map((v) => [v.sequence, v.level])).toEqual([[1, 'component'], [1, 'component'], [1, 'component'], [2, 'field'], [2, 'field'], [2, 'subcomponent']]);
    // the value is kept as sent, mark included; a '#' inside a value and an escaped one (\P\) are data
    const pid = m.segment('PID')!;
    expect(m.get(pid, 5, 1)).toBe('QUILLFEATHER-WINTERBOTTOM#');
    expect(m.get(pid, 11, 1)).toBe('1 Room #5 Street');
    expect(m.get(m.segmentsNamed('NTE')[0]!, 3)).toBe('Handle with care#');
  });

  it('flags nothing when MSH-2 declares no truncation character, whatever the values end with', () => {
    const m = Hl7Message.parse('MSH|^~\\&|SCHED|NORTH|CARELANE|SUPPLY|20260301101500||ORM^O01|TRUNC-2|P|2.5.1\rNTE|1||Room #\r');
    expect(m.delimiters.truncation).toBe('');
    expect(m.truncatedValues()).toEqual([]);
  });

  it('throws the header error for a message without MSH', () => {
    expect(() => Hl7Message.parse(fixture('invalid-missing-msh.hl7'))).toThrow(expect.objectContaining({ code: 'hl7_no_msh' }));
  });
});
