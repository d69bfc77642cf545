import { describe, expect, it } from 'vitest';
import { allIssues, readX12 } from './envelope.ts';
import { tokenizeX12 } from './tokenizer.ts';

const isa = (version: string, isa11: string, component: string, terminator: string, control = '000000001') =>
  `ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *260301*1200*${isa11}*${version}*${control}*0*T*${component}${terminator}`;

function interchange(terminator: string, layout: string, body: string[], version = '00401', control = '000000001'): string {
  const segments = [`GS*PO*SENDER*RECEIVER*20260301*1200*7*X*${version === '00501' ? '005010' : '004010'}`, 'ST*850*0001', ...body, `SE*${body.length + 2}*0001`, 'GE*1*7', `IEA*1*${control}`];
  return isa(version, version === '00501' ? '^' : 'U', version === '00501' ? ':' : '>', terminator, control) + layout + segments.map((s) => s + terminator).join(layout);
}

describe('X12 tokenizer', () => {
  it('reads delimiters from the ISA: separator, ISA11 repetition (005010 only), ISA16 component, terminator', () => {
    const [five] = tokenizeX12(interchange('~', '\r\n', ['BEG*00*NE*PO1**20260301'], '00501'));
    expect(five!.delimiters).toEqual({ element: '*', component: ':', repetition: '^', segment: '~' });
    const [four] = tokenizeX12(interchange('~', '', ['BEG*00*NE*PO1**20260301']));
    expect(four!.delimiters.repetition).toBeNull();
  });

  it('accepts a line feed as the segment terminator and counts lines for CR, LF and CRLF', () => {
    const [lf] = tokenizeX12(interchange('\n', '', ['BEG*00*NE*PO1**20260301']));
    expect(lf!.segments.map((s) => [s.id, s.line])).toEqual([['ISA', 1], ['GS', 2], ['ST', 3], ['BEG', 4], ['SE', 5], ['GE', 6], ['IEA', 7]]);
    const [cr] = tokenizeX12(interchange('~', '\r', ['BEG*00*NE*PO1**20260301']));
    expect(cr!.segments.at(-1)!.line).toBe(7);
  });

  it('reads several interchanges with different delimiters from one input', () => {
    const text = interchange('~', '\n', ['BEG*00*NE*A**20260301']) + '\n' + interchange('!', '', ['BEG|00|NE|B||20260301'].map((s) => s.replaceAll('|', '*')), '00401', '000000002');
    const document = readX12(text);
    expect(document.interchanges.map((i) => [i.header.controlNumber, i.delimiters.segment])).toEqual([['000000001', '~'], ['000000002', '!']]);
    expect(allIssues(document)).toEqual([]);
  });

  it('reads a BIN segment by its length even when the data holds terminators', () => {
    const [t] = tokenizeX12(interchange('~', '\n', ['BIN*7*ab~c*de']));
    expect(t!.segments.find((s) => s.id === 'BIN')!.elements).toEqual(['BIN', '7', 'ab~c*de']);
  });

  it('refuses non-X12 input and an ISA without a terminator with a precise code', () => {
    expect(() => tokenizeX12('hello')).toThrow(expect.objectContaining({ code: 'x12_not_edi' }));
    expect(() => tokenizeX12('ISA*00*')).toThrow(expect.objectContaining({ code: 'x12_isa_malformed' }));
  });
});

describe('X12 envelopes', () => {
  it('accepts matching control numbers and counts', () => {
    expect(allIssues(readX12(interchange('~', '\n', ['BEG*00*NE*PO1**20260301', 'PO1*1*2*EA*1.5**VN*X'])))).toEqual([]);
  });

  it('reports a wrong SE01 count with the SE segment position and line', () => {
    const text = interchange('~', '\n', ['BEG*00*NE*PO1**20260301']).replace('SE*3*0001', 'SE*9*0001');
    expect(allIssues(readX12(text))).toEqual([
      expect.objectContaining({ code: 'x12_count_mismatch', segment: 'SE', segmentPosition: 3, elementPosition: 1, line: 5, ackCode: '4', badValue: '9' }),
    ]);
  });

  it('reports a missing SE, GE and IEA when the input is cut off', () => {
    const text = interchange('~', '\n', ['BEG*00*NE*PO1**20260301']).split('\n').slice(0, 4).join('\n');
    const document = readX12(text);
    expect(allIssues(document).map((i) => [i.code, i.segment, i.ackCode])).toEqual([
      ['x12_missing_trailer', 'IEA', '023'],
      ['x12_missing_trailer', 'GE', '3'],
      ['x12_missing_trailer', 'SE', '2'],
    ]);
  });

  it('reports duplicate ST02 within a group and a segment outside any transaction set', () => {
    const text = [isa('00401', 'U', '>', '~'), 'GS*PO*S*R*20260301*1200*7*X*004010~', 'ST*850*0001~', 'BEG*00*NE*A**20260301~', 'SE*3*0001~', 'ST*850*0001~', 'BEG*00*NE*B**20260301~', 'SE*3*0001~', 'GE*2*7~', 'REF*XX*1~', 'IEA*1*000000001~'].join('\n');
    const codes = allIssues(readX12(text)).map((i) => [i.code, i.segment, i.ackCode]);
    expect(codes).toContainEqual(['x12_control_number_duplicate', 'ST', '23']);
    expect(codes).toContainEqual(['x12_unexpected_segment', 'REF', '024']);
  });

  it('reports element syntax: missing mandatory element, bad date, paired elements', () => {
    const text = interchange('~', '\n', ['BEG*00*NE***20261301', 'PO1*1*2*EA*1.5**VN']);
    const issues = allIssues(readX12(text)).map((i) => [i.code, i.segment, i.elementPosition, i.ackCode]);
    expect(issues).toEqual([
      ['x12_element_missing', 'BEG', 3, '1'],
      ['x12_element_invalid', 'BEG', 5, '8'],
      ['x12_element_relation', 'PO1', 7, '2'],
    ]);
  });
});
