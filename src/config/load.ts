import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { Value } from 'typebox/value';
import { ConfigSchema, EndpointSchema, ExceptionOwnersSchema, FhirServerSchema, Hl7DestinationSchema, JobSchema, LaneSchema, OdooConnectionSchema, OidcSchema, OwnersSchema, ServerTlsSchema, TlsFilesSchema, type CarelaneConfig } from './schema.ts';
import { DEFAULT_EXCEPTION_OWNERS, DEFAULT_FLOW_OWNERS } from './owner-defaults.ts';
import { clientCertificateBindingProblems, missingTransportSettings, partnerTlsProblems } from '../connectors/x12/partner-profile.ts';
import type { TSchema } from 'typebox';

export interface LoadedConfig {
  config: CarelaneConfig;
  /** where the config came from: a file path, or 'demo profile' when there is none */
  origin: string;
}

/** Every problem found in one pass, so a user fixes the file once rather than once per error. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(origin: string, problems: string[]) {
    super(`invalid configuration in ${origin}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** The process environment, read only here: inside, code receives the typed config. */
export interface ConfigEnvironment {
  [name: string]: string | undefined;
}

const SECRET_KEY = /(password|secret|token|apikey|api_key|credentials|privatekey)$/i;
const REFERENCE = /\$\{(env|file):([^}]+)\}/g;
const URL_WITH_PASSWORD = /^[a-z][a-z0-9+.-]*:\/\/[^/@:]*:[^/@]+@/i;
// What each `${env:…}`/`${file:…}` reference of one loaded config resolved to, so redactedConfig shows the
// reference instead of the value wherever it was used — also under keys that do not look secret (an endpoint's
// `headers.Authorization`, a token in a URL's query).
interface SecretReferences {
  /** per key path (joined by PATH_SEPARATOR): the text written there, and the value the config holds there */
  byPath: Map<string, { written: string; value: unknown }>;
  /** each resolved value → its reference, to hide it wherever else it appears (>= 8 characters, so a
   * referenced port number is not hunted through every string) */
  byValue: Map<string, string>;
}
// Kept per config object, never in one map for the process: two configs loaded in one process (tests, a reload,
// `config check` beside a running node) would otherwise overwrite each other's references and rewrite each
// other's values. A WeakMap rather than a property, so the config's shape (JSON, schema checks) is unchanged and
// the secrets go when the config goes.
const referencesByConfig = new WeakMap<object, SecretReferences>();
// The same records, held weakly, only to recognise a copy of a loaded config (structuredClone, a spread).
let loadedReferences: WeakRef<SecretReferences>[] = [];
const PATH_SEPARATOR = '\u0000';

export function resolveConfigPath(explicit: string | undefined, env: ConfigEnvironment): string | undefined {
  return explicit ?? env.CARELANE_CONFIG ?? (existsSync('carelane.yaml') ? 'carelane.yaml' : undefined);
}

export function loadConfig(explicitPath: string | undefined, env: ConfigEnvironment): LoadedConfig {
  const file = resolveConfigPath(explicitPath, env);
  if (!file) return { config: finish({ profile: 'demo' }, 'demo profile', env, process.cwd()), origin: 'demo profile' };
  if (!existsSync(file)) throw new ConfigError(file, [`file not found: ${file}`]);
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8')) ?? {};
  } catch (error) {
    const where = error instanceof YAMLParseError && error.linePos ? ` at line ${error.linePos[0].line}, column ${error.linePos[0].col}` : '';
    throw new ConfigError(file, [`not valid YAML${where}: ${(error as Error).message.split('\n')[0]}`]);
  }
  return { config: finish(raw, file, env, path.dirname(path.resolve(file))), origin: file };
}

/** Parses a config from YAML text (used by tests and `config check --stdin`). */
export function parseConfigText(text: string, env: ConfigEnvironment, baseDir = process.cwd()): CarelaneConfig {
  return finish(parseYaml(text) ?? {}, 'inline config', env, baseDir);
}

function finish(raw: unknown, origin: string, env: ConfigEnvironment, baseDir: string): CarelaneConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(origin, ['top level: expected a mapping of keys (server, engine, endpoints, ...)']);
  }
  const problems: string[] = [];
  const references: SecretReferences = { byPath: new Map(), byValue: new Map() };
  const resolved = resolveSecrets(raw, [], env, baseDir, problems, references) as Record<string, unknown>;
  applyEnvironmentOverrides(resolved, env);
  const withDefaults = Value.Default(ConfigSchema, resolved) as Record<string, unknown>;
  // Value.Default does not descend into records (lanes, endpoints, jobs): fill each entry itself.
  fillRecordDefaults(withDefaults, ['engine', 'lanes'], LaneSchema);
  fillRecordDefaults(withDefaults, ['endpoints'], EndpointSchema);
  fillRecordDefaults(withDefaults, ['scheduler', 'jobs'], JobSchema);
  fillRecordDefaults(withDefaults, ['odoo', 'connections'], OdooConnectionSchema);
  fillRecordDefaults(withDefaults, ['fhir', 'servers'], FhirServerSchema);
  fillRecordDefaults(withDefaults, ['hl7v2', 'destinations'], Hl7DestinationSchema);
  fillDefaults(withDefaults, ['auth', 'oidc'], OidcSchema);
  fillDefaults(withDefaults, ['server', 'tls'], ServerTlsSchema);
  fillDefaults(withDefaults, ['mllp', 'tls'], TlsFilesSchema);
  fillDefaults(withDefaults, ['x12', 'http', 'tls'], TlsFilesSchema);
  fillRecordDefaults(withDefaults, ['owners', 'flows'], OwnersSchema);
  fillRecordDefaults(withDefaults, ['owners', 'exceptions'], ExceptionOwnersSchema);
  mergeOwnerDefaults(withDefaults);
  resolveTlsPaths(withDefaults, baseDir);
  for (const error of Value.Errors(ConfigSchema, withDefaults)) {
    const message = describeSchemaError(error);
    if (message && !problems.includes(message)) problems.push(message);
  }
  if (problems.length === 0) problems.push(...crossReferenceProblems(withDefaults as CarelaneConfig));
  if (problems.length > 0) throw new ConfigError(origin, problems);
  // what the finished config holds at each referenced path (an environment override may have replaced it): a
  // copy of this config is recognised by holding the same there
  for (const [keyPath, entry] of references.byPath) entry.value = valueAt(withDefaults, keyPath);
  referencesByConfig.set(withDefaults, references);
  loadedReferences = [...loadedReferences.filter((ref) => ref.deref() !== undefined), new WeakRef(references)];
  return withDefaults as CarelaneConfig;
}

/** Checks that need the whole file: names used in one section must be defined in another. */
const isTimeZone = (zone: string): boolean => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
};

function crossReferenceProblems(config: CarelaneConfig): string[] {
  const lanes = Object.keys(config.engine.lanes);
  const problems: string[] = [];
  if (lanes.length === 0) problems.push('engine.lanes: at least one lane is required');
  config.routes.forEach((route, index) => {
    if (!lanes.includes(route.lane)) problems.push(`routes.${index}.lane: lane "${route.lane}" is not defined in engine.lanes (defined: ${lanes.join(', ')})`);
  });
  // sftp / folder settings the partner schema cannot demand per transport (a folder partner without its inbound
  // directory would never have its 855/856/997s picked up)
  for (const missing of missingTransportSettings(config.x12.partners)) problems.push(missing.message);
  // which partner a client certificate may post as (docs/x12.md "Client certificates")
  for (const problem of partnerTlsProblems(config.x12.partners)) problems.push(problem.message);
  const x12Listener = { enabled: config.x12.http.enabled, mutualTls: config.x12.http.tls?.requestClientCert === true, production: config.profile === 'production' };
  for (const problem of clientCertificateBindingProblems(config.x12.partners, x12Listener)) problems.push(problem.message);
  const { costAllocation } = config.flows;
  if (!isTimeZone(costAllocation.timeZone)) problems.push(`flows.costAllocation.timeZone: "${costAllocation.timeZone}" is not an IANA time zone (e.g. "Europe/Paris", "America/New_York", "UTC")`);
  const { keys, activeKeyId } = config.governance.tokenization;
  const keyIds = keys.map((key) => key.id);
  keyIds.forEach((id, index) => {
    if (keyIds.indexOf(id) !== index) problems.push(`governance.tokenization.keys.${index}.id: key id "${id}" is used twice`);
  });
  if (keys.length > 0 && activeKeyId === undefined) problems.push('governance.tokenization.activeKeyId: required when keys are given');
  if (activeKeyId !== undefined && !keyIds.includes(activeKeyId)) {
    problems.push(`governance.tokenization.activeKeyId: key "${activeKeyId}" is not among governance.tokenization.keys (defined: ${keyIds.join(', ') || 'none'})`);
  }
  const signingIds = config.auth.signedRequests.keys.map((key) => key.id);
  signingIds.forEach((id, index) => {
    if (signingIds.indexOf(id) !== index) problems.push(`auth.signedRequests.keys.${index}.id: key id "${id}" is used twice`);
  });
  const fhirIds = config.fhir.sources.map((source) => source.id);
  fhirIds.forEach((id, index) => {
    if (fhirIds.indexOf(id) !== index) problems.push(`fhir.sources.${index}.id: source "${id}" is configured twice`);
    // The listener's notification route is /fhir/notify/<source>: a source named notify could not take webhooks.
    if (id === 'notify') problems.push(`fhir.sources.${index}.id: "notify" is reserved (POST /fhir/notify/<source> is the notification route)`);
  });
  for (const [at, tls] of [['server.tls', config.server.tls], ['mllp.tls', config.mllp.tls], ['x12.http.tls', config.x12.http.tls]] as const) {
    if (tls?.requestClientCert && !tls.ca) problems.push(`${at}.ca: required when requestClientCert is true (the CAs client certificates must be signed by)`);
  }
  if (config.server.tls && config.server.tls.clients.length > 0 && !config.server.tls.requestClientCert) {
    problems.push('server.tls.requestClientCert: must be true when server.tls.clients are given');
  }
  return problems;
}

/** The DESIGN.md exception types and the built-in flows keep their default owners (and SLA) unless the file names its own. */
function mergeOwnerDefaults(config: Record<string, unknown>): void {
  const owners = config.owners as { exceptions?: Record<string, unknown>; flows?: Record<string, unknown> } | undefined;
  if (!owners) return;
  owners.exceptions = { ...structuredClone(DEFAULT_EXCEPTION_OWNERS), ...owners.exceptions };
  owners.flows = { ...structuredClone(DEFAULT_FLOW_OWNERS), ...owners.flows };
}

/** TLS file paths are relative to the config file, like ${file:} references. */
function resolveTlsPaths(config: Record<string, unknown>, baseDir: string): void {
  const listeners = [
    (config.server as { tls?: Record<string, unknown> } | undefined)?.tls,
    (config.mllp as { tls?: Record<string, unknown> } | undefined)?.tls,
    (config.x12 as { http?: { tls?: Record<string, unknown> } } | undefined)?.http?.tls,
  ];
  for (const tls of listeners) {
    if (tls) for (const key of ['cert', 'key', 'ca']) if (typeof tls[key] === 'string') tls[key] = path.resolve(baseDir, tls[key]);
  }
  const destinations = (config.hl7v2 as { destinations?: Record<string, { tls?: Record<string, unknown> }> } | undefined)?.destinations ?? {};
  for (const destination of Object.values(destinations)) {
    const tls = destination?.tls;
    if (tls) for (const key of ['cert', 'key', 'ca']) if (typeof tls[key] === 'string') tls[key] = path.resolve(baseDir, tls[key]);
  }
}

function fillRecordDefaults(config: Record<string, unknown>, at: string[], schema: TSchema): void {
  let record: unknown = config;
  for (const key of at) record = typeof record === 'object' && record !== null ? (record as Record<string, unknown>)[key] : undefined;
  if (typeof record !== 'object' || record === null) return;
  const entries = record as Record<string, unknown>;
  for (const [name, entry] of Object.entries(entries)) {
    if (typeof entry === 'object' && entry !== null) entries[name] = Value.Default(schema, entry);
  }
}

/** Value.Default does not fill an optional object that is present (auth.oidc): fill it itself. */
function fillDefaults(config: Record<string, unknown>, at: string[], schema: TSchema): void {
  const parentPath = at.slice(0, -1);
  let parent: unknown = config;
  for (const key of parentPath) parent = typeof parent === 'object' && parent !== null ? (parent as Record<string, unknown>)[key] : undefined;
  if (typeof parent !== 'object' || parent === null) return;
  const holder = parent as Record<string, unknown>;
  const last = at.at(-1)!;
  if (typeof holder[last] === 'object' && holder[last] !== null) holder[last] = Value.Default(schema, holder[last]);
}

/**
 * The config as it may be shown (`config check`, support bundles): every value under a secret-named key
 * (the same rule that forces references) becomes '[set]', and passwords in URLs are hidden.
 */
export function redactedConfig(config: CarelaneConfig): unknown {
  const references = referencesOf(config);
  const redact = (value: unknown, keyPath: string[]): unknown => {
    const key = keyPath.at(-1) ?? '';
    if (Array.isArray(value)) return value.map((item, index) => redact(item, [...keyPath, String(index)]));
    if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, [...keyPath, k])]));
    if (typeof value !== 'string') return value;
    if (SECRET_KEY.test(key)) return '[set]';
    const written = references.byPath.get(keyPath.join(PATH_SEPARATOR))?.written;
    if (written !== undefined) return written;
    let shown = value;
    for (const [resolved, reference] of references.byValue) if (shown.includes(resolved)) shown = shown.replaceAll(resolved, reference);
    return shown.replace(/\/\/[^@/]*@/, '//[credentials]@');
  };
  return redact(config, []);
}

/**
 * A config's own references. For a copy: the paths of the loaded config it holds the most referenced values of
 * (the newest on a tie), and the values of every config still loaded hidden too (that config's names first) —
 * a copy may have been changed, and a wrong reference name shown is better than a secret.
 */
function referencesOf(config: CarelaneConfig): SecretReferences {
  const own = referencesByConfig.get(config);
  if (own) return own;
  const live = loadedReferences.map((ref) => ref.deref()).filter((references) => references !== undefined);
  let best: SecretReferences | undefined;
  let bestMatches = 0;
  for (const candidate of live) {
    let matches = 0;
    for (const [keyPath, { value }] of candidate.byPath) if (valueAt(config, keyPath) === value) matches += 1;
    if (matches > 0 && matches >= bestMatches) [best, bestMatches] = [candidate, matches];
  }
  const byValue = new Map([...live.filter((references) => references !== best), ...(best ? [best] : [])].flatMap((references) => [...references.byValue]));
  return { byPath: best?.byPath ?? new Map(), byValue };
}

function valueAt(root: unknown, keyPath: string): unknown {
  let at = root;
  for (const key of keyPath.split(PATH_SEPARATOR)) {
    if (typeof at !== 'object' || at === null || !Object.hasOwn(at, key)) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

function applyEnvironmentOverrides(config: Record<string, unknown>, env: ConfigEnvironment): void {
  const section = (name: string): Record<string, unknown> => {
    const existing = config[name];
    if (typeof existing === 'object' && existing !== null) return existing as Record<string, unknown>;
    const created: Record<string, unknown> = {};
    config[name] = created;
    return created;
  };
  if (env.DATABASE_URL) section('database').url = env.DATABASE_URL;
  if (env.PORT) section('server').port = Number(env.PORT);
  if (env.HOST) section('server').host = env.HOST;
  if (env.MLLP_PORT) section('mllp').port = Number(env.MLLP_PORT);
  if (env.CARELANE_ADMIN_TOKEN) section('auth').adminToken = env.CARELANE_ADMIN_TOKEN;
  if (env.CARELANE_NODE_ID) section('engine').nodeId = env.CARELANE_NODE_ID;
  if (env.LOG_LEVEL) section('logging').level = env.LOG_LEVEL;
}

function resolveSecrets(value: unknown, keyPath: string[], env: ConfigEnvironment, baseDir: string, problems: string[], references: SecretReferences): unknown {
  if (Array.isArray(value)) return value.map((item, index) => resolveSecrets(item, [...keyPath, String(index)], env, baseDir, problems, references));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) out[key] = resolveSecrets(child, [...keyPath, key], env, baseDir, problems, references);
    return out;
  }
  if (typeof value !== 'string') return value;
  const key = keyPath.join('.');
  const last = keyPath.at(-1) ?? '';
  const hasReference = value.match(REFERENCE) !== null;
  if (SECRET_KEY.test(last) && !hasReference) {
    problems.push(`${key}: secrets must be given as \${env:NAME} or \${file:PATH}, not written in the file`);
    return value;
  }
  if (URL_WITH_PASSWORD.test(value) && !hasReference) {
    problems.push(`${key}: this URL contains a password; put the whole URL in \${env:NAME} or \${file:PATH}`);
    return value;
  }
  if (hasReference) references.byPath.set(keyPath.join(PATH_SEPARATOR), { written: value, value: undefined });
  return value.replace(REFERENCE, (reference: string, kind: string, name: string) => {
    let resolved = '';
    if (kind === 'env') {
      const found = env[name];
      if (found === undefined) problems.push(`${key}: environment variable ${name} is not set`);
      resolved = found ?? '';
    } else {
      const file = path.resolve(baseDir, name);
      try {
        resolved = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
      } catch {
        problems.push(`${key}: secret file ${file} cannot be read`);
      }
    }
    if (resolved.length >= 8) references.byValue.set(resolved, reference);
    return resolved;
  });
}

interface SchemaError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message: string;
}

function describeSchemaError(error: SchemaError): string | undefined {
  const at = error.instancePath.split('/').filter(Boolean).join('.');
  const prefix = at || 'top level';
  switch (error.keyword) {
    case 'required': {
      const missing = (error.params.requiredProperties as string[] | undefined) ?? [];
      return missing.map((name) => `${at ? `${at}.` : ''}${name}: required key is missing`).join('; ');
    }
    case 'additionalProperties':
      return undefined; // reported by the 'boolean' error on the offending key itself
    case 'boolean':
      return `${prefix}: unknown key (check the spelling against docs/configuration.md)`;
    case 'anyOf':
      return undefined; // the union's branch errors say more
    case 'enum':
      return `${prefix}: expected one of ${((error.params.allowedValues as unknown[] | undefined) ?? []).map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return `${prefix}: ${error.message}`;
  }
}
