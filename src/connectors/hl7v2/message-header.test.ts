import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Hl7Message } from '@medplum/core';
import { describe, expect, it } from 'vitest';
import { CarelaneError } from '../../contracts/errors.ts';
import { decodeMessage, parseMessageHeader, readMessageHeader } from './message-header.ts';

const REALDATA = path.resolve(import.meta.dirname, '../../../../shared/realdata/hl7v2');

function samples(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) return samples(file);
    return /\.(hl7|txt)$/.test(name) ? [file] : [];
  });
}

/** Samples whose header is broken on purpose (named so by their publishers), with what must be reported. */
const BROKEN: Record<string, { code: string; field?: string }> = {
  'rethinkhealth-hl7v2-qa-fixtures/invalid-missing-msh.hl7': { code: 'hl7_no_msh' },
  'cdcgov-trusted-intermediary/malformed-msh/empty.hl7': { code: 'hl7_no_msh' },
  'cdcgov-trusted-intermediary/malformed-msh/msh_present_but_missing_all_fields.hl7': { code: 'hl7_missing_field', field: 'MSH.2' },
  'cdcgov-trusted-intermediary/malformed-msh/msh_present_but_missing_msh-2.hl7': { code: 'hl7_missing_field', field: 'MSH.2' },
  'cdcgov-trusted-intermediary/malformed-msh/msh_present_but_missing_msh-9.hl7': { code: 'hl7_missing_field', field: 'MSH.9' },
  'cdcgov-trusted-intermediary/malformed-msh/msh_present_but_missing_msh-10.hl7': { code: 'hl7_missing_field', field: 'MSH.10' },
};

const all = samples(REALDATA).map((file) => ({ file, name: path.relative(REALDATA, file) }));
const readable = all.filter((s) => !BROKEN[s.name]);

describe('HL7 v2 message header on the real samples', () => {
  it('finds the real sample folder', () => {
    expect(readable.length).toBeGreaterThan(40);
    expect(Object.keys(BROKEN).every((name) => all.some((s) => s.name === name))).toBe(true);
  });

  it.each(readable)('reads the MSH of $name as an independent parser reads it', ({ file }) => {
    const { text } = decodeMessage(readFileSync(file));
    const header = parseMessageHeader(text);
    // @medplum/core's parser as the oracle: same control id, type and version from the same MSH. It only
    // reads text that starts with MSH, so a batch (FHS/BHS first) is given from its first MSH on.
    const msh = Hl7Message.parse(text.slice(text.search(/(^|[\r\n])MSH/)).trimStart()).getSegment('MSH');
    expect(msh).toBeDefined();
    const [code, trigger] = [msh!.getComponent(9, 1), msh!.getComponent(9, 2)];
    expect(header.controlId).toBe(msh!.getField(10).toString().trim());
    expect(header.messageType).toBe(trigger ? `${code}^${trigger}` : code);
    expect(header.version).toBe(msh!.getComponent(12, 1));
    expect(header.sendingApplication).toBe(msh!.getField(3).toString());
    expect(header.controlId).not.toBe('');
    expect(header.messageType).toMatch(/^[A-Z0-9]{3}(\^[A-Z0-9]{3})?$/);
  });

  it.each(Object.entries(BROKEN))('reports what is wrong with %s', (name, expected) => {
    const { text } = decodeMessage(readFileSync(path.join(REALDATA, name)));
    let thrown: unknown;
    try {
      parseMessageHeader(text);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(CarelaneError);
    const error = thrown as CarelaneError;
    expect(error.failureClass).toBe('permanent');
    expect(error.code).toBe(expected.code);
    expect(error.where?.segment).toBe('MSH');
    expect(error.where?.line).toBe(1);
    if (expected.field) expect(error.where?.field).toBe(expected.field);
  });

  it('reads custom delimiters from MSH-1 and MSH-2 and reports the type with ^', () => {
    const text = readFileSync(path.join(REALDATA, 'rethinkhealth-hl7v2-qa-fixtures/edge-custom-delimiters.hl7'), 'utf8');
    const header = parseMessageHeader(text);
    expect(header.fieldSeparator).toBe('#');
    expect(header.encodingCharacters).toBe('!@%*');
    expect(header.delimiters).toEqual({ field: '#', component: '!', repetition: '@', escape: '%', subcomponent: '*', truncation: '' });
    expect(header.messageType).toBe('ADT^A01');
    expect(header.controlId).toBe('MSG007');
    expect(header.sendingApplication).toBe('SENDER');
    expect(header.receivingFacility).toBe('FAC');
  });

  it('reads enhanced acknowledgment types from MSH-15 and MSH-16', () => {
    const header = parseMessageHeader(readFileSync(path.join(REALDATA, 'cdcgov-trusted-intermediary/LA_001_LA_ORM_O01_NBS.hl7'), 'utf8'));
    expect(header.acceptAckType).toBe('AL');
    expect(header.applicationAckType).toBe('AL');
    expect(header.sendingApplication).toBe('Epic^1.2.840.114350.1.13.145.2.7.2.695071^ISO');
    expect(header.messageStructure).toBe('ORM_O01');
  });

  it('finds the first MSH of an FHS/BHS batch and says it is a batch', () => {
    const header = parseMessageHeader(readFileSync(path.join(REALDATA, 'mirth-connect/test-hl7-batch-input.txt'), 'utf8'));
    expect(header.batch).toBe('FHS');
    expect(header.controlId).toBe('12345678');
    expect(header.line).toBe(3);
  });
});

describe('HL7 v2 message header on constructed input', () => {
  it('accepts CR, LF and CRLF segment ends mixed, and blank lines and a BOM before the MSH', () => {
    const text = '\uFEFF\r\n\nMSH|^~\\&|APP|FAC|RCV|RFAC|20260101||ORU^R01^ORU_R01|X-1|T|2.4|||NE|AL||UNICODE UTF-8\nPID|1\r\nOBX|1\rOBX|2\n';
    const header = parseMessageHeader(text);
    expect(header).toMatchObject({
      messageType: 'ORU^R01',
      controlId: 'X-1',
      processingId: 'T',
      version: '2.4',
      acceptAckType: 'NE',
      applicationAckType: 'AL',
      characterSet: 'UNICODE UTF-8',
      line: 3,
      batch: null,
    });
  });

  it('reads the v2.7 truncation character as the fifth encoding character', () => {
    const header = parseMessageHeader('MSH|^~\\&#|A|B|C|D|20260101||ADT^A04|9|P|2.8\r');
    expect(header.delimiters.truncation).toBe('#');
    expect(header.version).toBe('2.8');
  });

  it('takes the first component of MSH-11 and MSH-12', () => {
    const header = parseMessageHeader('MSH|^~\\&|A|B|C|D|20260101||ADT^A04|9|P^T|2.5.1^USA\r');
    expect(header.processingId).toBe('P');
    expect(header.version).toBe('2.5.1');
  });

  it('names the segment and line found instead of MSH', () => {
    const reading = readMessageHeader('\r\nPID|1||123\rPV1|1\r');
    expect(reading.ok).toBe(false);
    if (reading.ok) return;
    expect(reading.error.code).toBe('hl7_no_msh');
    expect(reading.error.message).toContain("found 'PID' on line 2");
    expect(reading.error.where).toEqual({ segment: 'MSH', line: 2 });
  });

  it('does not echo binary input as a segment name', () => {
    const reading = readMessageHeader(Buffer.from([0x00, 0xff, 0x13, 0x37, 0x7f]).toString('latin1'));
    expect(reading.ok).toBe(false);
    if (!reading.ok) expect(reading.error.message).toContain('found no segment name on line 1');
  });

  it('keeps what it could read when a required field is missing, so the negative ACK names the message', () => {
    const reading = readMessageHeader('MSH|^~\\&|APP|FAC|RCV|RFAC|20260101||ADT^A01|CTRL-9|P|\r');
    expect(reading.ok).toBe(false);
    if (reading.ok) return;
    expect(reading.error.message).toBe('MSH-12 version id is empty');
    expect(reading.error.where).toEqual({ segment: 'MSH', field: 'MSH.12', line: 1 });
    expect(reading.partial).toMatchObject({ controlId: 'CTRL-9', sendingApplication: 'APP', messageType: 'ADT^A01' });
  });

  it('rejects encoding characters that are not four or five distinct delimiters', () => {
    for (const msh of ['MSH|^^~\\|A|B|C|D|1||ADT^A01|1|P|2.5\r', 'MSH|^~|A|B|C|D|1||ADT^A01|1|P|2.5\r', 'MSHA^~\\&A\r']) {
      const reading = readMessageHeader(msh);
      expect(reading.ok, msh).toBe(false);
      if (!reading.ok) expect(reading.error.code, msh).toBe('hl7_bad_delimiters');
    }
  });

  it('reports an FHS batch without any MSH', () => {
    const reading = readMessageHeader('FHS|^~\\&|A\rBHS|^~\\&|A\rBTS|0\rFTS|1\r');
    expect(reading.ok).toBe(false);
    if (!reading.ok) expect(reading.error.message).toBe("the FHS batch holds no MSH segment (found 'FHS' on line 1)");
  });

  it('decodes a message as ISO 8859-1 when MSH-18 says so, else as UTF-8', () => {
    const latin = Buffer.concat([Buffer.from('MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5||||||8859/1\rPID|1||||M'), Buffer.from([0xfc]), Buffer.from('LLER\r')]);
    expect(decodeMessage(latin)).toMatchObject({ encoding: 'latin1' });
    expect(decodeMessage(latin).text).toContain('MÜLLER'.replace('Ü', 'ü'));
    const utf8 = Buffer.from('MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5\rPID|1||||MüLLER\r', 'utf8');
    expect(decodeMessage(utf8)).toMatchObject({ encoding: 'utf8' });
    expect(decodeMessage(utf8).text).toContain('MüLLER');
  });
});
