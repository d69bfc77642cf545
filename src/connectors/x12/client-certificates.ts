import type { PeerCertificate } from 'node:tls';
import { normalizeFingerprint, type X12PartnerProfile, type X12PartnerTls } from './partner-profile.ts';

/**
 * Which partner a verified client certificate may post as (`x12.partners[].tls`). Pure: the TLS socket's peer
 * certificate in, a verdict out; the listener does the refusing (http-listener.ts).
 */

/** What of a peer certificate the binding looks at (node's PeerCertificate has more). */
export type PresentedCertificate = Pick<PeerCertificate, 'fingerprint256' | 'subject' | 'subjectaltname'>;

/** The certificate's SHA-256 fingerprint in the form configured ones are compared in (64 lowercase hex digits). */
export function fingerprintOf(certificate: PresentedCertificate): string {
  return normalizeFingerprint(certificate.fingerprint256);
}

/** Subject CN(s) and DNS subjectAltNames, lowercased: the names `clientCertificateNames` are matched against. */
function namesOf(certificate: PresentedCertificate): string[] {
  // node gives a repeated CN as an array; subjectaltname is "DNS:a, DNS:b, IP Address:…"
  const cn = certificate.subject?.CN as string | string[] | undefined;
  const commonNames = cn === undefined ? [] : Array.isArray(cn) ? cn : [cn];
  const dnsNames = (certificate.subjectaltname ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4));
  return [...commonNames, ...dnsNames].map((name) => name.toLowerCase());
}

/** Every list the binding gives must match: a listed fingerprint, and a listed name. */
export function certificateMatches(binding: X12PartnerTls, certificate: PresentedCertificate): boolean {
  const { clientCertificateFingerprints: fingerprints, clientCertificateNames: names } = binding;
  if (!fingerprints && !names) return false;
  if (fingerprints) {
    const presented = fingerprintOf(certificate);
    if (!fingerprints.some((written) => normalizeFingerprint(written) === presented)) return false;
  }
  if (names) {
    const presented = namesOf(certificate);
    if (!names.some((name) => presented.includes(name.toLowerCase()))) return false;
  }
  return true;
}

export type CertificateVerdict =
  | { allowed: true }
  | {
      allowed: false;
      /** no_certificate: the partner has a binding and no verified certificate came; mismatch: one came that is not its; unbound: the partner has none */
      reason: 'no_certificate' | 'mismatch' | 'unbound';
      /** the presented certificate's SHA-256 fingerprint, when there is one */
      fingerprint?: string;
      /** partners whose binding the certificate does match (for the operator's log, not the response) */
      boundTo: string[];
    };

/**
 * May this request post as `partnerId`?
 * - a partner with a binding: only with a verified certificate that matches it (no certificate at all is refused
 *   too, so a listener without mutual TLS never lets a bound partner's path through);
 * - without a verified certificate (plain HTTP, TLS without client certificates) an unbound partner is taken as
 *   before;
 * - with one, an unbound or unknown partner is refused when `unbound` is 'refuse' (production), and taken when
 *   'accept' (demo: any certificate from the CA, as before bindings existed).
 */
export function checkClientCertificate(
  profiles: readonly X12PartnerProfile[],
  partnerId: string,
  certificate: PresentedCertificate | undefined,
  unbound: 'accept' | 'refuse',
): CertificateVerdict {
  const binding = profiles.find((p) => p.id === partnerId)?.tls;
  const boundTo = certificate ? profiles.filter((p) => p.tls && certificateMatches(p.tls, certificate)).map((p) => p.id) : [];
  const fingerprint = certificate ? { fingerprint: fingerprintOf(certificate) } : {};
  if (binding) {
    if (!certificate) return { allowed: false, reason: 'no_certificate', boundTo };
    return certificateMatches(binding, certificate) ? { allowed: true } : { allowed: false, reason: 'mismatch', ...fingerprint, boundTo };
  }
  if (!certificate || unbound === 'accept') return { allowed: true };
  return { allowed: false, reason: 'unbound', ...fingerprint, boundTo };
}
