import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { parseConfigText } from '../src/config/index.ts';
import { DEFAULT_FLOW_OWNERS } from '../src/config/owner-defaults.ts';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { verifyAuditChain } from '../src/governance/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { waitFor } from './support/engine-harness.ts';

const ADMIN = 'admin-token-for-sla-tests';
const PHI_IN_REASON = 'MRN-8675309';

describe('owners of flows', () => {
  it('has default owners for every built-in flow, with no file at all', () => {
    const config = parseConfigText('', {});
    for (const flow of Object.keys(config.flows)) expect(config.owners.flows[flow], `owners.flows.${flow}`).toMatchObject({ business: expect.any(String), technical: expect.any(String) });
    expect(config.owners.flows).toEqual(DEFAULT_FLOW_OWNERS);
  });

  it('keeps a flow the file names as the file says, and refuses an owner pair missing one half', () => {
    const config = parseConfigText('owners:\n  flows:\n    invoiceMatch: { business: ap-team, technical: erp-oncall }\n    labSupplies: { business: lab, technical: integration-team }\n', {});
    expect(config.owners.flows.invoiceMatch).toEqual({ business: 'ap-team', technical: 'erp-oncall' });
    expect(config.owners.flows.labSupplies).toEqual({ business: 'lab', technical: 'integration-team' });
    expect(config.owners.flows.demand).toEqual(DEFAULT_FLOW_OWNERS.demand);
    expect(() => parseConfigText('owners:\n  flows:\n    demand: { business: perioperative-services }\n', {})).toThrow(/owners\.flows\.demand/);
  });
});

describe('owners and SLAs of exceptions', () => {
  let db: TestDatabase;
  let app: RunningCarelane;
  const logLines: string[] = [];
  const ids: Record<string, number> = {};

  const insertException = async (name: string, type: string, ageMinutes: number, status = 'open') => {
    const { rows } = await db.pool.query<{ id: number }>(
      `insert into carelane.exceptions (type, classification, status, reason, created_at) values ($1, 'business', $2, $3, now() - make_interval(mins => $4)) returning id::int as id`,
      [type, status, `item not mapped for patient ${PHI_IN_REASON}`, ageMinutes],
    );
    ids[name] = rows[0]!.id;
  };

  beforeAll(async () => {
    db = await createTestDatabase(embeddedTarget(), 4);
    // back-dated before start, so the first tick (every second here) finds them
    await insertException('lateDelivery', 'delivery_failed', 120);
    await insertException('freshDelivery', 'delivery_failed', 5);
    await insertException('resolvedLate', 'delivery_failed', 120, 'resolved');
    await insertException('lateMapping', 'mapping_failure', 300);
    await insertException('earlyMapping', 'mapping_failure', 180);
    await insertException('lateCustom', 'lot_recall', 20);
    const config = parseConfigText(
      `server: { port: 0 }\nmllp: { enabled: false }\nlogging: { level: info }\nscheduler:\n  jobs:\n    slaCheck: { cron: '* * * * * *' }\nowners:\n  flows:\n    demand: { business: perioperative-services, technical: integration-team }\n  exceptions:\n    lot_recall: { business: quality, technical: integration-team, slaMinutes: 15, runbook: 'https://wiki.example.org/lot-recall' }\n`,
      { DATABASE_URL: db.url, CARELANE_ADMIN_TOKEN: ADMIN },
    );
    expect(config.owners.exceptions.delivery_failed?.slaMinutes).toBe(60); // a DESIGN.md default kept beside the file's own type
    const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => (logLines.push(chunk.toString()), done()) });
    app = await startCarelane({ config, origin: 'test' }, { log: pino({ level: 'info' }, sink) });
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
  });

  it('marks open exceptions past their SLA once, with a metric, a log line without PHI and an audit entry', async () => {
    const breached = await waitFor(async () => {
      const { rows } = await db.pool.query<{ id: number }>('select id::int as id from carelane.exceptions where breached_at is not null order by id');
      return rows.length === 3 ? rows.map((r) => r.id) : undefined;
    });
    expect(breached).toEqual([ids.lateDelivery, ids.lateMapping, ids.lateCustom]);

    await new Promise((resolve) => setTimeout(resolve, 2200)); // two more ticks: nothing is alerted twice
    const audit = await db.pool.query(`select target_id, detail from carelane.audit_log where action = 'exception.sla_breach' order by target_id::int`);
    expect(audit.rows.map((r) => Number(r.target_id))).toEqual(breached);
    expect(audit.rows[0].detail).toEqual({ type: 'delivery_failed', slaMinutes: 60, business: 'operations', technical: 'integration-team' });
    expect((await verifyAuditChain(db.pool)).ok).toBe(true);

    const metrics = await (await fetch(`${app.httpUrl}/metrics`)).text();
    expect(metrics).toContain('carelane_exception_sla_breaches_total{type="delivery_failed"} 1');
    expect(metrics).toContain('carelane_exception_sla_breaches_total{type="lot_recall"} 1');

    const alerts = logLines.filter((line) => line.includes('exception past its SLA'));
    expect(alerts).toHaveLength(3);
    expect(alerts.join('\n')).not.toContain(PHI_IN_REASON);
    expect(JSON.parse(alerts.find((line) => line.includes('lot_recall'))!)).toMatchObject({ exceptionId: ids.lateCustom, businessOwner: 'quality', runbook: 'https://wiki.example.org/lot-recall' });
  });

  it('names a business and a technical owner for every flow: the file’s own over the defaults, shown by the config API', async () => {
    const response = await fetch(`${app.httpUrl}/api/v1/config`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const { config } = (await response.json()) as { config: { owners: { flows: Record<string, { business: string; technical: string }> } } };
    expect(config.owners.flows.demand).toEqual({ business: 'perioperative-services', technical: 'integration-team' });
    expect(config.owners.flows.replenishment).toEqual(DEFAULT_FLOW_OWNERS.replenishment);
    expect(config.owners.flows).toEqual({ ...DEFAULT_FLOW_OWNERS, demand: { business: 'perioperative-services', technical: 'integration-team' } });
  });

  it('lists exceptions with their owners, SLA due time and breach', async () => {
    await waitFor(async () => ((await db.pool.query('select 1 from carelane.exceptions where breached_at is not null')).rowCount ? true : undefined));
    const response = await fetch(`${app.httpUrl}/api/v1/exceptions?status=open`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const { exceptions } = (await response.json()) as { exceptions: Array<{ id: number; owner: unknown; slaMinutes: number; slaDueAt: string; createdAt: string; breachedAt: string | null; runbook: string }> };
    const late = exceptions.find((e) => e.id === ids.lateDelivery)!;
    expect(late).toMatchObject({ owner: { business: 'operations', technical: 'integration-team' }, slaMinutes: 60, runbook: 'docs/operations.md#exceptions-and-replay' });
    expect(Date.parse(late.slaDueAt) - Date.parse(late.createdAt)).toBe(60 * 60_000);
    expect(late.breachedAt).not.toBeNull();
    expect(exceptions.find((e) => e.id === ids.freshDelivery)!.breachedAt).toBeNull();
  });
});
