import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfigText } from './load.ts';

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
