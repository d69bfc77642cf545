import https from 'node:https';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { parseConfigText } from '../src/config/index.ts';
import { allIssues, generate850, readX12 } from '../src/connectors/x12/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { hasOpenssl, makeTestCertificates, type CertificateSpec, type TestCertificates } from './support/test-certificates.ts';

// X12 over HTTPS in (`x12.http.tls`), with mutual TLS: only partners whose certificate chains to the configured CA
// can post. A throwaway CA made by openssl for this run (node cannot issue certificates).
const CERTIFICATES: CertificateSpec[] = [
  { name: 'server', commonName: '127.0.0.1', issuer: 'ca', use: 'server' },
  { name: 'partner', commonName: 'medsupply-edi', issuer: 'ca', use: 'client' },
  { name: 'rogue', commonName: 'medsupply-edi', issuer: 'rogue-ca', use: 'client' },
];

const US = { qualifier: 'ZZ', id: 'CARELANE', applicationCode: 'CARELANE' };
const THEM = { qualifier: 'ZZ', id: 'MEDSUPPLY', applicationCode: 'MEDSUPPLY' };
const po = (isa13: number) =>
  generate850(
    { poNumber: `PO-TLS-${isa13}`, orderDate: '2026-03-01', shipTo: { id: 'SITE-1' }, lines: [{ quantity: 1, unitOfMeasure: 'EA', unitPrice: '2.00', vendorPartNumber: 'GLV-1' }] },
    { sender: THEM, receiver: US, version: '005010', interchangeControlNumber: isa13, groupControlNumber: isa13, transactionControlNumber: 1, usage: 'P', at: new Date('2026-03-01T10:00:00Z') },
  ).text;

describe.skipIf(!hasOpenssl)('X12 over HTTPS with mutual TLS', () => {
  let certificates: TestCertificates;
  let db: TestDatabase;
  let app: RunningCarelane;
  const file = (name: string) => certificates.file(name);

  const post = (body: string, cert?: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = https.request(new URL('/x12/medsupply', app.x12Url), { method: 'POST', ca: file('ca.crt'), ...(cert ? { cert: file(`${cert}.crt`), key: file(`${cert}.key`) } : {}), headers: { 'content-type': 'application/edi-x12' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      req.end(body);
    });

  beforeAll(async () => {
    certificates = makeTestCertificates('carelane-x12-tls-', CERTIFICATES);
    const { dir } = certificates;
    db = await createTestDatabase(embeddedTarget());
    const config = parseConfigText(
      `
server: { port: 0 }
mllp: { enabled: false }
logging: { level: silent }
x12:
  http: { port: 0, tls: { cert: ${dir}/server.crt, key: ${dir}/server.key, ca: ${dir}/ca.crt, requestClientCert: true } }
  partners:
    - id: medsupply
      ours: { qualifier: ZZ, id: CARELANE, applicationCode: CARELANE }
      theirs: { qualifier: ZZ, id: MEDSUPPLY, applicationCode: MEDSUPPLY }
      version: "005010"
      transport: http
      endpoint: "https://127.0.0.1:1/unused"
      acknowledgment: { kind: "999", withinMinutes: 60 }
      usage: P
`,
      { DATABASE_URL: db.url, CARELANE_ADMIN_TOKEN: 'x12-tls-admin-token' },
    );
    app = await startCarelane({ config, origin: 'test' }, { log: pino({ level: 'silent' }) });
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
    certificates?.remove();
  });

  it('takes an interchange from a partner with a certificate of the configured CA and answers its 999 over TLS', async () => {
    expect(app.x12Url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const response = await post(po(501), 'partner');
    expect(response.status).toBe(200);
    const ack = readX12(response.body);
    expect(allIssues(ack)).toEqual([]);
    expect(ack.interchanges[0]!.groups[0]!.transactions[0]!.type).toBe('999');
    const { rows } = await app.database.pool.query(`select 1 from carelane.messages where source = 'x12:medsupply' and external_id = '000000501'`);
    expect(rows).toHaveLength(1);
  });

  it('refuses the handshake without a client certificate or with one from another CA; nothing is stored', async () => {
    await expect(post(po(502))).rejects.toThrow();
    await expect(post(po(503), 'rogue')).rejects.toThrow();
    const { rows } = await app.database.pool.query(`select external_id from carelane.messages where source = 'x12:medsupply' and external_id in ('000000502', '000000503')`);
    expect(rows).toEqual([]);
  });
});
