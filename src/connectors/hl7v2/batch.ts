import { permanentError, type CarelaneError } from '../../contracts/errors.ts';
import { hl7Timestamp, newAckControlId } from './ack.ts';
import { DEFAULT_DELIMITERS, type Hl7Delimiters } from './message-header.ts';

/**
 * HL7 v2 batches (HL7 v2.5.1 chapter 2, 2.10.3 "HL7 batch protocol"): a file [FHS] { [BHS] { MSH … } [BTS] }
 * [FTS] sent as one block. Pure: the batch is split into its messages, each stored and acknowledged on its
 * own, and the acknowledgments go back as a batch with the same envelope (2.10.3.3: "the receiving system
 * returns a batch of acknowledgment messages"), its BHS-12 / FHS-12 naming the batch and file it answers.
 */

export interface BatchEnvelope {
  /** the FHS / BHS segments as written ('' when absent) */
  fileHeader: string;
  batchHeader: string;
  /** FHS-11 file control id, BHS-11 batch control id */
  fileControlId: string;
  batchControlId: string;
  /** FHS-3..6 / BHS-3..6: sender and receiver, swapped in the answer */
  sendingApplication: string;
  sendingFacility: string;
  receivingApplication: string;
  receivingFacility: string;
  delimiters: Hl7Delimiters;
}

export interface SplitBatch {
  envelope: BatchEnvelope;
  /** each message's text, segments ended by CR */
  messages: string[];
}

export type BatchReading = { ok: true; batch: SplitBatch } | { ok: false; error: CarelaneError };

const lines = (text: string): Array<{ text: string; number: number }> =>
  text
    .replace(/^\uFEFF/, '')
    .split(/\r\n|\r|\n/)
    .map((line, index) => ({ text: line, number: index + 1 }))
    .filter((line) => line.text.trim() !== '');

function fieldsOf(segment: string, separator: string): string[] {
  // FHS/BHS are numbered like MSH: FHS-1 is the separator itself, the text after 'FHS|' is FHS-2.
  const parts = segment.split(separator);
  return [parts[0] ?? '', separator, ...parts.slice(1)];
}

/** Splits a batch, checking BTS-1 (batch message count) and FTS-1 (file batch count) when the sender gave them. */
export function splitBatch(text: string): BatchReading {
  const all = lines(text);
  const first = all[0];
  if (!first || !/^(FHS|BHS)/.test(first.text)) return { ok: false, error: batchError('the batch does not start with FHS or BHS', 'FHS', first?.number ?? 1) };
  const separator = first.text.charAt(3) || '|';
  const encoding = first.text.slice(4).split(separator)[0] ?? '';
  const [component = '^', repetition = '~', escape = '\\', subcomponent = '&'] = [...encoding];
  const delimiters: Hl7Delimiters = { ...DEFAULT_DELIMITERS, field: separator, component, repetition, escape, subcomponent };
  const envelope: BatchEnvelope = { fileHeader: '', batchHeader: '', fileControlId: '', batchControlId: '', sendingApplication: '', sendingFacility: '', receivingApplication: '', receivingFacility: '', delimiters };
  const messages: string[][] = [];
  let batches = 0;
  let inBatch = 0;
  let batchCountGiven: { count: number; line: number } | undefined;
  let fileCountGiven: { count: number; line: number } | undefined;
  for (const line of all) {
    const name = line.text.slice(0, 3);
    const fields = fieldsOf(line.text, separator);
    if (name === 'FHS' || name === 'BHS') {
      if (name === 'BHS') batches++;
      const header = name === 'FHS' ? 'fileHeader' : 'batchHeader';
      if (envelope[header]) return { ok: false, error: batchError(`a second ${name} on line ${line.number}: send one batch per block`, name, line.number) };
      envelope[header] = line.text;
      if (name === 'FHS') envelope.fileControlId = fields[11] ?? '';
      else envelope.batchControlId = fields[11] ?? '';
      envelope.sendingApplication ||= fields[3] ?? '';
      envelope.sendingFacility ||= fields[4] ?? '';
      envelope.receivingApplication ||= fields[5] ?? '';
      envelope.receivingFacility ||= fields[6] ?? '';
    } else if (name === 'BTS') {
      // BTS and FTS are numbered as usual: BTS-1 is the first field after the segment name.
      const given = (line.text.split(separator)[1] ?? '').trim();
      if (given) batchCountGiven = { count: Number(given), line: line.number };
    } else if (name === 'FTS') {
      const given = (line.text.split(separator)[1] ?? '').trim();
      if (given) fileCountGiven = { count: Number(given), line: line.number };
    } else if (name === 'MSH') {
      messages.push([line.text]);
      inBatch++;
    } else {
      const current = messages.at(-1);
      if (!current) return { ok: false, error: batchError(`segment ${JSON.stringify(name)} on line ${line.number} is outside any message: each message starts with MSH`, name, line.number) };
      current.push(line.text);
    }
  }
  if (batchCountGiven && batchCountGiven.count !== inBatch) {
    return { ok: false, error: batchError(`BTS-1 says the batch holds ${batchCountGiven.count} messages, ${inBatch} were received: the batch is incomplete or miscounted`, 'BTS', batchCountGiven.line, 'BTS.1') };
  }
  if (fileCountGiven && fileCountGiven.count !== Math.max(batches, 1)) {
    return { ok: false, error: batchError(`FTS-1 says the file holds ${fileCountGiven.count} batches, ${Math.max(batches, 1)} were received`, 'FTS', fileCountGiven.line, 'FTS.1') };
  }
  if (messages.length === 0) return { ok: false, error: batchError('the batch holds no message (no MSH)', 'MSH', first.number) };
  return { ok: true, batch: { envelope, messages: messages.map((segments) => `${segments.join('\r')}\r`) } };
}

function batchError(message: string, segment: string, line: number, field?: string): CarelaneError {
  return permanentError(message, { code: 'hl7_bad_batch', where: { segment, line, ...(field ? { field } : {}) } });
}

/**
 * The acknowledgment batch: FHS (when the batch had one) and BHS with sender and receiver swapped, a fresh
 * control id in FHS-11/BHS-11 and the received one in FHS-12/BHS-12 (reference file/batch control id), the
 * ACK messages, BTS-1 their count, FTS-1 = 1.
 */
export function buildBatchAck(envelope: BatchEnvelope, acks: string[], now: Date = new Date()): string {
  const d = envelope.delimiters;
  const encoding = d.component + d.repetition + d.escape + d.subcomponent;
  const header = (name: 'FHS' | 'BHS', reference: string) =>
    [name, encoding, envelope.receivingApplication || 'CARELANE', envelope.receivingFacility, envelope.sendingApplication, envelope.sendingFacility, hl7Timestamp(now), '', '', '', newAckControlId(), reference].join(d.field);
  const segments: string[] = [];
  if (envelope.fileHeader) segments.push(header('FHS', envelope.fileControlId));
  segments.push(header('BHS', envelope.batchControlId));
  for (const ack of acks) segments.push(...ack.split('\r').filter(Boolean));
  segments.push(['BTS', String(acks.length)].join(d.field));
  if (envelope.fileHeader) segments.push(['FTS', '1'].join(d.field));
  return `${segments.join('\r')}\r`;
}
