import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

// Throwaway certificate authorities for TLS tests on 127.0.0.1, made by openssl for one run: node can verify
// certificates but cannot issue them. Tests skip themselves (describe.skipIf(!hasOpenssl)) where it is missing.

export const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** One certificate to issue: files `<name>.crt` and `<name>.key`. */
export interface CertificateSpec {
  name: string;
  commonName: string;
  /** 'ca' is the one the test trusts; 'rogue-ca' is a CA nobody trusts */
  issuer: 'ca' | 'rogue-ca';
  /** a server certificate is for IP 127.0.0.1 (subjectAltName); a client one is for client authentication only */
  use: 'server' | 'client';
}

export interface TestCertificates {
  /** the folder holding ca.crt, rogue-ca.crt and `<name>.crt` / `<name>.key` of each certificate issued */
  dir: string;
  file(name: string): Buffer;
  remove(): void;
}

const EXTENSIONS: Record<CertificateSpec['use'], string> = {
  server: 'basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n',
  client: 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n',
};

/** A new temporary folder with two self-signed CAs (ca, rogue-ca) and the certificates asked for, EC P-256, valid two days. */
export function makeTestCertificates(prefix: string, certificates: readonly CertificateSpec[]): TestCertificates {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    for (const ca of ['ca', 'rogue-ca']) openssl('req', '-x509', ...ec, '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-subj', `/CN=${ca}`, '-days', '2');
    for (const { name, commonName, issuer, use } of certificates) {
      writeFileSync(path.join(dir, `${name}.ext`), EXTENSIONS[use]);
      openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${commonName}`);
      openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.crt`, '-CAkey', `${issuer}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
    }
  } catch (error) {
    // the caller never gets the folder to clean up
    remove();
    throw error;
  }
  return { dir, file: (name) => readFileSync(path.join(dir, name)), remove };
}
