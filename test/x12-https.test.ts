import { X509Certificate } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { parseConfigText } from '../src/config/index.ts';
import { allIssues, generate850, nextEnvelopeNumbers, readX12, startX12HttpListener, type X12PartnerProfile } from '../src/connectors/x12/index.ts';
import { Ingest } from '../src/engine/ingest.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { hasOpenssl, makeTestCertificates, type CertificateSpec, type TestCertificates } from './support/test-certificates.ts';

// X12 over HTTPS in (`x12.http.tls`), with mutual TLS: only partners whose certificate chains to the configured CA
// can post, and each only to its own path (`x12.partners[].tls`). A throwaway CA made by openssl for this run (node
// cannot issue certificates).
const CERTIFICATES: CertificateSpec[] = [
  { name: 'server', commonName: '127.0.0.1', issuer: 'ca', use: 'server' },
  { name: 'partner', commonName: 'medsupply-edi', issuer: 'ca', use: 'client' },
  { name: 'globex', commonName: 'globex-edi', issuer: 'ca', use: 'client' },
  { name: 'rogue', commonName: 'medsupply-edi', issuer: 'rogue-ca', use: 'client' },
];

const US = { qualifier: 'ZZ', id: 'CARELANE', applicationCode: 'CARELANE' };
const THEM = { qualifier: 'ZZ', id: 'MEDSUPPLY', applicationCode: 'MEDSUPPLY' };
const GLOBEX = { qualifier: 'ZZ', id: 'GLOBEX', applicationCode: 'GLOBEX' };
const po = (isa13: number, sender = THEM) =>
  generate850(
    { poNumber: `PO-TLS-${isa13}`, orderDate: '2026-03-01', shipTo: { id: 'SITE-1' }, lines: [{ quantity: 1, unitOfMeasure: 'EA', unitPrice: '2.00', vendorPartNumber: 'GLV-1' }] },
    { sender, receiver: US, version: '005010', interchangeControlNumber: isa13, groupControlNumber: isa13, transactionControlNumber: 1, usage: 'P', at: new Date('2026-03-01T10:00:00Z') },
  ).text;

describe.skipIf(!hasOpenssl)('X12 over HTTPS with mutual TLS', () => {
  let certificates: TestCertificates;
  let db: TestDatabase;
  let app: RunningCarelane;
  let config: ReturnType<typeof parseConfigText>;
  const file = (name: string) => certificates.file(name);
  const fingerprint = (name: string) => new X509Certificate(file(`${name}.crt`)).fingerprint256.replaceAll(':', '').toLowerCase();
  // what the app logs at warn and above, one parsed JSON line each
  const logLines: string[] = [];
  const warnings = () => logLines.map((line) => JSON.parse(line) as Record<string, unknown>);

  const post = (body: string, cert?: string, partner = 'medsupply', base = () => app.x12Url) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = https.request(new URL(`/x12/${partner}`, base()), { method: 'POST', ca: file('ca.crt'), ...(cert ? { cert: file(`${cert}.crt`), key: file(`${cert}.key`) } : {}), headers: { 'content-type': 'application/edi-x12' } }, (res) => {
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
    mkdirSync(path.join(dir, 'gateway-in'));
    db = await createTestDatabase(embeddedTarget());
    config = parseConfigText(
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
      # pinned: this certificate, written as openssl prints it (colons, capitals)
      tls: { clientCertificateFingerprints: ["${new X509Certificate(file('partner.crt')).fingerprint256}"] }
    - id: globex
      ours: { qualifier: ZZ, id: CARELANE, applicationCode: CARELANE }
      theirs: { qualifier: ZZ, id: GLOBEX, applicationCode: GLOBEX }
      version: "005010"
      transport: http
      endpoint: "https://127.0.0.1:1/unused"
      acknowledgment: { kind: "999", withinMinutes: 60 }
      usage: P
      tls: { clientCertificateNames: [globex-edi] }
    - id: gateway
      ours: { qualifier: ZZ, id: CARELANE, applicationCode: CARELANE }
      theirs: { qualifier: ZZ, id: GATEWAY, applicationCode: GATEWAY }
      version: "005010"
      transport: folder
      endpoint: ${dir}/gateway-out
      folder: { inbound: ${dir}/gateway-in }
      acknowledgment: { kind: "999", withinMinutes: 60 }
      usage: P
`,
      { DATABASE_URL: db.url, CARELANE_ADMIN_TOKEN: 'x12-tls-admin-token' },
    );
    expect(config.profile).toBe('production');
    app = await startCarelane({ config, origin: 'test' }, { log: pino({ level: 'warn' }, { write: (line: string) => void logLines.push(line) }) });
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

  const storedFor = async (source: string) => (await app.database.pool.query(`select external_id from carelane.messages where source = $1`, [source])).rows;

  it("refuses medsupply's certificate posting as globex with 403 before reading the body: nothing stored, one log line without the interchange", async () => {
    // the impersonation: an interchange that claims globex's ISA ids, sent to globex's path with medsupply's certificate
    const response = await post(po(511, GLOBEX), 'partner', 'globex');
    expect(response.status).toBe(403);
    expect(response.body).toBe(`forbidden: the client certificate (sha256 ${fingerprint('partner')}) does not match partner globex\n`);
    expect(await storedFor('x12:globex')).toEqual([]);
    const refusal = warnings().find((line) => line.partner === 'globex');
    expect(refusal).toMatchObject({ level: 40, reason: 'mismatch', fingerprint: fingerprint('partner'), boundTo: ['medsupply'] });
    // no interchange content, no certificate subject: only ids and the fingerprint
    const text = logLines.join('');
    expect(text).not.toContain('PO-TLS-511');
    expect(text).not.toContain('GLOBEX');
    expect(text).not.toContain('medsupply-edi');
  });

  it('takes globex on its own path with the certificate its name binding matches, and refuses that certificate on medsupply\'s path', async () => {
    const own = await post(po(512, GLOBEX), 'globex', 'globex');
    expect(own.status).toBe(200);
    expect(readX12(own.body).interchanges[0]!.groups[0]!.transactions[0]!.type).toBe('999');
    expect(await storedFor('x12:globex')).toEqual([{ external_id: '000000512' }]);
    const other = await post(po(513), 'globex', 'medsupply');
    expect(other.status).toBe(403);
    expect(other.body).toContain(`(sha256 ${fingerprint('globex')}) does not match partner medsupply`);
    expect(await storedFor('x12:medsupply')).not.toContainEqual({ external_id: '000000513' });
  });

  it('production: refuses a certificate on the path of a partner that declares none, and on an unknown partner\'s path', async () => {
    const unbound = await post(po(514), 'partner', 'gateway');
    expect(unbound.status).toBe(403);
    expect(unbound.body).toBe(`forbidden: no client certificate is bound to partner gateway; the client certificate (sha256 ${fingerprint('partner')}) is refused\n`);
    const unknown = await post(po(515), 'partner', 'nobody');
    expect(unknown.status).toBe(403);
    expect(await storedFor('x12:gateway')).toEqual([]);
    expect(await storedFor('x12:nobody')).toEqual([]);
  });

  it('demo (unboundPartners accept): a partner without a binding takes any certificate of the CA, as before bindings, with a warning at start', async () => {
    const profiles = config.x12.partners.map(({ tls: _binding, ...rest }): X12PartnerProfile => rest);
    const ingest = new Ingest(app.database.pool, [{ lane: 'standard', flow: 'noop' }]);
    const started: string[] = [];
    const listener = await startX12HttpListener({
      host: '127.0.0.1',
      port: 0,
      profiles: [...profiles.filter((p) => p.id !== 'medsupply'), config.x12.partners.find((p) => p.id === 'medsupply')!],
      sink: ingest,
      envelopeNumbers: (partner) => nextEnvelopeNumbers(app.database.pool, partner),
      tls: { cert: file('server.crt'), key: file('server.key'), ca: file('ca.crt'), requestClientCert: true },
      unboundPartners: 'accept',
      log: pino({ level: 'warn' }, { write: (line: string) => void started.push(line) }),
    });
    try {
      expect(started.map((line) => JSON.parse(line) as Record<string, unknown>)).toEqual([expect.objectContaining({ partners: ['globex', 'gateway'] })]);
      // globex has no binding here: medsupply's certificate gets in, as it did before bindings existed
      expect((await post(po(516, GLOBEX), 'partner', 'globex', () => listener.url)).status).toBe(200);
      // a partner that declares its certificate is still held to it
      expect((await post(po(517), 'globex', 'medsupply', () => listener.url)).status).toBe(403);
    } finally {
      await listener.close();
      await ingest.flush();
    }
  });
});
