import https from 'node:https';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { parseConfigText } from '../src/config/index.ts';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { frame } from '../src/connectors/hl7v2/mllp-framing.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { hasOpenssl, makeTestCertificates, type CertificateSpec, type TestCertificates } from './support/test-certificates.ts';

// Real TLS on 127.0.0.1 with a throwaway CA made by openssl for this run (node cannot issue certificates).

const ADMIN = 'admin-token-for-tls-tests';

/** A server certificate for 127.0.0.1, and client certificates; the rogue one from a CA nobody trusts. */
const CERTIFICATES: CertificateSpec[] = [
  { name: 'server', commonName: '127.0.0.1', issuer: 'ca', use: 'server' },
  { name: 'ehr', commonName: 'ehr-system', issuer: 'ca', use: 'client' },
  { name: 'unmapped', commonName: 'some-other-system', issuer: 'ca', use: 'client' },
  { name: 'rogue', commonName: 'ehr-system', issuer: 'rogue-ca', use: 'client' },
];

describe.skipIf(!hasOpenssl)('TLS: mutual TLS on the API and MLLP over TLS', () => {
  let certificates: TestCertificates;
  let db: TestDatabase;
  let app: RunningCarelane;
  const file = (name: string) => certificates.file(name);
  const client = (name?: string) => (name ? { cert: file(`${name}.crt`), key: file(`${name}.key`) } : {});

  const request = (pathname: string, options: { method?: string; body?: string; cert?: string; token?: string }) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const url = new URL(pathname, app.httpUrl);
      const req = https.request(
        url,
        {
          method: options.method ?? 'GET',
          ca: file('ca.crt'),
          ...client(options.cert),
          headers: { 'content-type': 'application/json', ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        },
      );
      req.on('error', reject);
      req.end(options.body);
    });

  beforeAll(async () => {
    certificates = makeTestCertificates('carelane-tls-', CERTIFICATES);
    const { dir } = certificates;
    db = await createTestDatabase(embeddedTarget(), 4);
    const tlsFiles = `cert: ${dir}/server.crt, key: ${dir}/server.key, ca: ${dir}/ca.crt, requestClientCert: true`;
    const config = parseConfigText(
      `server: { port: 0, tls: { ${tlsFiles}, clients: [{ commonName: ehr-system, name: ehr }] } }\nmllp: { port: 0, tls: { ${tlsFiles} } }\nlogging: { level: silent }\n`,
      { DATABASE_URL: db.url, CARELANE_ADMIN_TOKEN: ADMIN },
    );
    app = await startCarelane({ config, origin: 'test' }, { log: pino({ level: 'silent' }) });
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
    certificates?.remove();
  });

  it('serves the API over HTTPS and takes a mapped client certificate as a system identity', async () => {
    expect(app.httpUrl).toMatch(/^https:\/\/127\.0\.0\.1:/);
    const accepted = await request('/api/v1/inbound/ehr', { method: 'POST', body: '{"order":"SR-TLS-1"}', cert: 'ehr' });
    expect(accepted.status).toBe(202);
    const { messageId } = JSON.parse(accepted.body) as { messageId: number };
    const { rows } = await db.pool.query('select source from carelane.messages where id = $1', [messageId]);
    expect(rows[0].source).toBe('http:ehr');
    // the certificate gives the system role only
    expect((await request('/api/v1/messages', { cert: 'ehr' })).status).toBe(403);
  });

  it('refuses a certificate from another CA or with an unmapped subject, and still serves bearer tokens', async () => {
    expect((await request('/api/v1/inbound/ehr', { method: 'POST', body: '{}', cert: 'rogue' })).status).toBe(401);
    expect((await request('/api/v1/inbound/ehr', { method: 'POST', body: '{}', cert: 'unmapped' })).status).toBe(401);
    expect((await request('/api/v1/inbound/ehr', { method: 'POST', body: '{}' })).status).toBe(401);
    expect((await request('/api/v1/messages', { token: ADMIN })).status).toBe(200);
  });

  const mllpExchange = (cert: string | undefined, message: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: app.mllpPort!, ca: file('ca.crt'), ...client(cert) }, () => socket.write(frame(message)));
      let received = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        if (received.includes(0x1c)) {
          socket.end();
          resolve(received.toString('latin1'));
        }
      });
      socket.on('error', reject);
      socket.on('close', () => reject(new Error('closed without an ACK')));
    });

  it('receives HL7 v2 over MLLP inside TLS and answers the ACK in the same framing', async () => {
    const message = 'MSH|^~\\&|EHR|GENERAL|CARELANE|GENERAL|20261124120000||ADT^A01|TLS-0001|P|2.5.1\rEVN|A01|20261124120000\rPID|1||TEST-ONLY^^^GENERAL^MR||TEST^PATIENT\r';
    const ack = await mllpExchange('ehr', message);
    expect(ack.charCodeAt(0)).toBe(0x0b);
    expect(ack).toContain('MSA|AA|TLS-0001');
    const { rows } = await db.pool.query(`select message_type from carelane.messages where external_id = 'TLS-0001'`);
    expect(rows).toEqual([{ message_type: 'ADT^A01' }]);
  });

  it('refuses an MLLP peer without a client certificate at the handshake', async () => {
    await expect(mllpExchange(undefined, 'MSH|^~\\&|X|X|X|X|20261124120000||ADT^A01|TLS-0002|P|2.5.1\r')).rejects.toThrow();
    const { rowCount } = await db.pool.query(`select 1 from carelane.messages where external_id = 'TLS-0002'`);
    expect(rowCount).toBe(0);
  });
});
