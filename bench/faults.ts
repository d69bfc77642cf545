import { connect as natsConnect, type JetStreamManager } from 'nats';
import { DemandScenario, violations, type ScenarioFacts, type SendOutcome } from '../test/support/demand-scenario.ts';
import { startRestartablePostgres, type RestartablePostgres } from '../test/support/restartable-postgres.ts';
import { natsServerMissing, startOwnNats, type OwnNats } from '../test/support/own-nats.ts';
import { formatTable, round } from './support.ts';

/**
 * Fault injection (issue 10): the demand scenario (test/support/demand-scenario.ts: SIU over MLLP → transfer in
 * the Odoo simulator → shortfall → one PO per window → 850 at the supplier) through two `carelane start`
 * processes on a PostgreSQL server of the suite's own, while one thing at a time goes wrong. After each fault:
 * messages in = effects out, nothing twice at the simulators, no exception left unexplained, and how long the
 * backlog took to clear once the fault ended.
 *
 * Used by `npm run bench -- faults` (60 s outages) and test/fault-injection.test.ts (a few seconds).
 */

export const FAULTS = [
  { name: 'none', what: 'no fault (reference)' },
  { name: 'odoo-down', what: 'Odoo refuses connections for the outage' },
  { name: 'odoo-slow', what: 'every Odoo call answers 2 s late for the outage' },
  { name: 'odoo-5xx', what: 'Odoo answers 503 for the outage' },
  { name: 'odoo-timeout-after-commit', what: 'transfer and PO creates commit in Odoo, the answer never comes (client times out)' },
  { name: 'supplier-down', what: "the supplier's X12 endpoint drops connections for the outage" },
  { name: 'postgres-restart', what: "Carelane's PostgreSQL stopped (fast shutdown) mid-load, started again after the outage" },
  { name: 'broker-restart', what: 'the NATS JetStream server stopped mid-load, started again after the outage' },
  { name: 'engine-kill-9', what: 'one of the two engine processes killed with SIGKILL mid-load' },
] as const;
export type FaultName = (typeof FAULTS)[number]['name'];

export interface FaultRow {
  scenario: FaultName;
  messages: number;
  /** demands with exactly one transfer in Odoo */
  reservations: number;
  purchaseOrders: number;
  /** 850s the supplier accepted (one per PO) */
  orders850: number;
  /** transfers, POs, 850s and events beyond the first of each */
  duplicates: number;
  exceptions: number;
  /** from the end of the fault (service back, process killed) to the last effect */
  recoverySeconds: number;
  /** deliveries that met the fault (an attempt failed), or deliveries the killed process held */
  hitBy: number;
  /** messages the EHR side sent again after a connection failed or a negative ACK */
  resent: number;
  events?: { outbox: number; unpublished: number; inStream: number; duplicates: number };
  violations: string[];
  facts: ScenarioFacts;
}

export interface FaultRunOptions {
  /** how long each outage lasts */
  outageSeconds: number;
  /** demands per scenario */
  demands: number;
  settleTimeoutMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class FaultSuite {
  readonly scenario: DemandScenario;
  readonly postgres: RestartablePostgres;
  readonly nats: OwnNats | undefined;
  private readonly log: (line: string) => void;
  private nodes = 0;

  private constructor(scenario: DemandScenario, postgres: RestartablePostgres, nats: OwnNats | undefined, log: (line: string) => void) {
    this.scenario = scenario;
    this.postgres = postgres;
    this.nats = nats;
    this.log = log;
  }

  /**
   * Carelane's database on a PostgreSQL server of the suite's own (restarted by 'postgres-restart'); the Odoo
   * simulator's state on `odooDatabaseUrl`, another server, as a real Odoo has its own database. With
   * nats-server installed, the flows run event-driven and publish to a nats-server of the suite's own.
   */
  static async start(options: { odooDatabaseUrl: string; log?: (line: string) => void }): Promise<FaultSuite> {
    const log = options.log ?? (() => {});
    const postgres = await startRestartablePostgres();
    let nats: OwnNats | undefined;
    try {
      const databaseUrl = await postgres.createDatabase('carelane_faults');
      if (!natsServerMissing()) nats = await startOwnNats();
      const scenario = await DemandScenario.start({ databaseUrl, odooDatabaseUrl: options.odooDatabaseUrl, leaseMs: 3000, odooTimeoutMs: 5000, groupWindowSeconds: 2, log, ...(nats ? { natsUrl: nats.url } : {}) });
      const suite = new FaultSuite(scenario, postgres, nats, log);
      await Promise.all([suite.startEngine(), suite.startEngine()]);
      return suite;
    } catch (error) {
      await nats?.close();
      await postgres.close();
      throw error;
    }
  }

  private startEngine() {
    return this.scenario.startEngine(`fault-node-${++this.nodes}`);
  }

  async run(name: FaultName, options: FaultRunOptions): Promise<FaultRow> {
    const { scenario } = this;
    const label = name.replace(/[^a-z0-9]/g, '').toUpperCase();
    const outageMs = options.outageSeconds * 1000;
    const count = options.demands;
    const since = new Date(Date.now() - 1000);
    let faultEnd = Date.now();
    let sending: Promise<SendOutcome>;
    let hitBy: number | undefined;
    // Sends spread over a few seconds, so the fault lands while demands are being received and worked on.
    const paced = () => scenario.send(label, count, { rate: Math.max(2, count / 4), connectionsPerEngine: 1, resendForSeconds: options.outageSeconds });
    const reservedSoFar = async () => (await scenario.database.pool.query<{ n: number }>(`select count(*)::int as n from carelane.demands where demand_key like $1 and status in ('reserved', 'partial')`, [`SCHED^NORTH|F-${label}-%`])).rows[0]!.n;
    this.log(`fault ${name}: ${count} demands, outage ${options.outageSeconds} s`);
    switch (name) {
      case 'none':
        sending = paced();
        break;
      case 'odoo-down':
        await scenario.odoo.setDown(true);
        sending = paced();
        await sleep(outageMs);
        await scenario.odoo.setDown(false);
        break;
      case 'odoo-slow':
        scenario.odoo.addFault({ kind: 'slow', delayMs: 2000 });
        sending = paced();
        await sleep(outageMs);
        scenario.odoo.clearFaults();
        break;
      case 'odoo-5xx':
        scenario.odoo.addFault({ kind: 'http_503' });
        sending = paced();
        await sleep(outageMs);
        scenario.odoo.clearFaults();
        break;
      case 'odoo-timeout-after-commit':
        // Creates of the reservation transfer and of the purchase order: committed, answer lost. The connector
        // must find them again by external id / origin instead of creating them twice.
        scenario.odoo.addFault({ kind: 'timeout_after_commit', model: 'stock.picking', method: 'create', times: 3 });
        scenario.odoo.addFault({ kind: 'timeout_after_commit', model: 'purchase.order', method: 'create', times: 1 });
        sending = paced();
        await sleep(outageMs);
        scenario.odoo.clearFaults();
        break;
      case 'supplier-down':
        scenario.supplier.setFault('down');
        sending = paced();
        await sleep(Math.max(outageMs, 3000)); // at least one grouping window's order must meet the outage
        scenario.supplier.setFault('none');
        break;
      case 'postgres-restart':
        sending = paced();
        await waitForProgress(reservedSoFar, 2, 30_000);
        this.log('fault postgres-restart: stopping PostgreSQL');
        await this.postgres.restart(outageMs);
        this.log('fault postgres-restart: PostgreSQL is back');
        break;
      case 'broker-restart': {
        if (!this.nats) throw new Error(natsServerMissing() ?? 'the suite started without NATS');
        sending = paced();
        await waitForProgress(reservedSoFar, 2, 30_000);
        await this.nats.restart(outageMs);
        break;
      }
      case 'engine-kill-9': {
        sending = paced();
        await waitForProgress(reservedSoFar, 2, 30_000);
        // The victim is a process holding deliveries at that moment (claimed, running), so work is cut mid-way.
        let victim = scenario.liveEngines()[0]!;
        for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(20)) {
          const { rows } = await scenario.database.pool.query<{ locked_by: string; n: number }>(`select locked_by, count(*)::int as n from carelane.deliveries where status = 'running' group by locked_by order by n desc`);
          const busiest = scenario.liveEngines().find((engine) => engine.nodeId === rows[0]?.locked_by);
          if (busiest) {
            victim = busiest;
            hitBy = rows[0]!.n;
            break;
          }
        }
        hitBy ??= 0;
        await victim.kill('SIGKILL');
        this.log(`fault engine-kill-9: killed ${victim.nodeId} holding ${hitBy} deliveries`);
        break;
      }
    }
    faultEnd = Date.now();
    const sent = await sending;
    const settledAt = await scenario.waitSettled(label, sent.keys.length, options.settleTimeoutMs ?? Math.max(120_000, outageMs * 3));
    const facts = await scenario.facts(label, sent, since);
    const events = this.nats ? await this.events(label) : undefined;
    if (hitBy === undefined) {
      const { rows } = await scenario.database.pool.query<{ n: number }>(`select count(*)::int as n from carelane.deliveries where created_at >= $1 and last_error is not null`, [since]);
      hitBy = rows[0]!.n;
      if (name === 'broker-restart') {
        const failed = await scenario.database.pool.query<{ n: number }>(`select count(*)::int as n from carelane.event_outbox where created_at >= $1 and attempts > 0`, [since]);
        hitBy = failed.rows[0]!.n;
      }
    }
    const wrong = violations(facts);
    if (events && events.unpublished > 0) wrong.push(`${events.unpublished} events left unpublished`);
    if (events && events.duplicates > 0) wrong.push(`${events.duplicates} duplicate events in the stream`);
    if (events && events.inStream !== events.outbox) wrong.push(`${events.outbox} events in the outbox, ${events.inStream} in the stream`);
    // The killed process's place is taken again, so the next scenario also runs on two processes.
    if (name === 'engine-kill-9') await this.startEngine();
    const row: FaultRow = {
      scenario: name,
      messages: facts.messages,
      reservations: facts.reservations,
      purchaseOrders: facts.purchaseOrders,
      orders850: facts.ordersAtSupplier,
      duplicates: facts.duplicatePickings + facts.duplicatePurchaseOrders + facts.duplicate850s + (events?.duplicates ?? 0),
      exceptions: Object.values(facts.exceptions).reduce((sum, n) => sum + n, 0),
      recoverySeconds: round(Math.max(0, settledAt - faultEnd) / 1000, 1),
      hitBy,
      resent: sent.resent,
      ...(events ? { events } : {}),
      violations: wrong,
      facts,
    };
    this.log(`fault ${name}: ${JSON.stringify({ ...row, facts: undefined })}`);
    return row;
  }

  /** The label's events: outbox rows, and how often each event id is in the JetStream stream. */
  private async events(label: string): Promise<NonNullable<FaultRow['events']>> {
    const query = () =>
      this.scenario.database.pool.query<{ id: number; published: boolean }>(
        `select id, published_at is not null as published from carelane.event_outbox where key like $1 or payload::text like $2`,
        [`SCHED^NORTH|F-${label}-%`, `%F-${label}-%`],
      );
    // Publishing is asynchronous to the effects: after a broker outage the relay may still be in its backoff
    // (at most 30 s) when the reservations have settled. Give it that long before counting what is left.
    let { rows } = await query();
    for (const deadline = Date.now() + 45_000; rows.some((r) => !r.published) && Date.now() < deadline; ({ rows } = await query())) await sleep(250);
    const ids = new Set(rows.map((r) => `scenario:${r.id}`));
    const inStream = new Map<string, number>();
    const nc = await natsConnect({ servers: this.nats!.url });
    try {
      const jsm: JetStreamManager = await nc.jetstreamManager();
      const info = await jsm.streams.info('CARELANE_CARELANE');
      for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
        const message = await jsm.streams.getMessage('CARELANE_CARELANE', { seq }).catch(() => undefined);
        const id = message?.header?.get('Nats-Msg-Id');
        if (id && ids.has(id)) inStream.set(id, (inStream.get(id) ?? 0) + 1);
      }
    } finally {
      await nc.close();
    }
    return {
      outbox: rows.length,
      unpublished: rows.filter((r) => !r.published).length,
      inStream: inStream.size,
      duplicates: [...inStream.values()].reduce((sum, n) => sum + n - 1, 0),
    };
  }

  async close(): Promise<void> {
    await this.scenario.close();
    await this.nats?.close();
    await this.postgres.close();
  }
}

async function waitForProgress(probe: () => Promise<number>, atLeast: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await probe()) < atLeast) {
    if (Date.now() > deadline) throw new Error(`no progress: fewer than ${atLeast} demands reserved within ${timeoutMs} ms`);
    await sleep(50);
  }
}

export interface FaultBenchResult {
  name: 'faults';
  outageSeconds: number;
  demands: number;
  rows: Array<Omit<FaultRow, 'facts'>>;
  skipped: Array<{ scenario: FaultName; reason: string }>;
}

export async function runFaultBench(options: FaultRunOptions & { odooDatabaseUrl: string; only?: FaultName[]; log: (line: string) => void }): Promise<FaultBenchResult> {
  const suite = await FaultSuite.start({ odooDatabaseUrl: options.odooDatabaseUrl, log: options.log });
  const rows: FaultBenchResult['rows'] = [];
  const skipped: FaultBenchResult['skipped'] = [];
  try {
    for (const { name } of FAULTS) {
      if (options.only && !options.only.includes(name)) continue;
      if (name === 'broker-restart' && !suite.nats) {
        skipped.push({ scenario: name, reason: natsServerMissing() ?? 'no NATS' });
        continue;
      }
      const { facts: _facts, ...row } = await suite.run(name, options);
      rows.push(row);
    }
  } finally {
    await suite.close();
  }
  return { name: 'faults', outageSeconds: options.outageSeconds, demands: options.demands, rows, skipped };
}

export function formatFaultResult(result: FaultBenchResult): string {
  const table = formatTable(
    ['scenario', 'messages', 'reservations', 'POs', '850s', 'duplicates', 'exceptions', 'recovery s', 'hit by', 'resent', 'verdict'],
    result.rows.map((r) => [r.scenario, r.messages, r.reservations, r.purchaseOrders, r.orders850, r.duplicates, r.exceptions, r.recoverySeconds, r.hitBy, r.resent, r.violations.length === 0 ? 'ok' : r.violations.join('; ')]),
  );
  return [
    `Fault injection: ${result.demands} SIU^S12 demands per scenario over MLLP into two carelane start processes (one PostgreSQL), outages of ${result.outageSeconds} s;`,
    'each demand → one transfer in the Odoo simulator, one shortfall → one PO per 2 s window → one 850 at the supplier simulator.',
    table,
    ...result.skipped.map((s) => `skipped ${s.scenario}: ${s.reason}`),
    'messages = demands acknowledged AA; reservations = demands with exactly one transfer in Odoo; duplicates = extra transfers, POs per window,',
    '850 interchanges per PO (distinct ISA13 the supplier accepted) and events per id in the JetStream stream; exceptions = open ones raised;',
    'recovery = fault ended (or process killed) → last effect; hit by = deliveries with a failed attempt (kill -9: deliveries the process held).',
  ].join('\n');
}
