import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Resource } from '@medplum/fhirtypes';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarelaneError } from '../src/contracts/errors.ts';
import { Ingest } from '../src/engine/ingest.ts';
import { PatientTokenizer } from '../src/governance/tokenization.ts';
import { DEMAND_RESOURCE_TYPES, mapFhirDemand, mapFhirReference, REFERENCE_RESOURCE_TYPES, startFhirListener, type FhirListener } from '../src/connectors/fhir/index.ts';
import { DEFAULT_R4_DIRECTORY } from '../src/connectors/fhir/r4-definitions.ts';
import { Hl7Message, MllpClient, decodeMessage, mapHl7Demand, startMllpListener, type MllpListener } from '../src/connectors/hl7v2/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

// Every real HL7 v2 sample and every official FHIR example of the demand and reference types goes through the
// inbound path as an EHR would send it: over a real MLLP connection or a real HTTP POST into a real database,
// then through the mapper. Each ends stored and either mapped, or refused with a precise error (a negative
// ACK with ERR, an OperationOutcome, a mapping_failure naming its element): never a crash, never a silent drop.

const HL7_ROOT = path.resolve(import.meta.dirname, '../../shared/realdata/hl7v2');
const FHIR_EXAMPLES = path.join(DEFAULT_R4_DIRECTORY, 'r4-official-examples');
const hl7Files = (function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? walk(full) : /\.(hl7|txt)$/.test(name) ? [full] : [];
  });
})(HL7_ROOT).sort();
const fhirTypes = new Set<string>([...DEMAND_RESOURCE_TYPES, ...REFERENCE_RESOURCE_TYPES]);
const fhirFiles = readdirSync(FHIR_EXAMPLES)
  .filter((file) => file.endsWith('.json'))
  .filter((file) => fhirTypes.has((JSON.parse(readFileSync(path.join(FHIR_EXAMPLES, file), 'utf8')) as Resource).resourceType))
  .sort();

const tokenizer = new PatientTokenizer([{ id: 'k1', secret: 'test-secret-for-realdata-inbound' }], 'k1');
const tokenize = (identifier: string) => tokenizer.tokenFor(identifier);

let db: TestDatabase;
let ingest: Ingest;
let mllp: MllpListener;
let fhir: FhirListener;

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 6);
  ingest = new Ingest(db.pool, [{ lane: 'standard', flow: 'noop' }]);
  mllp = await startMllpListener({ host: '127.0.0.1', port: 0, source: 'realdata', maxMessageBytes: 1024 * 1024, idleTimeoutMs: 30_000, ingest, log: pino({ level: 'silent' }), unframedQuietMs: 100 });
  fhir = await startFhirListener({ host: '127.0.0.1', port: 0, sink: ingest, authentication: 'none', sources: ['realdata'] });
});
afterAll(async () => {
  await mllp?.close();
  await fhir?.close();
  await ingest?.flush();
  await db?.drop();
});

// The ACK is written with the message's own delimiters (a custom field separator included): MSH-1 says which.
const msaOf = (ack: string) => ack.split('\r').find((s) => s.startsWith('MSA'))?.split(ack.charAt(3)) ?? [];

describe('every real HL7 v2 sample over MLLP', () => {
  it.each(hl7Files.map((file) => path.relative(HL7_ROOT, file)))('%s: stored, answered, then mapped or refused precisely', async (relative) => {
    const bytes = readFileSync(path.join(HL7_ROOT, relative));
    const client = await MllpClient.connect('127.0.0.1', mllp.port, { responseTimeoutMs: 10_000 });
    let ack: string;
    try {
      ack = await client.send(bytes);
    } finally {
      await client.close();
    }
    const [, code = ''] = msaOf(ack);
    expect(['AA', 'CA', 'AR', 'CR', 'AE', 'CE']).toContain(code);
    if (!['AA', 'CA'].includes(code)) {
      // A refusal says why: ERR with a table 0357 code, and the reason in words.
      const err = ack.split('\r').find((s) => s.startsWith('ERR'));
      expect(err).toMatch(/HL70357/);
      const { rows } = await db.pool.query<{ status: string; status_reason: string }>(`select status, status_reason from carelane.messages where source = 'realdata' and payload = $1`, [bytes]);
      expect(rows.map((r) => r.status)).toEqual(['rejected']);
      expect(rows[0]!.status_reason).toMatch(/^(hl7|mllp)_[a-z_]+: .+/);
      return;
    }
    // Accepted: stored (a batch as its messages, each under its MSH-10), then the mapper's verdict.
    const text = decodeMessage(bytes).text;
    const message = Hl7Message.parse(text);
    const { rows } = await db.pool.query(`select id from carelane.messages where source = 'realdata' and external_id = $1`, [message.header.controlId]);
    // Several samples reuse one MSH-10 (test files of one sender): one of them may be the first copy.
    expect(rows.length).toBeGreaterThanOrEqual(1);
    try {
      const signals = mapHl7Demand(message, { tokenize });
      for (const signal of signals) expect(signal.source.type).toBe(message.header.messageType);
    } catch (error) {
      expect(error).toBeInstanceOf(CarelaneError);
      expect((error as CarelaneError).exceptionType).toBe('mapping_failure');
      expect((error as CarelaneError).where?.segment).toMatch(/^[A-Z][A-Z0-9]{2}$/);
      expect((error as CarelaneError).where?.field).toBeTruthy();
    }
  });
});

describe('every official FHIR example of the demand and reference types as a webhook', () => {
  it.each(fhirFiles)('%s: stored and answered, then mapped or refused with the element path', async (file) => {
    const body = readFileSync(path.join(FHIR_EXAMPLES, file), 'utf8');
    const resource = JSON.parse(body) as Resource;
    const response = await fetch(`${fhir.url}/fhir/realdata/${resource.resourceType}`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body });
    const answer = (await response.json()) as { resourceType?: string; issue?: Array<{ expression?: string[] }> };
    expect(answer.resourceType).toBe('OperationOutcome');
    if (response.status !== 200) {
      expect(response.status).toBe(400);
      expect(answer.issue?.[0]?.expression?.[0]).toMatch(new RegExp(`^${resource.resourceType}`));
      return;
    }
    try {
      if ((REFERENCE_RESOURCE_TYPES as readonly string[]).includes(resource.resourceType)) mapFhirReference(resource, { sourceSystem: 'realdata' });
      else mapFhirDemand(resource, { sourceSystem: 'realdata', tokenize });
    } catch (error) {
      expect(error).toBeInstanceOf(CarelaneError);
      expect((error as CarelaneError).exceptionType).toBe('mapping_failure');
      expect((error as CarelaneError).where?.field).toMatch(new RegExp(`^${resource.resourceType}\\.`));
    }
  });
});
