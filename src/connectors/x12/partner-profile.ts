import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import { permanentError } from '../../contracts/errors.ts';

/**
 * A trading partner as Carelane exchanges X12 with it. The schema is the contract (CONVENTIONS.md): the lead
 * wires `X12PartnerProfileSchema` into carelane.yaml (`x12.partners[]`); code receives the typed object.
 * ISA05/ISA07 qualifiers are 2 characters and ISA06/ISA08 ids up to 15 (X12.5 ISA element widths); GS02/GS03
 * application codes are AN 2/15 (X12.6 GS segment).
 */

const IsaQualifier = Type.String({ pattern: '^[0-9A-Z]{2}$', description: 'ISA05/ISA07 interchange id qualifier, e.g. ZZ, 01, 12' });
const IsaId = Type.String({ minLength: 1, maxLength: 15, pattern: '^[^*~^:>|]+$', description: 'ISA06/ISA08 interchange id, up to 15 characters, no delimiters' });
const ApplicationCode = Type.String({ minLength: 2, maxLength: 15, pattern: '^[^*~^:>|]+$', description: 'GS02/GS03 application code' });

const RemoteDir = Type.String({ minLength: 1, pattern: '^/', description: 'absolute remote directory' });

export const SftpSettingsSchema = Type.Object(
  {
    host: Type.String({ minLength: 1 }),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'default 22' })),
    username: Type.String({ minLength: 1 }),
    privateKey: Type.Optional(Type.String({ minLength: 1, description: 'secret reference: the OpenSSH/PEM private key' })),
    password: Type.Optional(Type.String({ minLength: 1, description: 'secret reference, when the server takes passwords' })),
    hostKeySha256: Type.Optional(Type.String({ pattern: '^SHA256:[A-Za-z0-9+/]{43}$', description: "the server key's fingerprint as ssh-keygen -lf prints it; absent = any key (not for production)" })),
    /** where the partner drops interchanges for us */
    inbound: RemoteDir,
    /** where we drop 850s and acknowledgments for the partner */
    outbound: RemoteDir,
    /** picked-up files are moved here after they are stored; absent = deleted after they are stored */
    archive: Type.Optional(RemoteDir),
    pollSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600, description: 'default 60' })),
    readyTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, description: 'SSH handshake timeout, default 20000' })),
  },
  { additionalProperties: false },
);

export type SftpSettings = Static<typeof SftpSettingsSchema>;

/** transport folder: where the on-premise gateway drops interchanges for us (its outbound folder is `endpoint`). */
export const FolderSettingsSchema = Type.Object(
  {
    inbound: Type.String({ minLength: 1, description: 'directory the gateway drops interchanges into for Carelane' }),
    processed: Type.Optional(Type.String({ minLength: 1, description: 'where stored files are moved; default <inbound>/processed' })),
    rejected: Type.Optional(Type.String({ minLength: 1, description: 'where refused files are moved; default <inbound>/rejected' })),
    pollSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600, description: 'default 5' })),
    settleMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 600_000, description: 'a file is taken once unchanged for this long, default 2000' })),
  },
  { additionalProperties: false },
);

export type FolderSettings = Static<typeof FolderSettingsSchema>;

/**
 * The client certificate(s) a partner presents to `POST /x12/<partner>` under mutual TLS
 * (`x12.http.tls.requestClientCert`). The CA check alone says "some partner of ours"; this says which one, so one
 * partner's certificate cannot post as another (client-certificates.ts). Like the certificate mappings of B2B
 * gateways, the usual binding is the certificate itself (its SHA-256 fingerprint; list two while a partner
 * rotates); names (subject CN or a DNS subjectAltName) suit a CA that only you issue from, since any certificate
 * of that CA carrying the name matches. Given both, a certificate must satisfy both.
 */
export const X12PartnerTlsSchema = Type.Object(
  {
    clientCertificateFingerprints: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        minItems: 1,
        description: 'SHA-256 fingerprints of the certificates the partner presents (64 hex digits, colons allowed): openssl x509 -noout -fingerprint -sha256 -in partner.crt',
      }),
    ),
    clientCertificateNames: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { minItems: 1, description: "names one of which the certificate's subject CN or a DNS subjectAltName must be (case-insensitive)" }),
    ),
  },
  { additionalProperties: false },
);

export type X12PartnerTls = Static<typeof X12PartnerTlsSchema>;

export const X12PartnerProfileSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,62}$', description: 'Carelane name of the partner, used in URLs, sources (x12:<id>) and control-number rows' }),
    ours: Type.Object({ qualifier: IsaQualifier, id: IsaId, applicationCode: ApplicationCode }, { additionalProperties: false }),
    theirs: Type.Object({ qualifier: IsaQualifier, id: IsaId, applicationCode: ApplicationCode }, { additionalProperties: false }),
    version: Type.Union([Type.Literal('004010'), Type.Literal('005010')], { description: 'version of the interchanges Carelane writes to this partner' }),
    transport: Type.Union([Type.Literal('http'), Type.Literal('folder'), Type.Literal('sftp')]),
    /** http: the partner's URL for POSTed interchanges; folder: the outbound directory; sftp: a label, e.g. sftp://host/ */
    endpoint: Type.String({ minLength: 1 }),
    /** transport sftp: the partner's (or VAN's) SFTP mailbox; secrets as ${env:…}/${file:…} references */
    sftp: Type.Optional(SftpSettingsSchema),
    /** transport folder: the inbound folder the app watches (folder-transport.ts) */
    folder: Type.Optional(FolderSettingsSchema),
    acknowledgment: Type.Object(
      {
        kind: Type.Union([Type.Literal('997'), Type.Literal('999')]),
        withinMinutes: Type.Integer({ minimum: 1, maximum: 10_080 }),
      },
      { additionalProperties: false },
    ),
    /** ISA15: T test, P production. A partner in test never gets (or sends) production interchanges. */
    usage: Type.Union([Type.Literal('T'), Type.Literal('P')]),
    /** mutual TLS on the HTTP listener: the certificate(s) this partner posts with */
    tls: Type.Optional(X12PartnerTlsSchema),
  },
  { additionalProperties: false },
);

export type X12PartnerProfile = Static<typeof X12PartnerProfileSchema>;

/** Validates profiles given as data (tests, the simulator); errors name the key, as config errors do. */
export function parsePartnerProfiles(input: unknown): X12PartnerProfile[] {
  if (!Array.isArray(input)) throw permanentError('x12.partners must be a list', { code: 'config_invalid', where: { field: 'x12.partners' } });
  const profiles = input.map((item, index) => {
    const error = Value.Errors(X12PartnerProfileSchema, item)[0];
    if (error) {
      const at = `x12.partners[${index}]${error.instancePath.replaceAll('/', '.')}`;
      throw permanentError(`${at}: ${error.message}`, { code: 'config_invalid', where: { field: at } });
    }
    return item as X12PartnerProfile;
  });
  const missing = [...missingTransportSettings(profiles), ...partnerTlsProblems(profiles)][0];
  if (missing) throw permanentError(missing.message, { code: 'config_invalid', where: { field: missing.field } });
  const ids = new Set<string>();
  for (const [index, p] of profiles.entries()) {
    if (ids.has(p.id)) throw permanentError(`x12.partners[${index}].id ${p.id} is used twice`, { code: 'config_invalid', where: { field: `x12.partners[${index}].id` } });
    ids.add(p.id);
  }
  return profiles;
}

/**
 * Settings the schema cannot demand per transport: `sftp` for transport sftp, `folder` for transport folder
 * (without its inbound folder a gateway partner's 855/856/997s would never be picked up). Checked when
 * the configuration is loaded (config/load.ts) and by parsePartnerProfiles.
 */
export function missingTransportSettings(profiles: readonly X12PartnerProfile[]): Array<{ field: string; message: string }> {
  const missing: Array<{ field: string; message: string }> = [];
  for (const [index, p] of profiles.entries()) {
    if (p.transport === 'sftp' && !p.sftp) missing.push({ field: `x12.partners[${index}].sftp`, message: `x12.partners[${index}].sftp is required for transport sftp` });
    if (p.transport === 'folder' && !p.folder) missing.push({ field: `x12.partners[${index}].folder`, message: `x12.partners[${index}].folder (inbound directory) is required for transport folder` });
  }
  return missing;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** A fingerprint as written (any case, colons or not) in the form compared: 64 lowercase hex digits. */
export function normalizeFingerprint(written: string): string {
  return written.replaceAll(':', '').toLowerCase();
}

/**
 * What the schema cannot say about `x12.partners[].tls`: that it binds something, and that each fingerprint is a
 * SHA-256 one (a SHA-1 fingerprint, which openssl and many tools print by default, would never match).
 */
export function partnerTlsProblems(profiles: readonly X12PartnerProfile[]): Array<{ field: string; message: string }> {
  const problems: Array<{ field: string; message: string }> = [];
  for (const [index, p] of profiles.entries()) {
    if (!p.tls) continue;
    const at = `x12.partners[${index}].tls`;
    if (!p.tls.clientCertificateFingerprints && !p.tls.clientCertificateNames) {
      problems.push({ field: at, message: `${at}: give clientCertificateFingerprints or clientCertificateNames (an empty tls binds no certificate to ${p.id})` });
    }
    for (const [i, written] of (p.tls.clientCertificateFingerprints ?? []).entries()) {
      const normalized = normalizeFingerprint(written);
      if (SHA256_HEX.test(normalized)) continue;
      const field = `${at}.clientCertificateFingerprints[${i}]`;
      const sha1 = /^[0-9a-f]{40}$/.test(normalized) ? ' (this looks like a SHA-1 fingerprint)' : '';
      problems.push({ field, message: `${field}: "${written}" is not a SHA-256 fingerprint${sha1}: 64 hex digits, colons allowed, as openssl x509 -noout -fingerprint -sha256 prints it` });
    }
  }
  return problems;
}

/**
 * Certificate bindings against the listener they are for, checked when the configuration is loaded:
 * - a binding without mutual TLS could never be checked (no certificate is asked for), so it is an error rather
 *   than a false sense of safety;
 * - in the production profile with mutual TLS, every partner with transport http (the ones that post to us) must
 *   declare its certificate: otherwise any certificate from `x12.http.tls.ca` could post as it. Partners on
 *   other transports need none; without one the listener refuses their path (http-listener.ts).
 */
export function clientCertificateBindingProblems(
  profiles: readonly X12PartnerProfile[],
  listener: { enabled: boolean; mutualTls: boolean; production: boolean },
): Array<{ field: string; message: string }> {
  if (!listener.enabled) return [];
  const problems: Array<{ field: string; message: string }> = [];
  for (const [index, p] of profiles.entries()) {
    const field = `x12.partners[${index}].tls`;
    if (p.tls && !listener.mutualTls) {
      problems.push({ field, message: `${field}: client certificates are only checked with mutual TLS: set x12.http.tls.requestClientCert: true (with its ca), or remove ${p.id}'s tls` });
    }
    if (!p.tls && listener.mutualTls && listener.production && p.transport === 'http') {
      problems.push({
        field,
        message: `${field}: required in the production profile with x12.http.tls.requestClientCert: declare the certificate ${p.id} posts with (clientCertificateFingerprints or clientCertificateNames); otherwise any certificate from x12.http.tls.ca could post as ${p.id}`,
      });
    }
  }
  return problems;
}

/** The profile whose interchange ids match an inbound ISA (sender = theirs, receiver = ours). */
export function findPartnerForInterchange(
  profiles: readonly X12PartnerProfile[],
  isa: { senderQualifier: string; senderId: string; receiverQualifier: string; receiverId: string },
): X12PartnerProfile | undefined {
  return profiles.find((p) => p.theirs.qualifier === isa.senderQualifier && p.theirs.id === isa.senderId.trim());
}
