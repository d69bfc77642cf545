import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { parseConfigText } from '../src/config/index.ts';
import { allIssues, generate850, readX12 } from '../src/connectors/x12/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

// X12 over HTTPS in (`x12.http.tls`), with mutual TLS: only partners whose certificate chains to the configured CA
// can post. A throwaway CA made by openssl for this run (node cannot issue certificates).
const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

function makeCertificates(dir: string): void {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  for (const ca of ['ca', 'rogue-ca']) openssl('req', '-x509', ...ec, '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-subj', `/CN=${ca}`, '-days', '2');
  const issue = (name: string, cn: string, ca: string, extensions: string) => {
    writeFileSync(path.join(dir, `${name}.ext`), extensions);
    openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
  };
  issue('server', '127.0.0.1', 'ca', 'basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  issue('partner', 'medsupply-edi', 'ca', 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
  issue('rogue', 'medsupply-edi', 'rogue-ca', 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
}

const US = { qualifier: 'ZZ', id: 'CARELANE', applicationCode: 'CARELANE' };
const THEM = { qualifier: 'ZZ', id: 'MEDSUPPLY', applicationCode: 'MEDSUPPLY' };
const po = (isa13: number) =>
  generate850(
    { poNumber: `PO-TLS-${isa13}`, orderDate: '2026-03-01', shipTo: { id: 'SITE-1' }, lines: [{ quantity: 1, unitOfMeasure: 'EA', unitPrice: '2.00', vendorPartNumber: 'GLV-1' }] },
    { sender: THEM, receiver: US, version: '005010', interchangeControlNumber: isa13, groupControlNumber: isa13, transactionControlNumber: 1, usage: 'P', at: new Date('2026-03-01T10:00:00Z') },
  ).text;

describe.skipIf(!hasOpenssl)('X12 over HTTPS with mutual TLS', () => {
  let dir: string;
  let db: TestDatabase;
  let app: RunningCarelane;
  const file = (name: string) => readFileSync(path.join(dir, name));

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
    dir = mkdtempSync(path.join(tmpdir(), 'carelane-x12-tls-'));
    makeCertificates(dir);
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
    rmSync(dir, { recursive: true, force: true });
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
