import os from 'node:os';
import { DemandScenario, violations, type ScenarioFacts } from '../test/support/demand-scenario.ts';
import { createScratchDatabase, formatTable, round, type BenchServer } from './support.ts';

/**
 * Horizontal scale (issue 10): the demand scenario end to end (test/support/demand-scenario.ts: SIU^S12 over
 * MLLP → flow.demand → transfer reserved in the Odoo simulator → shortfall → one PO per grouping window →
 * 850 accepted by the supplier simulator) through 1, 2 and 4 `carelane start` processes on one PostgreSQL.
 * Each pass on fresh databases (Carelane's and the Odoo simulator's) and fresh simulators; the EHR side sends
 * over two MLLP connections per process, as a load balancer would spread them.
 *
 * Per pass: demands/s from the first SIU sent to the last effect (the last 850 accepted, every delivery done),
 * how the deliveries split over the processes (each process's carelane_deliveries_processed_total), and the
 * proof that nothing was lost or done twice, read at the simulators: one transfer per demand, one PO per
 * window, one 850 per PO, every message processed, every shortfall ordered, no exception.
 */

export interface ScaleBenchOptions {
  processes: number[];
  /** demands per pass (default 150) */
  count: number;
  /** simulated latency per Odoo request in ms (default 0) */
  latencyMs: number;
  /** odoo connection limits per process (default: the shipped 20/s and 4) */
  odooRatePerSecond?: number;
  odooMaxConcurrency?: number;
  keep: boolean;
  log: (line: string) => void;
}

interface ScalePass {
  processes: number;
  demands: number;
  seconds: number;
  perSecond: number;
  odooCalls: number;
  odooCallsPerSecond: number;
  /** deliveries processed by each process */
  perProcess: number[];
  facts: ScenarioFacts;
  violations: string[];
  load: number[];
}

export interface ScaleBenchResult {
  name: 'scale';
  count: number;
  latencyMs: number;
  odooLimits: string;
  passes: ScalePass[];
  /** every pass: nothing lost, nothing twice */
  exact: boolean;
  /** throughput of each pass over the 1-process pass */
  ratios: number[];
  /** no pass fell below 90% of the 1-process throughput */
  throughputHeld: boolean;
}

async function processedBy(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return [...text.matchAll(/^carelane_deliveries_processed_total\{[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

async function runPass(server: BenchServer, options: ScaleBenchOptions, processes: number): Promise<ScalePass> {
  const carelaneDb = await createScratchDatabase(server, `scale_${processes}`);
  const odooDb = await createScratchDatabase(server, `scale_odoo_${processes}`);
  let scenario: DemandScenario | undefined;
  try {
    scenario = await DemandScenario.start({ databaseUrl: carelaneDb.url, odooDatabaseUrl: odooDb.url, odooLatencyMs: options.latencyMs, groupWindowSeconds: 2, log: options.log, ...(options.odooRatePerSecond ? { odooRatePerSecond: options.odooRatePerSecond } : {}), ...(options.odooMaxConcurrency ? { odooMaxConcurrency: options.odooMaxConcurrency } : {}) });
    options.log(`scale: starting ${processes} engine process(es) ...`);
    await Promise.all(Array.from({ length: processes }, (_, i) => scenario!.startEngine(`scale-${processes}-${i + 1}`)));
    // Warm-up: the first demands pay for module loading, connection set-up and the simulator's first calls.
    const warm = await scenario.send('WARM', 10);
    await scenario.waitSettled('WARM', warm.keys.length, 120_000);
    const before = await Promise.all(scenario.engines.map((e) => processedBy(e.httpUrl)));
    const callsBefore = scenario.odoo.callCount();
    const loadStart = round(os.loadavg()[0]!, 1);
    const since = new Date();
    options.log(`scale: ${options.count} demands through ${processes} process(es) ...`);
    const sent = await scenario.send('RUN', options.count);
    const settledAt = await scenario.waitSettled('RUN', sent.keys.length, 15 * 60_000);
    const seconds = (settledAt - sent.firstSentAt) / 1000;
    const after = await Promise.all(scenario.engines.map((e) => processedBy(e.httpUrl)));
    const odooCalls = scenario.odoo.callCount() - callsBefore;
    const facts = await scenario.facts('RUN', sent, since);
    return {
      processes,
      demands: sent.keys.length,
      seconds: round(seconds, 1),
      perSecond: round(sent.keys.length / seconds, 2),
      odooCalls,
      odooCallsPerSecond: round(odooCalls / seconds, 1),
      perProcess: after.map((n, i) => n - before[i]!),
      facts,
      violations: violations(facts),
      load: [loadStart, round(os.loadavg()[0]!, 1)],
    };
  } finally {
    await scenario?.close();
    if (!options.keep) {
      await carelaneDb.drop().catch(() => {});
      await odooDb.drop().catch(() => {});
    }
  }
}

export async function runScaleBench(server: BenchServer, options: ScaleBenchOptions): Promise<ScaleBenchResult> {
  const passes: ScalePass[] = [];
  for (const processes of options.processes) passes.push(await runPass(server, options, processes));
  const base = passes[0]!.perSecond;
  const ratios = passes.map((p) => round(p.perSecond / base, 2));
  return {
    name: 'scale',
    count: options.count,
    latencyMs: options.latencyMs,
    odooLimits: `${options.odooRatePerSecond ?? 20}/s, ${options.odooMaxConcurrency ?? 4} concurrent per process`,
    passes,
    exact: passes.every((p) => p.violations.length === 0),
    ratios,
    throughputHeld: ratios.every((r) => r >= 0.9),
  };
}

export function formatScaleResult(result: ScaleBenchResult): string {
  const table = formatTable(
    ['processes', 'demands', 'seconds', 'demands/s', 'vs 1', 'Odoo calls/s', 'deliveries per process', 'transfers', 'dup transfers', 'POs', 'dup POs', '850s', 'dup 850s', 'processed', 'exceptions', 'verdict'],
    result.passes.map((p, i) => [
      p.processes,
      p.demands,
      p.seconds,
      p.perSecond,
      `${result.ratios[i]}x`,
      p.odooCallsPerSecond,
      p.perProcess.join(' / '),
      p.facts.reservations,
      p.facts.duplicatePickings,
      p.facts.purchaseOrders,
      p.facts.duplicatePurchaseOrders,
      p.facts.ordersAtSupplier,
      p.facts.duplicate850s,
      `${p.facts.processed}/${p.facts.messages}`,
      Object.values(p.facts.exceptions).reduce((s, n) => s + n, 0),
      p.violations.length === 0 ? 'exact' : p.violations.join('; '),
    ]),
  );
  return [
    `Scale-out: ${result.count} SIU^S12 demands over MLLP (2 connections per process) → transfer in the Odoo simulator → shortfall → one PO per 2 s window`,
    `→ 850 at the supplier simulator, through N carelane start processes on one PostgreSQL (${os.cpus().length} CPUs; Odoo latency ${result.latencyMs} ms;`,
    `Odoo connection limits ${result.odooLimits}: the limiter is per process, so N processes may send N times as much to Odoo)`,
    table,
    '',
    `Nothing lost or duplicated in every pass: ${result.exact ? 'yes' : 'NO'}; throughput held (each pass ≥ 0.9x the 1-process pass): ${result.throughputHeld ? 'yes' : 'NO'}`,
    `Load average (1 min) start → end per pass: ${result.passes.map((p) => `${p.processes}p ${p.load.join(' → ')}`).join(', ')}`,
    'demands/s = demands / (first SIU sent → last 850 accepted and every delivery done), after a 10-demand warm-up; transfers = demands',
    'with exactly one transfer in Odoo; POs = windows with a PO (dup = more than one for a window); 850s = POs whose 850 the supplier accepted',
    '(dup = a second interchange for one PO); processed = SIU rows processed / demands acknowledged. The Odoo simulator runs one call at a',
    'time (one advisory lock per database) and reads a model\'s rows on each call: it, not the engines, bounds the throughput here.',
  ].join('\n');
}
