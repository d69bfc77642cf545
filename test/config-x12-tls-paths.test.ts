import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfigText } from '../src/config/index.ts';
import { readTlsFiles } from '../src/config/tls.ts';

// `x12.http.tls` file paths are relative to the config file, as `server.tls`, `mllp.tls` and `${file:}` are
// (docs/configuration.md): a relative path once resolved against the process's working directory, so the same
// file worked or not depending on where Carelane was started.

const dir = mkdtempSync(path.join(tmpdir(), 'carelane-x12-tls-paths-'));
mkdirSync(path.join(dir, 'pki'));
for (const [name, text] of [['x12.crt', 'x12 certificate'], ['x12.key', 'x12 key'], ['partners-ca.crt', 'partner CA'], ['api.crt', 'api certificate'], ['api.key', 'api key']]) {
  writeFileSync(path.join(dir, 'pki', name!), text!);
}
const yaml = `
server: { tls: { cert: pki/api.crt, key: pki/api.key } }
x12:
  http: { tls: { cert: pki/x12.crt, key: ./pki/x12.key, ca: pki/partners-ca.crt, requestClientCert: true } }
`;
writeFileSync(path.join(dir, 'carelane.yaml'), yaml);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const problemsOf = (text: string): string[] => {
  try {
    parseConfigText(text, {});
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

describe('x12.http.tls paths', () => {
  it('are resolved against the config file, not the working directory, like server.tls', () => {
    // the working directory is the repository, not the config's directory
    expect(path.resolve('pki/x12.crt')).not.toBe(path.join(dir, 'pki', 'x12.crt'));
    const { config } = loadConfig(path.join(dir, 'carelane.yaml'), {});
    expect(config.x12.http.tls).toEqual({ cert: path.join(dir, 'pki', 'x12.crt'), key: path.join(dir, 'pki', 'x12.key'), ca: path.join(dir, 'pki', 'partners-ca.crt'), requestClientCert: true });
    expect(config.server.tls).toMatchObject({ cert: path.join(dir, 'pki', 'api.crt'), key: path.join(dir, 'pki', 'api.key') });
    // what start-up reads (src/app.ts): the files next to the config
    const material = readTlsFiles('x12.http.tls', config.x12.http.tls!);
    expect([material.cert.toString(), material.key.toString(), material.ca?.toString(), material.requestClientCert]).toEqual(['x12 certificate', 'x12 key', 'partner CA', true]);
  });

  it('are resolved against the base directory given for inline configs; absolute paths stay as written', () => {
    const config = parseConfigText('x12: { http: { tls: { cert: pki/x12.crt, key: /etc/carelane/x12.key } } }', {}, dir);
    expect(config.x12.http.tls).toEqual({ cert: path.join(dir, 'pki', 'x12.crt'), key: '/etc/carelane/x12.key', requestClientCert: false });
  });

  it('mutual TLS needs the CA partners are checked against, as for server.tls and mllp.tls', () => {
    expect(problemsOf('x12: { http: { tls: { cert: a.crt, key: a.key, requestClientCert: true } } }')).toEqual([
      'x12.http.tls.ca: required when requestClientCert is true (the CAs client certificates must be signed by)',
    ]);
    expect(problemsOf('x12: { http: { tls: { cert: a.crt } } }')).toEqual([expect.stringMatching(/^x12\.http\.tls\.key: /)]);
  });
});
