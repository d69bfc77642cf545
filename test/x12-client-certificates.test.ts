import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText } from '../src/config/index.ts';
import { certificateMatches, type PresentedCertificate } from '../src/connectors/x12/client-certificates.ts';
import { checkClientCertificate, parsePartnerProfiles, type X12PartnerProfile } from '../src/connectors/x12/index.ts';

// Which partner a client certificate may post as (`x12.partners[].tls`): the matching rules, and the checks made
// when the configuration is loaded. The same rules over real TLS sockets: test/x12-https.test.ts.

const FP = 'ab'.repeat(32);
const OTHER_FP = 'cd'.repeat(32);
/** node's fingerprint256 form: capitals with colons */
const nodeForm = (hex: string) => hex.toUpperCase().match(/../g)!.join(':');
const cert = (fingerprint: string, cn: string, subjectaltname?: string): PresentedCertificate => ({
  fingerprint256: nodeForm(fingerprint),
  subject: { CN: cn } as PresentedCertificate['subject'],
  ...(subjectaltname ? { subjectaltname } : {}),
});

const partner = (id: string, tls?: X12PartnerProfile['tls'], transport: X12PartnerProfile['transport'] = 'http'): X12PartnerProfile => ({
  id,
  ours: { qualifier: 'ZZ', id: 'CARELANE', applicationCode: 'CARELANE' },
  theirs: { qualifier: 'ZZ', id: id.toUpperCase(), applicationCode: id.toUpperCase() },
  version: '005010',
  transport,
  endpoint: 'https://127.0.0.1:1/unused',
  acknowledgment: { kind: '999', withinMinutes: 60 },
  usage: 'P',
  ...(tls ? { tls } : {}),
});

describe('client certificate bindings: matching', () => {
  it('matches a fingerprint however it is written (colons, case) and nothing else', () => {
    expect(certificateMatches({ clientCertificateFingerprints: [nodeForm(FP).toLowerCase()] }, cert(FP, 'x'))).toBe(true);
    expect(certificateMatches({ clientCertificateFingerprints: [FP.toUpperCase()] }, cert(FP, 'x'))).toBe(true);
    // two listed while the partner rotates: either one
    expect(certificateMatches({ clientCertificateFingerprints: [OTHER_FP, FP] }, cert(FP, 'x'))).toBe(true);
    expect(certificateMatches({ clientCertificateFingerprints: [OTHER_FP] }, cert(FP, 'x'))).toBe(false);
  });

  it('matches a name against the subject CN or a DNS subjectAltName, case-insensitively; not an IP or URI one', () => {
    expect(certificateMatches({ clientCertificateNames: ['ACME-EDI'] }, cert(FP, 'acme-edi'))).toBe(true);
    expect(certificateMatches({ clientCertificateNames: ['edi.acme.example'] }, cert(FP, 'acme', 'DNS:www.acme.example, DNS:EDI.acme.example'))).toBe(true);
    expect(certificateMatches({ clientCertificateNames: ['10.0.0.1'] }, cert(FP, 'acme', 'IP Address:10.0.0.1'))).toBe(false);
    expect(certificateMatches({ clientCertificateNames: ['acme.example'] }, cert(FP, 'acme', 'URI:https://acme.example'))).toBe(false);
    expect(certificateMatches({ clientCertificateNames: ['acme-edi'] }, cert(FP, 'acme-edi-2'))).toBe(false);
  });

  it('given both a fingerprint and a name, wants both', () => {
    const binding = { clientCertificateFingerprints: [FP], clientCertificateNames: ['acme-edi'] };
    expect(certificateMatches(binding, cert(FP, 'acme-edi'))).toBe(true);
    expect(certificateMatches(binding, cert(FP, 'globex-edi'))).toBe(false);
    expect(certificateMatches(binding, cert(OTHER_FP, 'acme-edi'))).toBe(false);
  });
});

describe('client certificate bindings: who may post where', () => {
  const profiles = [partner('acme', { clientCertificateFingerprints: [FP] }), partner('globex', { clientCertificateNames: ['globex-edi'] }), partner('gateway', undefined, 'folder')];
  const acme = cert(FP, 'acme-edi');

  it("refuses a partner's certificate on another partner's path, naming whom it is bound to (for the log)", () => {
    expect(checkClientCertificate(profiles, 'acme', acme, 'refuse')).toEqual({ allowed: true });
    expect(checkClientCertificate(profiles, 'globex', acme, 'refuse')).toEqual({ allowed: false, reason: 'mismatch', fingerprint: FP, boundTo: ['acme'] });
    // the demo mode does not loosen a declared binding
    expect(checkClientCertificate(profiles, 'globex', acme, 'accept')).toMatchObject({ allowed: false, reason: 'mismatch' });
  });

  it('refuses a bound partner without a verified certificate (a listener without mutual TLS never opens its path)', () => {
    expect(checkClientCertificate(profiles, 'acme', undefined, 'accept')).toEqual({ allowed: false, reason: 'no_certificate', boundTo: [] });
  });

  it('an unbound or unknown partner: refused with a certificate in production, taken in demo, taken without one (plain HTTP)', () => {
    for (const id of ['gateway', 'nobody']) {
      expect(checkClientCertificate(profiles, id, acme, 'refuse')).toEqual({ allowed: false, reason: 'unbound', fingerprint: FP, boundTo: ['acme'] });
      expect(checkClientCertificate(profiles, id, acme, 'accept')).toEqual({ allowed: true });
      expect(checkClientCertificate(profiles, id, undefined, 'refuse')).toEqual({ allowed: true });
    }
  });
});

const problemsOf = (text: string): string[] => {
  try {
    parseConfigText(text, {});
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

const MUTUAL = 'http: { tls: { cert: a.crt, key: a.key, ca: ca.crt, requestClientCert: true } }';
const yamlPartner = (id: string, extra = '', transport = 'http') =>
  `    - { id: ${id}, ours: { qualifier: ZZ, id: CARELANE, applicationCode: CARELANE }, theirs: { qualifier: ZZ, id: ${id.toUpperCase()}, applicationCode: ${id.toUpperCase()} }, version: "005010", transport: ${transport}, endpoint: "https://127.0.0.1:1/x", ${transport === 'folder' ? 'folder: { inbound: /tmp/in }, ' : ''}acknowledgment: { kind: "999", withinMinutes: 60 }, usage: P${extra} }`;
const configWith = (http: string, partners: string[], profile = '') => `${profile}x12:\n  ${http}\n  partners:\n${partners.join('\n')}\n`;

describe('client certificate bindings: checked when the configuration is loaded', () => {
  it('production with mutual TLS: an http partner without a binding is an error naming it; bound and non-http partners are fine', () => {
    expect(problemsOf(configWith(MUTUAL, [yamlPartner('acme'), yamlPartner('globex', `, tls: { clientCertificateFingerprints: ["${FP}"] }`), yamlPartner('gateway', '', 'folder')]))).toEqual([
      'x12.partners[0].tls: required in the production profile with x12.http.tls.requestClientCert: declare the certificate acme posts with (clientCertificateFingerprints or clientCertificateNames); otherwise any certificate from x12.http.tls.ca could post as acme',
    ]);
  });

  it('demo profile, or no mutual TLS, or the listener off: an unbound partner is accepted', () => {
    expect(problemsOf(configWith(MUTUAL, [yamlPartner('acme')], 'profile: demo\n'))).toEqual([]);
    expect(problemsOf(configWith('http: { port: 4080 }', [yamlPartner('acme')]))).toEqual([]);
    expect(problemsOf(configWith('http: { enabled: false, tls: { cert: a.crt, key: a.key, ca: ca.crt, requestClientCert: true } }', [yamlPartner('acme')]))).toEqual([]);
  });

  it('a binding without mutual TLS could never be checked: an error', () => {
    expect(problemsOf(configWith('http: { tls: { cert: a.crt, key: a.key } }', [yamlPartner('acme', ', tls: { clientCertificateNames: [acme-edi] }')]))).toEqual([
      "x12.partners[0].tls: client certificates are only checked with mutual TLS: set x12.http.tls.requestClientCert: true (with its ca), or remove acme's tls",
    ]);
  });

  it('an empty binding, a SHA-1 or malformed fingerprint, an unknown key: errors naming the key', () => {
    expect(problemsOf(configWith(MUTUAL, [yamlPartner('acme', ', tls: {}')]))).toEqual(['x12.partners[0].tls: give clientCertificateFingerprints or clientCertificateNames (an empty tls binds no certificate to acme)']);
    expect(problemsOf(configWith(MUTUAL, [yamlPartner('acme', `, tls: { clientCertificateFingerprints: ["${FP}", "${'12:'.repeat(19)}12", "not-hex"] }`)]))).toEqual([
      `x12.partners[0].tls.clientCertificateFingerprints[1]: "${'12:'.repeat(19)}12" is not a SHA-256 fingerprint (this looks like a SHA-1 fingerprint): 64 hex digits, colons allowed, as openssl x509 -noout -fingerprint -sha256 prints it`,
      'x12.partners[0].tls.clientCertificateFingerprints[2]: "not-hex" is not a SHA-256 fingerprint: 64 hex digits, colons allowed, as openssl x509 -noout -fingerprint -sha256 prints it',
    ]);
    expect(problemsOf(configWith(MUTUAL, [yamlPartner('acme', ', tls: { fingerprints: [x] }')]))).toEqual(['x12.partners.0.tls.fingerprints: unknown key (check the spelling against docs/configuration.md)']);
  });

  it('parsePartnerProfiles (profiles given as data) refuses an empty binding too', () => {
    expect(() => parsePartnerProfiles([{ ...partner('acme'), tls: {} }])).toThrow('x12.partners[0].tls: give clientCertificateFingerprints or clientCertificateNames');
  });
});
