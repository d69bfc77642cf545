import { Hl7Message } from '@medplum/core';
import { describe, expect, it } from 'vitest';
import { permanentError } from '../../contracts/errors.ts';
import { ackErrorFrom, acknowledgmentWanted, buildAck, buildApplicationAck, escapeHl7Text, newAckControlId, versionAtLeast } from './ack.ts';
import { DEFAULT_DELIMITERS, parseMessageHeader, readMessageHeader } from './message-header.ts';

const NOW = new Date('2026-03-09T12:00:00.000Z');
const ADT = 'MSH|^~\\&|ADT_APP|FACILITY_A|RECV_APP|FACILITY_B|20260309120000||ADT^A01^ADT_A01|MSG00001|P|2.5.1\rEVN|A01|20260309120000\rPID|1||12345^^^MRN||DOE^JOHN\r';

const segments = (ack: string) => ack.split('\r').filter(Boolean);
const fieldsOf = (segment: string, separator = '|') => segment.split(separator);

describe('HL7 v2 ACK', () => {
  it('accepts in original mode: AA, sender and receiver swapped, same version, ACK^<trigger>^ACK, MSA-2 = MSH-10', () => {
    const ack = buildAck(parseMessageHeader(ADT), 'accept', undefined, { now: NOW, controlId: 'ACK1' });
    expect(ack).toMatchObject({ code: 'AA', mode: 'original', send: true });
    expect(ack.text).toBe('MSH|^~\\&|RECV_APP|FACILITY_B|ADT_APP|FACILITY_A|20260309120000+0000||ACK^A01^ACK|ACK1|P|2.5.1\rMSA|AA|MSG00001\r');
  });

  it('gives every ACK a fresh control id, never the message own', () => {
    const header = parseMessageHeader(ADT);
    const ids = new Set(Array.from({ length: 500 }, () => fieldsOf(segments(buildAck(header, 'accept').text)[0]!)[9]));
    expect(ids.size).toBe(500);
    expect(ids.has('MSG00001')).toBe(false);
    expect(newAckControlId().length).toBeLessThanOrEqual(20);
  });

  it('is a message an independent parser reads back', () => {
    const ack = buildAck(parseMessageHeader(ADT), 'reject', { hl7ErrorCode: 101, text: 'MSH-9 message type is empty', where: { segment: 'MSH', field: 'MSH.9', line: 1 } });
    const parsed = Hl7Message.parse(ack.text);
    expect(parsed.getSegment('MSA')?.getField(1).toString()).toBe('AR');
    expect(parsed.getSegment('MSA')?.getField(2).toString()).toBe('MSG00001');
    expect(parsed.getSegment('ERR')?.getComponent(3, 1)).toBe('101');
    expect(parseMessageHeader(ack.text).messageType).toBe('ACK^A01');
  });

  it('keeps the message custom delimiters in the ACK', () => {
    const header = parseMessageHeader('MSH#!@%*#SENDER#FAC#RECV#RFAC#20260301120000##ADT!A01#MSG007#P#2.5\rPID#1\r');
    const ack = buildAck(header, 'accept', undefined, { now: NOW, controlId: 'C1' });
    expect(ack.text).toBe('MSH#!@%*#RECV#RFAC#SENDER#FAC#20260309120000+0000##ACK!A01!ACK#C1#P#2.5\rMSA#AA#MSG007\r');
  });

  it('omits the message structure component of MSH-9 before v2.3.1, where it did not exist', () => {
    const header = parseMessageHeader('MSH|^~\\&|EPICSTND|MB|PSC|MB|20230927071047||ORM^O01|550162|D|2.3\r');
    expect(fieldsOf(segments(buildAck(header, 'accept').text)[0]!)[8]).toBe('ACK^O01');
    expect(fieldsOf(segments(buildAck(parseMessageHeader(ADT), 'accept').text)[0]!)[8]).toBe('ACK^A01^ACK');
  });

  it('answers AR with an ERR that gives location, table 0357 code, severity and the reason', () => {
    const reading = readMessageHeader('MSH|^~\\&|APP|FAC|RCV|RFAC|20260101|||CTRL-7|P|2.5.1\r');
    expect(reading.ok).toBe(false);
    if (reading.ok) return;
    const ack = buildAck(reading.partial, 'reject', ackErrorFrom(reading.error), { now: NOW, controlId: 'C2' });
    expect(ack.code).toBe('AR');
    const [msh, msa, err] = segments(ack.text);
    expect(fieldsOf(msh!)[8]).toBe('ACK');
    // MSA-3 (text message) too, for senders that read only MSA: it exists up to v2.6
    expect(msa).toBe('MSA|AR|CTRL-7|MSH-9 message type is empty');
    expect(err).toBe('ERR||MSH^1^9|101^Required field missing^HL70357|E||||MSH-9 message type is empty');
  });

  it('answers AE with ERR-3 207 when the message could not be stored', () => {
    const ack = buildAck(parseMessageHeader(ADT), 'error', { hl7ErrorCode: 207, text: 'message not stored, resend' });
    expect(ack.code).toBe('AE');
    expect(segments(ack.text)[1]).toBe('MSA|AE|MSG00001|message not stored, resend');
    expect(segments(ack.text)[2]).toBe('ERR|||207^Application internal error^HL70357|E||||message not stored, resend');
  });

  it('maps header errors to table 0357 codes, anything unforeseen to 207', () => {
    expect(ackErrorFrom(permanentError('x', { code: 'hl7_no_msh' })).hl7ErrorCode).toBe(100);
    expect(ackErrorFrom(permanentError('x', { code: 'hl7_missing_field' })).hl7ErrorCode).toBe(101);
    expect(ackErrorFrom(permanentError('x', { code: 'hl7_bad_delimiters' })).hl7ErrorCode).toBe(102);
    expect(ackErrorFrom(permanentError('x', { code: 'hl7_unsupported_version' })).hl7ErrorCode).toBe(203);
    expect(ackErrorFrom(permanentError('x', { code: 'something_else' })).hl7ErrorCode).toBe(207);
  });

  it('escapes delimiters in the error text with the message own escape character', () => {
    expect(escapeHl7Text('a|b^c~d\\e&f', DEFAULT_DELIMITERS)).toBe('a\\F\\b\\S\\c\\R\\d\\E\\e\\T\\f');
    expect(escapeHl7Text('line1\rline2', DEFAULT_DELIMITERS)).toBe('line1 line2');
    const custom = { field: '#', component: '!', repetition: '@', escape: '%', subcomponent: '*', truncation: '' };
    expect(escapeHl7Text('50% of #1!', custom)).toBe('50%E% of %F%1%S%');
    expect(escapeHl7Text('cut#', { ...DEFAULT_DELIMITERS, truncation: '#' })).toBe('cut\\P\\');
    const header = parseMessageHeader(ADT);
    const ack = buildAck(header, 'reject', { hl7ErrorCode: 102, text: "value 'A|B' is not a number" });
    const err = segments(ack.text)[2]!;
    expect(fieldsOf(err)).toHaveLength(9);
    expect(fieldsOf(err)[8]).toBe("value 'A\\F\\B' is not a number");
  });

  it('uses ERR-1 and MSA-3 for versions before 2.5, where ERR-2..8 did not exist', () => {
    const header = parseMessageHeader('MSH|^~\\&|A|B|C|D|1||ORM^O01|Q1|P|2.3\r');
    const ack = buildAck(header, 'reject', { hl7ErrorCode: 101, text: 'MSH-12 version id is empty', where: { segment: 'MSH', field: 'MSH.12' } });
    const [, msa, err] = segments(ack.text);
    expect(msa).toBe('MSA|AR|Q1|MSH-12 version id is empty');
    expect(err).toBe('ERR|MSH^1^12^101&Required field missing&HL70357');
  });

  it('leaves MSA-3 out from v2.7, where it was withdrawn', () => {
    const header = parseMessageHeader('MSH|^~\\&|A|B|C|D|1||ADT^A01|Z1|P|2.8\r');
    expect(segments(buildAck(header, 'reject', { hl7ErrorCode: 101, text: 'x' }).text)[1]).toBe('MSA|AR|Z1');
  });

  it('answers the accept acknowledgment CA/CE/CR when MSH-15 asks for enhanced mode', () => {
    const enhanced = (accept: string) => parseMessageHeader(`MSH|^~\\&|A|B|C|D|1||OML^O21^OML_O21|E1|D|2.5.1|||${accept}|AL\r`);
    expect(buildAck(enhanced('AL'), 'accept')).toMatchObject({ code: 'CA', mode: 'enhanced', send: true });
    expect(buildAck(enhanced('AL'), 'error', { hl7ErrorCode: 207, text: 'x' })).toMatchObject({ code: 'CE', send: true });
    expect(buildAck(enhanced('AL'), 'reject', { hl7ErrorCode: 101, text: 'x' })).toMatchObject({ code: 'CR', send: true });
    expect(segments(buildAck(enhanced('AL'), 'accept').text)[1]).toBe('MSA|CA|E1');
  });

  it('sends the accept acknowledgment only under the conditions MSH-15 names (table 0155)', () => {
    const withAccept = (accept: string) => parseMessageHeader(`MSH|^~\\&|A|B|C|D|1||ADT^A01|E1|P|2.5.1|||${accept}|NE\r`);
    expect(buildAck(withAccept('NE'), 'accept').send).toBe(false);
    expect(buildAck(withAccept('NE'), 'reject', { hl7ErrorCode: 101, text: 'x' }).send).toBe(false);
    expect(buildAck(withAccept('ER'), 'accept').send).toBe(false);
    expect(buildAck(withAccept('ER'), 'reject', { hl7ErrorCode: 101, text: 'x' }).send).toBe(true);
    expect(buildAck(withAccept('SU'), 'accept').send).toBe(true);
    expect(buildAck(withAccept('SU'), 'error', { hl7ErrorCode: 207, text: 'x' }).send).toBe(false);
  });

  it('answers enhanced mode CA when only MSH-16 is valued (either field valued means enhanced mode)', () => {
    const header = parseMessageHeader('MSH|^~\\&|A|B|C|D|1||ADT^A01|E1|P|2.5.1||||AL\r');
    expect(buildAck(header, 'accept')).toMatchObject({ code: 'CA', mode: 'enhanced', send: true });
    expect(buildAck(parseMessageHeader('MSH|^~\\&|A|B|C|D|1||ADT^A01|E1|P|2.5.1\r'), 'accept')).toMatchObject({ code: 'AA', mode: 'original' });
  });

  it('builds the application acknowledgment: MSA AA/AE/AR naming the message, ERR per error, its own MSH-15 AL / MSH-16 NE, no PID', () => {
    const orm = parseMessageHeader('MSH|^~\\&|SCHED|NORTH|CARELANE|NET|20260309120000||ORM^O01^ORM_O01|ORD-1|P|2.5.1|||AL|AL\rPID|1||12345^^^MRN||DOE^JOHN\r');
    const aa = buildApplicationAck(orm, 'AA', [{ hl7ErrorCode: 207, text: 'ignored on success' }], { now: NOW, controlId: 'APP1' });
    expect(aa).toBe('MSH|^~\\&|CARELANE|NET|SCHED|NORTH|20260309120000+0000||ACK^O01^ACK|APP1|P|2.5.1|||AL|NE\rMSA|AA|ORD-1\r');
    const ae = buildApplicationAck(
      orm,
      'AE',
      [
        { hl7ErrorCode: 204, text: 'no mapping for item G44', where: { segment: 'RQD', field: 'RQD.2' } },
        { hl7ErrorCode: 101, text: 'no location: PV1-3 is empty', where: { segment: 'PV1', field: 'PV1.3' } },
      ],
      { now: NOW, controlId: 'APP2' },
    );
    const [msh, msa, err1, err2, extra] = segments(ae);
    expect(fieldsOf(msh!).slice(14)).toEqual(['AL', 'NE']);
    expect(msa).toBe('MSA|AE|ORD-1|no mapping for item G44');
    expect(err1).toBe('ERR||RQD^1^2|204^Unknown key identifier^HL70357|E||||no mapping for item G44');
    expect(err2).toBe('ERR||PV1^1^3|101^Required field missing^HL70357|E||||no location: PV1-3 is empty');
    expect(extra).toBeUndefined();
    expect(ae).not.toContain('DOE');
    expect(Hl7Message.parse(ae).getSegment('MSA')?.getField(1).toString()).toBe('AE');
  });

  it('carries warnings (ERR-4 W) with a full ERR-2 location on an AA, after the errors of an AE, and never as MSA-3', () => {
    const warning = { hl7ErrorCode: 0, severity: 'W', text: 'PID.5.1: cut', location: { segment: 'PID', sequence: 1, field: 5, repetition: 1, component: 1 } } as const;
    const v27 = parseMessageHeader('MSH|^~\\&#|SCHED|NORTH|CARELANE|NET|20260309120000||ORM^O01^ORM_O01|ORD-1|P|2.7|||AL|AL\r');
    const aa = segments(buildApplicationAck(v27, 'AA', [{ hl7ErrorCode: 207, text: 'ignored on success' }, warning], { now: NOW, controlId: 'APP1' }));
    expect(aa.slice(1)).toEqual(['MSA|AA|ORD-1', 'ERR||PID^1^5^1^1|0^Message accepted^HL70357|W||||PID.5.1: cut']);
    const v251 = parseMessageHeader('MSH|^~\\&|SCHED|NORTH|CARELANE|NET|20260309120000||ORM^O01^ORM_O01|ORD-2|P|2.5.1|||AL|AL\r');
    expect(segments(buildApplicationAck(v251, 'AA', [warning], { now: NOW }))[1]).toBe('MSA|AA|ORD-2');
    const ae = segments(buildApplicationAck(v251, 'AE', [warning, { hl7ErrorCode: 204, text: 'no mapping for item G44' }], { now: NOW }));
    // MSA-3 (before v2.7) is the first error's reason, not the warning's
    expect(ae.slice(1).map((s) => s.split('|').slice(0, 5).join('|'))).toEqual(['MSA|AE|ORD-2|no mapping for item G44', 'ERR||PID^1^5^1^1|0^Message accepted^HL70357|W', 'ERR|||204^Unknown key identifier^HL70357|E']);
    // before v2.5 an ERR has no severity: a warning would read as an error, so it is left out
    const v23 = parseMessageHeader('MSH|^~\\&|SCHED|NORTH|CARELANE|NET|20260309120000||ORM^O01|ORD-3|P|2.3|||AL|AL\r');
    expect(segments(buildApplicationAck(v23, 'AA', [warning], { now: NOW }))).toHaveLength(2);
  });

  it('sends application acknowledgments as MSH-16 asks (table 0155)', () => {
    expect(acknowledgmentWanted('AL', true)).toBe(true);
    expect(acknowledgmentWanted('AL', false)).toBe(true);
    expect(acknowledgmentWanted('ER', true)).toBe(false);
    expect(acknowledgmentWanted('ER', false)).toBe(true);
    expect(acknowledgmentWanted('SU', true)).toBe(true);
    expect(acknowledgmentWanted('SU', false)).toBe(false);
    expect(acknowledgmentWanted('NE', true)).toBe(false);
    expect(acknowledgmentWanted('ne', false)).toBe(false);
  });

  it('builds a generic AR with default delimiters for input without any MSH', () => {
    const ack = buildAck(null, 'reject', { hl7ErrorCode: 100, text: 'the message does not start with an MSH segment', where: { segment: 'MSH', line: 1 } }, { now: NOW, controlId: 'G1' });
    expect(ack.text).toBe(
      'MSH|^~\\&|CARELANE||||20260309120000+0000||ACK|G1|P|2.5.1\rMSA|AR||the message does not start with an MSH segment\rERR||MSH^1|100^Segment sequence error^HL70357|E||||the message does not start with an MSH segment\r',
    );
  });

  it('echoes MSH-18 so the sender knows the ACK is in its character set', () => {
    const header = parseMessageHeader('MSH|^~\\&|BB|HNAM|LIFE LINK||20240213134009||ORM^O01|Q19|D|2.3||||||8859/1\r');
    const msh = fieldsOf(segments(buildAck(header, 'accept').text)[0]!);
    expect(msh).toHaveLength(18);
    expect(msh[17]).toBe('8859/1');
  });

  it('echoes a version that is not HL7 v2 but lays the ACK out as v2.5.1', () => {
    const header = parseMessageHeader('MSH|^~\\&|A|B|C|D|1||ADT^A01|V1|P|1.0\r');
    const ack = buildAck(header, 'reject', { hl7ErrorCode: 203, text: 'x', where: { segment: 'MSH', field: 'MSH.12' } });
    expect(fieldsOf(segments(ack.text)[0]!)[11]).toBe('1.0');
    expect(segments(ack.text)[2]).toBe('ERR||MSH^1^12|203^Unsupported version id^HL70357|E||||x');
  });

  it('compares HL7 version ids numerically', () => {
    expect(versionAtLeast('2.3', 2, 3, 1)).toBe(false);
    expect(versionAtLeast('2.3.1', 2, 3, 1)).toBe(true);
    expect(versionAtLeast('2.10', 2, 5)).toBe(true);
    expect(versionAtLeast('2.4', 2, 5)).toBe(false);
  });
});
