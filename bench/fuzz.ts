import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import { CarelaneError } from '../src/contracts/errors.ts';
import { Hl7Message, MllpDecoder, SUPPORTED_HL7_DEMAND_TYPES, decodeMessage, frame, mapHl7Demand, parseMessageHeader, readMessageHeader, type MllpEvent } from '../src/connectors/hl7v2/index.ts';
import { allIssues, parseX12, readX12, toCanonical } from '../src/connectors/x12/index.ts';
import { DEMAND_RESOURCE_TYPES, defaultR4Definitions, mapFhirDemand, parseSubscriptionNotification, validateResource } from '../src/connectors/fhir/index.ts';
import type { Resource } from '@medplum/fhirtypes';
import { formatTable, round } from './support.ts';

/**
 * Property-based fuzzing of the inbound parsers (issue 10): HL7 v2 (MLLP framing, MSH reader, Hl7Message,
 * mapHl7Demand), X12 (readX12, toCanonical, parseX12) and FHIR R4 (validateResource, mapFhirDemand,
 * parseSubscriptionNotification). Inputs are random bytes/JSON and mutations of the real files under
 * ../shared/realdata. The property of every target: the parser returns, or throws a CarelaneError that says
 * where (segment/field/line), and each case finishes within `perCaseMs`.
 *
 * The same targets run twice: a few hundred cases each in CI (test/fuzz-*.test.ts), and
 * `runFuzzBench({ cases })` (default 100,000 per target) for the bench, each target in a worker thread so a
 * parser stuck in a loop is reported as a hang instead of stopping the run.
 */

const REALDATA = path.resolve(import.meta.dirname, '../../shared/realdata');
const IDENTITY = (identifier: string): string => identifier;

// ---------------------------------------------------------------------------------------------------------
// Checks shared by every target

/** A failure of the property (not of the parser under test): carries what went wrong for the report. */
class PropertyViolation extends Error {}

/** The parser threw: it must be a CarelaneError that says where (segment, field or line). */
export function expectLocatedError(error: unknown, what: string): void {
  if (!(error instanceof CarelaneError)) {
    const detail = error instanceof Error ? `${error.name}: ${error.message}\n${error.stack ?? ''}` : String(error);
    throw new PropertyViolation(`${what} threw something other than a CarelaneError: ${detail}`);
  }
  const where = error.where;
  if (!where || (where.segment === undefined && where.field === undefined && where.line === undefined && where.position === undefined)) {
    throw new PropertyViolation(`${what} threw CarelaneError '${error.code}' without saying where: ${error.message}`);
  }
}

function attempt(what: string, run: () => void): void {
  try {
    run();
  } catch (error) {
    if (error instanceof PropertyViolation) throw error;
    expectLocatedError(error, what);
  }
}

/** Runs one case and fails it when it took longer than `limitMs` (super-linear work on a small input). */
function timed<T>(limitMs: number, check: (value: T) => void): (value: T) => void {
  return (value) => {
    const started = performance.now();
    check(value);
    const elapsed = performance.now() - started;
    if (elapsed > limitMs) throw new PropertyViolation(`one case took ${elapsed.toFixed(0)} ms (limit ${limitMs} ms)`);
  };
}

// ---------------------------------------------------------------------------------------------------------
// Real inputs

function filesUnder(directory: string, extensions: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (extensions.some((ext) => name.endsWith(ext))) out.push(full);
    }
  };
  walk(directory);
  return out;
}

let hl7Corpus: string[] | undefined;
let x12Corpus: string[] | undefined;
let fhirCorpus: Array<Record<string, unknown>> | undefined;

export function realHl7Messages(): string[] {
  hl7Corpus ??= filesUnder(path.join(REALDATA, 'hl7v2'), ['.hl7', '.txt']).map((file) => readFileSync(file, 'latin1'));
  return hl7Corpus;
}

export function realX12Files(): string[] {
  x12Corpus ??= filesUnder(path.join(REALDATA, 'x12'), ['.edi']).map((file) => readFileSync(file, 'utf8'));
  return x12Corpus;
}

export function realFhirResources(): Array<Record<string, unknown>> {
  fhirCorpus ??= filesUnder(path.join(REALDATA, 'fhir', 'r4-official-examples'), ['.json']).map((file) => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>);
  return fhirCorpus;
}

// ---------------------------------------------------------------------------------------------------------
// HL7 v2

const HL7_NOISE = fc.constantFrom('|', '^', '~', '\\', '&', '#', '\r', '\n', '\r\n', 'MSH', 'MSH|^~\\&|', '""', '\\X41\\', '\\F\\', '\\', '\u0000', '\u00e9', '\ufeff', ' ', 'ORC|NW|', 'PID|||', 'SCH|1|2', 'RQD|1|ITEM^x^L||5|EA', 'FT1|1|||20250101||CG|C1');

type Hl7Mutation =
  | { kind: 'delete' | 'duplicate'; at: number }
  | { kind: 'swap'; at: number; other: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'replace'; at: number; text: string }
  | { kind: 'setType'; type: string }
  | { kind: 'emptyField'; at: number; field: number }
  | { kind: 'lineEnding'; to: string };

const hl7Mutation: fc.Arbitrary<Hl7Mutation> = fc.oneof(
  fc.record({ kind: fc.constantFrom('delete' as const, 'duplicate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), at: fc.nat(), other: fc.nat() }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.oneof(HL7_NOISE, fc.string({ maxLength: 8 })) }),
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), text: fc.oneof(HL7_NOISE, fc.string({ maxLength: 2 })) }),
  fc.record({ kind: fc.constant('setType' as const), type: fc.constantFrom(...SUPPORTED_HL7_DEMAND_TYPES, 'ADT^A01', 'ACK', '', 'SIU', '^S12') }),
  fc.record({ kind: fc.constant('emptyField' as const), at: fc.nat(), field: fc.integer({ min: 1, max: 25 }) }),
  fc.record({ kind: fc.constant('lineEnding' as const), to: fc.constantFrom('\r', '\n', '\r\n', '') }),
);

export function mutateHl7(text: string, mutations: Hl7Mutation[]): string {
  let segments = text.split(/\r\n|\r|\n/);
  let ending = '\r';
  for (const m of mutations) {
    const n = segments.length;
    switch (m.kind) {
      case 'delete':
        if (n > 0) segments.splice(m.at % n, 1);
        break;
      case 'duplicate':
        if (n > 0) segments.splice(m.at % n, 0, segments[m.at % n]!);
        break;
      case 'swap':
        if (n > 1) {
          const a = m.at % n;
          const b = m.other % n;
          [segments[a], segments[b]] = [segments[b]!, segments[a]!];
        }
        break;
      case 'truncate': {
        const joined = segments.join('\r');
        segments = joined.slice(0, m.at % (joined.length + 1)).split('\r');
        break;
      }
      case 'insert':
      case 'replace': {
        const joined = segments.join('\r');
        const at = m.at % (joined.length + 1);
        const tail = m.kind === 'replace' ? at + m.text.length || at + 1 : at;
        segments = (joined.slice(0, at) + m.text + joined.slice(tail)).split('\r');
        break;
      }
      case 'setType': {
        const i = segments.findIndex((s) => s.startsWith('MSH'));
        const msh = segments[i];
        if (msh === undefined || msh.length < 4) break;
        const separator = msh.charAt(3);
        const fields = msh.split(separator);
        while (fields.length < 10) fields.push('');
        fields[8] = m.type.replaceAll('^', msh.charAt(4) || '^');
        segments[i] = fields.join(separator);
        break;
      }
      case 'emptyField': {
        if (n === 0) break;
        const i = m.at % n;
        const separator = segments[i]!.startsWith('MSH') ? segments[i]!.charAt(3) || '|' : '|';
        const fields = segments[i]!.split(separator);
        if (m.field < fields.length) fields[m.field] = '';
        segments[i] = fields.join(separator);
        break;
      }
      case 'lineEnding':
        ending = m.to;
        break;
    }
  }
  return segments.join(ending);
}

/** Everything the HL7 v2 inbound path does with a decoded text: MSH reader, Hl7Message, mapHl7Demand. */
export function checkHl7Text(text: string): void {
  const reading = readMessageHeader(text);
  if (!reading.ok) expectLocatedError(reading.error, 'readMessageHeader (error result)');
  attempt('parseMessageHeader', () => parseMessageHeader(text));
  attempt('decodeMessage', () => decodeMessage(Buffer.from(text, 'latin1')));
  attempt('Hl7Message.parse + mapHl7Demand', () => {
    const message = Hl7Message.parse(text);
    if (!reading.ok) throw new PropertyViolation(`Hl7Message.parse accepted a message whose header readMessageHeader refused (${reading.error.code})`);
    // the accessor must answer for any segment, field and component, absent ones included
    for (const segment of message.segments) {
      for (let field = 1; field <= segment.fields.length; field++) {
        message.get(segment, field);
        message.get(segment, field, 2, 2, 1);
        message.components(segment, field);
        message.repetitions(segment, field);
      }
    }
    mapHl7Demand(message, { tokenize: IDENTITY });
  });
}

const hl7Text: fc.Arbitrary<string> = fc.oneof(
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 400 }) },
  { weight: 1, arbitrary: fc.array(HL7_NOISE, { maxLength: 60 }).map((parts) => parts.join('')) },
  { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 8 }), fc.array(fc.oneof(HL7_NOISE, fc.string({ maxLength: 6 })), { maxLength: 40 })).map(([d, parts]) => `MSH${d}${parts.join('')}`) },
);

function hl7RealMutated(): fc.Arbitrary<string> {
  const corpus = realHl7Messages();
  return fc.tuple(fc.constantFrom(...corpus), fc.array(hl7Mutation, { minLength: 1, maxLength: 4 })).map(([text, mutations]) => mutateHl7(text, mutations));
}

function describeEvents(events: MllpEvent[]): string[] {
  return events.map((e) =>
    e.type === 'frame' ? `frame:${e.payload.toString('hex')}` : e.type === 'oversize' ? `oversize:${e.payload.toString('hex')}:${e.size}` : `error:${e.reason}:${e.bytes.toString('hex')}:${e.size}:${e.truncated}`,
  );
}

function checkEventShapes(events: MllpEvent[], max: number): void {
  for (const e of events) {
    const bytes = e.type === 'framing_error' ? e.bytes : e.payload;
    if (bytes.length > max) throw new PropertyViolation(`${e.type} keeps ${bytes.length} bytes, more than maxMessageBytes ${max}`);
    if (e.type === 'frame' && (bytes.includes(0x0b) || bytes.includes(0x1c))) throw new PropertyViolation('a frame payload holds SB or EB');
    if (e.type !== 'frame' && e.size < bytes.length) throw new PropertyViolation(`${e.type} size ${e.size} < kept ${bytes.length}`);
    if (e.type !== 'frame' && e.truncated !== e.size > bytes.length) throw new PropertyViolation(`${e.type} truncated flag wrong`);
  }
}

function decodeChunks(chunks: Buffer[], max: number): MllpEvent[] {
  const decoder = new MllpDecoder({ maxMessageBytes: max });
  const events: MllpEvent[] = [];
  for (const chunk of chunks) events.push(...decoder.push(chunk));
  events.push(...decoder.end());
  return events;
}

/** Cuts `bytes` at the given points (any order, any repeats, empty chunks included). */
function cut(bytes: Buffer, points: number[]): Buffer[] {
  const at = points.map((p) => p % (bytes.length + 1)).sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let previous = 0;
  for (const p of at) {
    chunks.push(bytes.subarray(previous, p));
    previous = p;
  }
  chunks.push(bytes.subarray(previous));
  return chunks;
}

const mllpByte = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(0x0b, 0x1c, 0x0d, 0x0a, 0x20, 0x00) },
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 255 }) },
);

// ---------------------------------------------------------------------------------------------------------
// X12

type X12Mutation =
  | { kind: 'delete' | 'duplicate'; at: number }
  | { kind: 'swap'; at: number; other: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'replace'; at: number; text: string }
  | { kind: 'swapDelimiters'; which: 'element-segment' | 'element-component' | 'segment-component' | 'newline-terminator' }
  | { kind: 'changeElement'; at: number; element: number; value: string };

const X12_NOISE = fc.constantFrom('*', '~', '>', ':', '^', '\n', '\r\n', 'ISA', 'GS', 'ST*850*0001', 'SE*2*0001', 'GE*1*1', 'IEA*1*000000001', 'BIN*99999999*', 'HL*1**S', '00000000000', '-1', '9'.repeat(30), '\u00a7', '');

const x12Mutation: fc.Arbitrary<X12Mutation> = fc.oneof(
  fc.record({ kind: fc.constantFrom('delete' as const, 'duplicate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), at: fc.nat(), other: fc.nat() }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.oneof(X12_NOISE, fc.string({ maxLength: 6 })) }),
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), text: fc.oneof(X12_NOISE, fc.string({ maxLength: 2 })) }),
  fc.record({ kind: fc.constant('swapDelimiters' as const), which: fc.constantFrom('element-segment' as const, 'element-component' as const, 'segment-component' as const, 'newline-terminator' as const) }),
  fc.record({ kind: fc.constant('changeElement' as const), at: fc.nat(), element: fc.integer({ min: 1, max: 12 }), value: fc.oneof(X12_NOISE, fc.string({ maxLength: 10 }), fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }).map(String)) }),
);

/** The delimiters of the first ISA when it has the fixed layout (enough for mutating: the reader itself is tolerant). */
function x12DelimitersOf(text: string): { element: string; component: string; segment: string } {
  const at = text.indexOf('ISA');
  if (at === -1) return { element: '*', component: '>', segment: '~' };
  return { element: text.charAt(at + 3) || '*', component: text.charAt(at + 104) || '>', segment: text.charAt(at + 105) || '~' };
}

function swapAll(text: string, a: string, b: string): string {
  if (!a || !b || a === b) return text;
  return [...text].map((c) => (c === a ? b : c === b ? a : c)).join('');
}

export function mutateX12(text: string, mutations: X12Mutation[]): string {
  let out = text;
  for (const m of mutations) {
    const d = x12DelimitersOf(out);
    const segments = out.split(d.segment);
    const n = segments.length;
    switch (m.kind) {
      case 'delete':
        segments.splice(m.at % n, 1);
        out = segments.join(d.segment);
        break;
      case 'duplicate':
        segments.splice(m.at % n, 0, segments[m.at % n]!);
        out = segments.join(d.segment);
        break;
      case 'swap': {
        const a = m.at % n;
        const b = m.other % n;
        [segments[a], segments[b]] = [segments[b]!, segments[a]!];
        out = segments.join(d.segment);
        break;
      }
      case 'truncate':
        out = out.slice(0, m.at % (out.length + 1));
        break;
      case 'insert':
      case 'replace': {
        const at = m.at % (out.length + 1);
        out = out.slice(0, at) + m.text + out.slice(m.kind === 'replace' ? at + Math.max(1, m.text.length) : at);
        break;
      }
      case 'swapDelimiters':
        if (m.which === 'element-segment') out = swapAll(out, d.element, d.segment);
        else if (m.which === 'element-component') out = swapAll(out, d.element, d.component);
        else if (m.which === 'segment-component') out = swapAll(out, d.segment, d.component);
        else out = out.replaceAll('\n', '').replaceAll('\r', '').replaceAll(d.segment, '\n');
        break;
      case 'changeElement': {
        const i = m.at % n;
        const elements = segments[i]!.split(d.element);
        if (m.element < elements.length) elements[m.element] = m.value;
        segments[i] = elements.join(d.element);
        out = segments.join(d.segment);
        break;
      }
    }
  }
  return out;
}

/** readX12, allIssues, toCanonical on every transaction set, parseX12: issues say where, throws are located CarelaneErrors. */
export function checkX12(input: string | Uint8Array): void {
  let document: ReturnType<typeof readX12> | undefined;
  attempt('readX12', () => {
    document = readX12(input);
  });
  if (!document) return;
  for (const issue of allIssues(document)) {
    // an empty segment ('~~') has id '': its line still says where
    if ((!issue.segment && issue.line === undefined) || typeof issue.message !== 'string' || !issue.ackCode) throw new PropertyViolation(`an X12 issue does not say where or what: ${JSON.stringify(issue)}`);
    if (issue.line !== undefined && !(Number.isInteger(issue.line) && issue.line >= 1)) throw new PropertyViolation(`an X12 issue has line ${issue.line}`);
  }
  for (const interchange of document.interchanges) {
    for (const group of interchange.groups) {
      for (const transaction of group.transactions) attempt(`toCanonical(${transaction.type})`, () => toCanonical(transaction));
    }
  }
  attempt('parseX12', () => parseX12(input));
}

const X12_SEGMENT_IDS = ['GS', 'ST', 'SE', 'GE', 'IEA', 'ISA', 'BEG', 'BAK', 'BSN', 'BIG', 'BIA', 'PO1', 'ACK', 'ctt', 'CTT', 'LIN', 'SN1', 'HL', 'IT1', 'TDS', 'QTY', 'DTM', 'REF', 'N1', 'PID', 'MAN', 'PRF', 'TD1', 'SAC', 'CUR', 'QTY', 'BIN', 'TA1', 'AK1', 'AK9', 'IK5', 'XX', '1', ''];

/** An ISA of the fixed layout with the given delimiters, then random segments: reaches the envelope and mapping code. */
const structuredX12: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom(['*', '>', '~'], ['|', ':', '\n'], ['^', '\\', "'"], ['*', '^', '~']),
    fc.constantFrom('00401', '00501', '00200'),
    fc.array(
      fc.tuple(fc.constantFrom(...X12_SEGMENT_IDS), fc.array(fc.oneof(fc.constantFrom('', '1', '0001', '850', '855', '856', '810', '846', 'PO', 'SH', 'IN', 'S', 'O', 'I', 'EA', '20260301', 'UK', '00012345678905', 'LT', '10', 'X', 'IA', 'AC'), fc.string({ maxLength: 6 })), { maxLength: 8 })),
      { maxLength: 25 },
    ),
  )
  .map(([[e, c, s], version, segments]) => {
    const isa = ['ISA', '00', ' '.repeat(10), '00', ' '.repeat(10), 'ZZ', 'SENDER'.padEnd(15), 'ZZ', 'RECEIVER'.padEnd(15), '260301', '0800', version === '00501' ? '^' : 'U', version, '000000001', '0', 'T', c].join(e);
    return isa + s + segments.map(([id, elements]) => [id, ...elements].join(e)).join(s) + s;
  });

const x12Random: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 400 }),
  fc.string({ unit: 'binary', maxLength: 300 }).map((s) => `ISA${s}`),
  fc.array(X12_NOISE, { maxLength: 40 }).map((parts) => parts.join('')),
  structuredX12,
);

function x12RealMutated(): fc.Arbitrary<string> {
  const corpus = realX12Files();
  return fc.tuple(fc.constantFrom(...corpus), fc.array(x12Mutation, { minLength: 1, maxLength: 4 })).map(([text, mutations]) => mutateX12(text, mutations));
}

// ---------------------------------------------------------------------------------------------------------
// FHIR

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface JsonMutation {
  pick: number;
  op: 'delete' | 'replace' | 'null' | 'wrap' | 'unwrap' | 'string' | 'number' | 'emptyObject' | 'emptyArray' | 'duplicate';
  value: Json;
}

const jsonMutation: fc.Arbitrary<JsonMutation> = fc.record({
  pick: fc.nat(),
  op: fc.constantFrom('delete', 'replace', 'null', 'wrap', 'unwrap', 'string', 'number', 'emptyObject', 'emptyArray', 'duplicate'),
  value: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>,
});

/** Every place in a JSON tree that holds a value: [container, key]. */
function slots(root: Json): Array<[Json[] | { [key: string]: Json }, string | number]> {
  const out: Array<[Json[] | { [key: string]: Json }, string | number]> = [];
  const walk = (value: Json): void => {
    if (Array.isArray(value)) value.forEach((child, i) => (out.push([value, i]), walk(child)));
    else if (value !== null && typeof value === 'object') for (const key of Object.keys(value)) (out.push([value, key]), walk(value[key]!));
  };
  walk(root);
  return out;
}

export function mutateJson(original: unknown, mutations: JsonMutation[]): unknown {
  const root = structuredClone(original) as Json;
  for (const m of mutations) {
    const all = slots(root);
    if (all.length === 0) break;
    const [container, key] = all[m.pick % all.length]!;
    const get = (): Json => (Array.isArray(container) ? container[key as number]! : container[key as string]!);
    const set = (value: Json): void => {
      if (Array.isArray(container)) container[key as number] = value;
      else container[key as string] = value;
    };
    const current = get();
    switch (m.op) {
      case 'delete':
        if (Array.isArray(container)) container.splice(key as number, 1);
        else delete container[key as string];
        break;
      case 'replace': set(m.value); break;
      case 'null': set(null); break;
      case 'wrap': set([current]); break;
      case 'unwrap': if (Array.isArray(current)) set(current[0] ?? null); break;
      case 'string': set(typeof current === 'string' ? '' : JSON.stringify(current)); break;
      case 'number': set(typeof current === 'number' ? -current - 0.5 : 42); break;
      case 'emptyObject': set({}); break;
      case 'emptyArray': set([]); break;
      case 'duplicate': if (Array.isArray(container)) container.splice(key as number, 0, structuredClone(current)); else set(structuredClone(current)); break;
    }
  }
  return root;
}

export function checkValidateResource(input: unknown): void {
  let result: ReturnType<typeof validateResource> | undefined;
  try {
    result = validateResource(input);
  } catch (error) {
    const detail = error instanceof Error ? `${error.name}: ${error.message}\n${error.stack ?? ''}` : String(error);
    throw new PropertyViolation(`validateResource threw (it must return issues): ${detail}`);
  }
  if (result.valid !== (result.issues.length === 0)) throw new PropertyViolation('validateResource: valid disagrees with issues');
  const rootIsObject = typeof input === 'object' && input !== null && !Array.isArray(input);
  for (const issue of result.issues) {
    // path '' is the root, used only when the input is not an object at all
    if (typeof issue.path !== 'string' || (issue.path === '' && rootIsObject) || typeof issue.message !== 'string') throw new PropertyViolation(`validateResource: an issue does not say where: ${JSON.stringify(issue)}`);
  }
}

/** The FHIR inbound path: validate, and map what validated. */
export function checkFhirDemand(input: unknown, previous?: unknown): void {
  checkValidateResource(input);
  if (!validateResource(input).valid) return;
  const context = { sourceSystem: 'ehr', tokenize: IDENTITY, ...(previous !== undefined && validateResource(previous).valid ? { previous: previous as Resource } : {}) };
  attempt('mapFhirDemand (validated resource)', () => mapFhirDemand(input as Resource, context));
}

/** mapFhirDemand straight on a resource that was not validated (a caller that skips validateResource). */
export function checkFhirDemandUnvalidated(input: unknown): void {
  attempt('mapFhirDemand (unvalidated input)', () => mapFhirDemand(input as Resource, { sourceSystem: 'ehr', tokenize: IDENTITY }));
}

export function checkSubscriptionNotification(input: unknown): void {
  attempt('parseSubscriptionNotification', () => parseSubscriptionNotification(input));
}

const SUBSCRIPTION = 'https://example.org/fhir/Subscription/admission';

/** Notification bundles after the Subscriptions R5 Backport IG examples (R4 Parameters and R4B SubscriptionStatus). */
export function notificationSeeds(): unknown[] {
  const parameters = (type: string, extra: unknown[]): unknown => ({
    resourceType: 'Parameters',
    parameter: [
      { name: 'subscription', valueReference: { reference: SUBSCRIPTION } },
      { name: 'topic', valueCanonical: 'http://hl7.org/SubscriptionTopic/admission' },
      { name: 'status', valueCode: 'active' },
      { name: 'type', valueCode: type },
      ...extra,
    ],
  });
  const focus = { fullUrl: 'https://example.org/fhir/Encounter/1', resource: { resourceType: 'Encounter', id: '1', status: 'in-progress', class: { code: 'IMP' } } };
  const bundle = (status: unknown, more: unknown[] = []): unknown => ({ resourceType: 'Bundle', type: 'history', timestamp: '2020-05-29T11:44:13Z', entry: [{ fullUrl: 'urn:uuid:1', resource: status }, ...more] });
  return [
    bundle(parameters('handshake', [{ name: 'events-since-subscription-start', valueString: '0' }])),
    bundle(parameters('heartbeat', [{ name: 'events-since-subscription-start', valueInteger: 5 }])),
    bundle(
      parameters('event-notification', [
        { name: 'events-since-subscription-start', valueString: '2' },
        { name: 'notification-event', part: [{ name: 'event-number', valueString: '2' }, { name: 'timestamp', valueInstant: '2020-05-29T11:44:13Z' }, { name: 'focus', valueReference: { reference: 'Encounter/1' } }, { name: 'additional-context', valueReference: { reference: 'Patient/p' } }] },
        { name: 'error', valueCodeableConcept: { text: 'x' } },
      ]),
      [focus],
    ),
    bundle(
      {
        resourceType: 'SubscriptionStatus',
        status: 'active',
        type: 'event-notification',
        eventsSinceSubscriptionStart: '3',
        notificationEvent: [{ eventNumber: '3', timestamp: '2020-05-29T11:44:13Z', focus: { reference: 'Encounter/1' }, additionalContext: [{ reference: 'Patient/p' }] }],
        subscription: { reference: SUBSCRIPTION },
        topic: 'http://hl7.org/SubscriptionTopic/admission',
      },
      [focus],
    ),
  ];
}

function fhirRealMutated(filter?: (resource: Record<string, unknown>) => boolean): fc.Arbitrary<unknown> {
  const corpus = realFhirResources().filter(filter ?? (() => true));
  return fc.tuple(fc.constantFrom(...corpus), fc.array(jsonMutation, { minLength: 0, maxLength: 3 })).map(([resource, mutations]) => mutateJson(resource, mutations));
}

const isDemand = (resource: Record<string, unknown>): boolean => (DEMAND_RESOURCE_TYPES as readonly string[]).includes(resource.resourceType as string);

/** Random objects that at least claim a resource type, so the walkers get past the first check. */
const randomResource: fc.Arbitrary<unknown> = fc
  .tuple(fc.constantFrom(...DEMAND_RESOURCE_TYPES, 'Bundle', 'Patient', 'Parameters', 'SubscriptionStatus', 'Nope'), fc.dictionary(fc.constantFrom('id', 'status', 'intent', 'code', 'quantity', 'item', 'itemCodeableConcept', 'subject', 'deliverTo', 'occurrenceDateTime', 'start', 'participant', 'entry', 'type', 'contained', 'extension', 'identifier', 'parameter', 'usedCode', 'used'), fc.jsonValue({ maxDepth: 3 })))
  .map(([resourceType, rest]) => ({ ...rest, resourceType }));

const anyJson: fc.Arbitrary<unknown> = fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.object({ maxDepth: 3 }), fc.anything({ maxDepth: 2 }), randomResource);

// ---------------------------------------------------------------------------------------------------------
// Targets

export interface FuzzParameters {
  numRuns: number;
  seed?: number;
  /** a case slower than this fails (default 200 ms) */
  perCaseMs?: number;
}

export interface FuzzTarget {
  name: string;
  /** the parser function(s) under test, file and function */
  subject: string;
  /** runs the property; never throws: failures are in the details (fast-check shrinks to a minimal case) */
  check(parameters: FuzzParameters): fc.RunDetails<unknown>;
}

function target<T>(name: string, subject: string, arbitrary: () => fc.Arbitrary<T>, predicate: (value: T) => void): FuzzTarget {
  return {
    name,
    subject,
    check: ({ numRuns, seed, perCaseMs = 200 }) =>
      fc.check(fc.property(arbitrary(), timed(perCaseMs, predicate)), { numRuns, ...(seed === undefined ? {} : { seed }) }) as fc.RunDetails<unknown>,
  };
}

export const FUZZ_TARGETS: readonly FuzzTarget[] = [
  target(
    'hl7.mllp.chunking',
    'hl7v2/mllp-framing.ts MllpDecoder',
    () => fc.tuple(fc.array(mllpByte, { maxLength: 300 }), fc.array(fc.nat(), { maxLength: 12 }), fc.integer({ min: 1, max: 64 })),
    ([bytes, points, max]) => {
      const stream = Buffer.from(bytes);
      const whole = decodeChunks([stream], max);
      checkEventShapes(whole, max);
      const chunked = decodeChunks(cut(stream, points), max);
      const a = describeEvents(whole).join('\n');
      const b = describeEvents(chunked).join('\n');
      if (a !== b) throw new PropertyViolation(`chunking changed the events:\nwhole:\n${a}\nchunked:\n${b}`);
    },
  ),
  target(
    'hl7.mllp.roundtrip',
    'hl7v2/mllp-framing.ts MllpDecoder + frame',
    () => fc.tuple(fc.array(fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b.filter((x) => x !== 0x0b && x !== 0x1c))), { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 })),
    ([payloads, points]) => {
      const events = decodeChunks(cut(Buffer.concat(payloads.map((p) => frame(p))), points), 1024);
      const got = describeEvents(events).join('\n');
      const want = payloads.map((p) => `frame:${p.toString('hex')}`).join('\n');
      if (got !== want) throw new PropertyViolation(`framed payloads did not come back:\nwant:\n${want}\ngot:\n${got}`);
    },
  ),
  target('hl7.text.random', 'hl7v2 readMessageHeader, parseMessageHeader, decodeMessage, Hl7Message.parse, mapHl7Demand', () => hl7Text, checkHl7Text),
  target('hl7.text.real-mutated', 'hl7v2 readMessageHeader, Hl7Message.parse, mapHl7Demand on mutated realdata/hl7v2', hl7RealMutated, checkHl7Text),
  target('x12.random', 'x12 readX12, toCanonical, parseX12', () => x12Random, checkX12),
  target('x12.real-mutated', 'x12 readX12, toCanonical, parseX12 on mutated realdata/x12', x12RealMutated, checkX12),
  target('fhir.validate.random', 'fhir/validate.ts validateResource', () => anyJson, checkValidateResource),
  target('fhir.validate.real-mutated', 'fhir/validate.ts validateResource on mutated r4-official-examples', () => fhirRealMutated(), checkValidateResource),
  target(
    'fhir.demand.real-mutated',
    'fhir validateResource then mapFhirDemand on mutated demand examples',
    () => fc.tuple(fhirRealMutated(isDemand), fc.option(fhirRealMutated(isDemand), { nil: undefined })),
    ([resource, previous]) => checkFhirDemand(resource, previous),
  ),
  target('fhir.demand.random', 'fhir validateResource then mapFhirDemand on random resources', () => randomResource, (resource) => checkFhirDemand(resource)),
  target('fhir.demand.unvalidated', 'fhir/map-demand.ts mapFhirDemand without validateResource first', () => fc.oneof(fhirRealMutated(isDemand), randomResource), checkFhirDemandUnvalidated),
  target('fhir.notification.random', 'fhir/subscription-notification.ts parseSubscriptionNotification', () => anyJson, checkSubscriptionNotification),
  target(
    'fhir.notification.mutated',
    'fhir/subscription-notification.ts parseSubscriptionNotification on mutated notification bundles',
    () => fc.tuple(fc.constantFrom(...notificationSeeds()), fc.array(jsonMutation, { minLength: 1, maxLength: 3 })).map(([seed, mutations]) => mutateJson(seed, mutations)),
    checkSubscriptionNotification,
  ),
];

export function fuzzTarget(name: string): FuzzTarget {
  const found = FUZZ_TARGETS.find((t) => t.name === name);
  if (!found) throw new Error(`no fuzz target '${name}'`);
  return found;
}

/**
 * For the tests: runs one target and throws fast-check's report (seed, path, shrunk counterexample, error) when
 * it fails. The seed is FUZZ_SEED when set, else the one given, else random (printed in the report on failure).
 */
export function runFuzzTarget(name: string, numRuns: number, seed?: number): void {
  warmUp();
  const fromEnv = process.env['FUZZ_SEED'];
  const chosen = fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) : seed;
  const details = fuzzTarget(name).check({ numRuns, ...(chosen === undefined ? {} : { seed: chosen }) });
  if (details.failed) throw new Error(`fuzz target ${name} failed:\n${describeFailure(details)}`);
}

/** Loads what the first case would otherwise pay for (R4 schema, corpora), so per-case timing measures the parser. */
export function warmUp(): void {
  defaultR4Definitions();
  realHl7Messages();
  realX12Files();
  realFhirResources();
}

// ---------------------------------------------------------------------------------------------------------
// Bench

export interface FuzzBenchOptions {
  /** cases per target (default 100,000) */
  cases?: number;
  seed?: number;
  perCaseMs?: number;
  /** a target with no result after this long is reported as a hang (default: 20 ms per case + 60 s) */
  targetTimeoutMs?: number;
  /** run only these targets */
  only?: string[];
  log?: (line: string) => void;
}

export interface FuzzTargetResult {
  name: string;
  subject: string;
  cases: number;
  seconds: number;
  casesPerSecond: number;
  /** 0 or 1: fast-check stops at the first failing case and shrinks it */
  failures: number;
  hang: boolean;
  seed: number;
  /** fast-check's report: counterexample (shrunk), seed and path to replay it */
  failure?: string;
}

export interface FuzzBenchResult {
  name: 'fuzz';
  casesPerTarget: number;
  targets: FuzzTargetResult[];
}

interface WorkerRequest {
  name: string;
  numRuns: number;
  seed: number;
  perCaseMs: number;
}

interface WorkerReply {
  cases: number;
  seconds: number;
  failed: boolean;
  report: string;
}

/** fast-check's report (seed, path, shrunk counterexample) plus the error the case raised. */
export function describeFailure(details: fc.RunDetails<unknown>): string {
  const error = details.errorInstance;
  const message = error instanceof Error ? error.message : String(error);
  return `${fc.defaultReportMessage(details) ?? 'failed'}\nError: ${message}`;
}

function runTarget(request: WorkerRequest): WorkerReply {
  warmUp();
  const started = performance.now();
  const details = fuzzTarget(request.name).check({ numRuns: request.numRuns, seed: request.seed, perCaseMs: request.perCaseMs });
  const seconds = (performance.now() - started) / 1000;
  return { cases: details.numRuns, seconds, failed: details.failed, report: details.failed ? describeFailure(details) : '' };
}

function runInWorker(request: WorkerRequest, timeoutMs: number): Promise<WorkerReply | 'hang'> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: request });
    const timer = setTimeout(() => {
      void worker.terminate();
      resolve('hang');
    }, timeoutMs);
    worker.once('message', (reply: WorkerReply) => {
      clearTimeout(timer);
      void worker.terminate();
      resolve(reply);
    });
    worker.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

export async function runFuzzBench(options: FuzzBenchOptions = {}): Promise<FuzzBenchResult> {
  const cases = options.cases ?? 100_000;
  const seed = options.seed ?? (Date.now() ^ 0x5eed) >>> 0;
  const perCaseMs = options.perCaseMs ?? 200;
  const timeoutMs = options.targetTimeoutMs ?? cases * 20 + 60_000;
  const targets: FuzzTargetResult[] = [];
  for (const t of FUZZ_TARGETS) {
    if (options.only && !options.only.includes(t.name)) continue;
    options.log?.(`fuzz ${t.name}: ${cases} cases, seed ${seed}`);
    const reply = await runInWorker({ name: t.name, numRuns: cases, seed, perCaseMs }, timeoutMs);
    if (reply === 'hang') {
      targets.push({ name: t.name, subject: t.subject, cases, seconds: timeoutMs / 1000, casesPerSecond: 0, failures: 1, hang: true, seed, failure: `no result after ${timeoutMs} ms: a case hangs (replay with seed ${seed})` });
      continue;
    }
    targets.push({
      name: t.name,
      subject: t.subject,
      cases: reply.cases,
      seconds: round(reply.seconds, 2),
      casesPerSecond: Math.round(reply.cases / Math.max(reply.seconds, 1e-6)),
      failures: reply.failed ? 1 : 0,
      hang: false,
      seed,
      ...(reply.failed ? { failure: reply.report } : {}),
    });
  }
  return { name: 'fuzz', casesPerTarget: cases, targets };
}

export function formatFuzzResult(result: FuzzBenchResult): string {
  const table = formatTable(
    ['target', 'cases', 'seconds', 'cases/s', 'failures', 'seed'],
    result.targets.map((t) => [t.name, t.cases, t.seconds, t.casesPerSecond, t.hang ? 'HANG' : t.failures, String(t.seed)]),
  );
  const failures = result.targets.filter((t) => t.failure).map((t) => `\n${t.name} (${t.subject}):\n${(t.failure ?? '').split('\n').slice(0, 40).join('\n')}`);
  return `Fuzzing (fast-check), ${result.casesPerTarget.toLocaleString('en-US')} cases per target\n${table}${failures.join('\n')}`;
}

// In a worker: run the one target asked for and post the result.
if (!isMainThread && parentPort && (workerData as WorkerRequest | undefined)?.name) {
  parentPort.postMessage(runTarget(workerData as WorkerRequest));
}

// `node bench/fuzz.ts [cases] [target...]`: standalone run without the PostgreSQL of bench/run.ts.
if (isMainThread && process.argv[1] && path.resolve(process.argv[1]) === import.meta.filename) {
  const [count, ...only] = process.argv.slice(2);
  const result = await runFuzzBench({ ...(count ? { cases: Number(count) } : {}), ...(only.length ? { only } : {}), log: (line) => console.error(`[fuzz] ${line}`) });
  console.log(formatFuzzResult(result));
  console.log(JSON.stringify(result));
  process.exitCode = result.targets.some((t) => t.failures > 0) ? 1 : 0;
}
