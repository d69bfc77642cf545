import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfigText, redactedConfig } from './load.ts';

const problemsOf = (yaml: string, env: Record<string, string> = {}): string[] => {
  try {
    parseConfigText(yaml, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

describe('configuration', () => {
  it('applies defaults, including inside lanes and endpoints', () => {
    const config = parseConfigText('endpoints: { wms: { url: "https://wms.example.org" } }', {});
    expect(config.server).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(Object.keys(config.engine.lanes)).toEqual(['critical', 'standard', 'bulk']);
    expect(config.endpoints.wms).toMatchObject({ url: 'https://wms.example.org', timeoutMs: 10_000 });
  });

  it('names each wrong key and what was expected, all at once', () => {
    const problems = problemsOf('server: { prot: 9 }\nengine: { lanes: { critical: { concurrency: x } } }\nlogging: { level: loud }');
    expect(problems).toEqual(
      expect.arrayContaining([
        'server.prot: unknown key (check the spelling against docs/configuration.md)',
        'engine.lanes.critical.concurrency: must be integer',
        'logging.level: expected one of "fatal", "error", "warn", "info", "debug", "trace", "silent"',
      ]),
    );
  });

  it('refuses secrets written in the file and resolves ${env:} and ${file:} references', () => {
    expect(problemsOf('auth: { adminToken: hunter2 }')).toEqual(['auth.adminToken: secrets must be given as ${env:NAME} or ${file:PATH}, not written in the file']);
    expect(problemsOf('database: { url: "postgres://u:pw@db/carelane" }')[0]).toContain('database.url: this URL contains a password');
    expect(problemsOf('auth: { adminToken: "${env:NOPE}" }')).toEqual(['auth.adminToken: environment variable NOPE is not set']);

    const dir = mkdtempSync(path.join(tmpdir(), 'carelane-config-'));
    writeFileSync(path.join(dir, 'token.txt'), 's3cret-from-file\n');
    writeFileSync(path.join(dir, 'carelane.yaml'), 'auth: { adminToken: "${file:token.txt}" }\ndatabase: { url: "${env:DB}" }\n');
    const { config } = loadConfig(path.join(dir, 'carelane.yaml'), { DB: 'postgres://u:pw@db/carelane' });
    expect(config.auth.adminToken).toBe('s3cret-from-file');
    expect(config.database.url).toBe('postgres://u:pw@db/carelane');
  });

  it('checks that the cost allocation periods are days of a real time zone', () => {
    expect(problemsOf('flows: { costAllocation: { timeZone: Mars/Olympus } }')).toEqual(['flows.costAllocation.timeZone: "Mars/Olympus" is not an IANA time zone (e.g. "Europe/Paris", "America/New_York", "UTC")']);
    expect(problemsOf('flows: { costAllocation: { timeZone: Europe/Paris } }')).toEqual([]);
  });

  it('checks that an x12 partner has the settings of its transport', () => {
    const partner = (transport: string) =>
      `x12: { partners: [{ id: gw, transport: ${transport}, endpoint: /srv/edi/out, version: "005010", usage: T, theirs: { qualifier: ZZ, id: GW, applicationCode: GW }, ours: { qualifier: ZZ, id: US, applicationCode: US }, acknowledgment: { kind: "997", withinMinutes: 60 } }] }`;
    expect(problemsOf(partner('folder'))).toEqual(['x12.partners[0].folder (inbound directory) is required for transport folder']);
    expect(problemsOf(partner('sftp'))).toEqual(['x12.partners[0].sftp is required for transport sftp']);
  });

  it('checks that routes use defined lanes', () => {
    expect(problemsOf('routes: [{ lane: urgent, flow: noop }]')).toEqual(['routes.0.lane: lane "urgent" is not defined in engine.lanes (defined: critical, standard, bulk)']);
  });

  it('runs the demo profile when there is no file, and lets the environment override', () => {
    const cwd = process.cwd();
    process.chdir(mkdtempSync(path.join(tmpdir(), 'carelane-nofile-')));
    try {
      const { config, origin } = loadConfig(undefined, { PORT: '9090', DATABASE_URL: 'postgres://localhost/x' });
      expect(origin).toBe('demo profile');
      expect(config.profile).toBe('demo');
      expect(config.server.port).toBe(9090);
      expect(config.database.url).toBe('postgres://localhost/x');
    } finally {
      process.chdir(cwd);
    }
  });

  it('reports YAML syntax errors with their line', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'carelane-yaml-'));
    writeFileSync(path.join(dir, 'c.yaml'), 'server:\n  port: [1,\n');
    expect(() => loadConfig(path.join(dir, 'c.yaml'), {})).toThrow(/not valid YAML at line \d+/);
  });
});

// Each loaded config keeps what its own ${env:…}/${file:…} references resolved to; two configs in one process
// (tests, `config check` next to a running node, a reload) must not read or overwrite each other's.
describe('redacting a configuration beside another loaded in the same process', () => {
  it('shows a config the same whatever another config resolved since', () => {
    const first = parseConfigText('engine: { nodeId: node-alpha-0001 }\nendpoints: { hook: { url: "https://hook.example/${env:HOOK_PATH}" } }\n', { HOOK_PATH: 'path-of-first-1' });
    const before = JSON.stringify(redactedConfig(first));
    expect(before).toContain('"nodeId":"node-alpha-0001"');
    expect(before).toContain('"url":"https://hook.example/${env:HOOK_PATH}"');
    // the second config's secret happens to be a value the first shows in the clear (its node id)
    parseConfigText('endpoints: { other: { url: "https://other.example/", headers: { Authorization: "${env:OTHER_AUTH}" } } }\n', { OTHER_AUTH: 'node-alpha-0001' });
    expect(JSON.stringify(redactedConfig(first))).toBe(before);
  });

  it('redacts a copy with the references of the config it was copied from, not those of one loaded later', () => {
    const first = parseConfigText('auth: { adminToken: "${env:FIRST_ADMIN}" }\nendpoints: { hook: { url: "https://hook.example/${env:FIRST_PATH}" } }\n', { FIRST_ADMIN: 'first-admin-token-1', FIRST_PATH: 'shared-path-value' });
    const copy = structuredClone(first);
    parseConfigText('endpoints: { hook: { url: "https://hook.example/${env:SECOND_PATH}" } }\n', { SECOND_PATH: 'shared-path-value' });
    const shown = JSON.stringify(redactedConfig(copy));
    expect(shown).toContain('"url":"https://hook.example/${env:FIRST_PATH}"');
    expect(shown).not.toContain('shared-path-value');
  });

  it('still hides referenced values in an object it cannot trace to one loaded config', () => {
    const config = parseConfigText('endpoints: { hook: { url: "https://hook.example/${env:HOOK_SECRET_PATH}" } }\n', { HOOK_SECRET_PATH: 'untraced-secret-99' });
    // a copy whose referenced path was changed, with the secret moved elsewhere
    const altered = { ...structuredClone(config), endpoints: { hook: { ...config.endpoints.hook!, url: 'https://elsewhere.example/', headers: { 'x-key': 'untraced-secret-99' } } } };
    expect(JSON.stringify(redactedConfig(altered))).not.toContain('untraced-secret-99');
  });

  it('hides in a copy a value another loaded config resolved, under the copy\'s own reference names first', () => {
    const own = parseConfigText('endpoints: { hook: { url: "https://hook.example/${env:OWN_PATH}" } }\n', { OWN_PATH: 'own-path-secret-1' });
    parseConfigText('auth: { adminToken: "${env:OTHER_ADMIN}" }\n', { OTHER_ADMIN: 'other-admin-secret-2' });
    const copy = structuredClone(own);
    copy.endpoints.hook!.headers = { 'x-key': 'other-admin-secret-2', 'x-again': 'own-path-secret-1' };
    const shown = JSON.stringify(redactedConfig(copy));
    expect(shown).toContain('"url":"https://hook.example/${env:OWN_PATH}"');
    expect(shown).toContain('"x-key":"${env:OTHER_ADMIN}"');
    expect(shown).toContain('"x-again":"${env:OWN_PATH}"');
  });
});
