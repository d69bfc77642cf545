import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MllpSender } from '../../bench/mllp-sender.ts';
import { OdooClient, ProductGateway, VendorGateway } from '../../src/connectors/odoo/index.ts';
import type { X12PartnerProfile } from '../../src/connectors/x12/partner-profile.ts';
import { applyMappings } from '../../src/flows/master-data/mappings.ts';
import { connect, type Database } from '../../src/store/database.ts';
import { migrate } from '../../src/store/migrate.ts';
import { startOdooSimulator, type OdooSimulator } from '../../simulators/odoo/index.ts';
import { startSupplierSimulator, type SupplierSimulator } from '../../simulators/supplier/index.ts';

/**
 * The demand scenario of issue 10's scale and fault runs, end to end over real sockets and real processes:
 * HL7 v2 SIU^S12 over MLLP into N `carelane start` processes on one database → flow.demand → demand.reserve
 * (an internal transfer in the Odoo simulator) → a shortfall (one item is never in stock) →
 * replenishment.request → one purchase order per grouping window → replenishment.send_order → x12.send_850 at the
 * supplier simulator. Every count it reports is read at the simulators (Odoo's records, the 850 interchanges the
 * supplier accepted) or in Carelane's database, never from a process's own bookkeeping.
 *
 * Shared by bench/scale.ts, bench/faults.ts and test/fault-injection.test.ts.
 */

const ADMIN_TOKEN = 'scenario-admin-token-not-secret';
const ODOO_KEY = 'sim-admin-api-key';
const TOKENIZATION_SECRET = 'tokenization-secret-for-the-scale-and-fault-runs-0123';
const CONNECTION = 'odoo-main';
const ITEM_SYSTEM = 'http://north.example/items';
const PROCEDURE = 'FX100';
/** per demand: the stocked item is reserved in full, the other one is short by its whole quantity */
export const STOCKED_PER_DEMAND = 1;
export const SHORT_PER_DEMAND = 2;

const profile: X12PartnerProfile = {
  id: 'medsupply',
  ours: { qualifier: 'ZZ', id: 'CARELANE', applicationCode: 'CARELANE' },
  theirs: { qualifier: 'ZZ', id: 'MEDSUPPLY', applicationCode: 'MEDSUPPLY' },
  version: '005010',
  transport: 'http',
  endpoint: 'http://127.0.0.1:1/unused',
  acknowledgment: { kind: '999', withinMinutes: 60 },
  usage: 'T',
};

export interface DemandScenarioOptions {
  /** Carelane's database (created empty by the caller; migrated here) */
  databaseUrl: string;
  /** where the Odoo simulator keeps its state: another server than Carelane's, so a PostgreSQL restart is Carelane's alone */
  odooDatabaseUrl: string;
  /** simulated network latency per Odoo request (default 0) */
  odooLatencyMs?: number;
  /** flows.replenishment.groupWindowSeconds (default 2) */
  groupWindowSeconds?: number;
  /** engine.leaseMs: how long a killed process's deliveries stay claimed (default 3000) */
  leaseMs?: number;
  /** odoo connection timeoutMs (default 5000; the 'slow' fault must stay below it) */
  odooTimeoutMs?: number;
  /** publish reservation and purchase-order events to this NATS server (flows in event-driven mode) */
  natsUrl?: string;
  /** odoo.connections.*.ratePerSecond / maxConcurrency: per process (default: the shipped 20/s and 4) */
  odooRatePerSecond?: number;
  odooMaxConcurrency?: number;
  /** lane concurrency per process (default: the engine's defaults) */
  concurrency?: { critical?: number; standard?: number };
  log?: (line: string) => void;
}

export interface EngineNode {
  nodeId: string;
  child: ChildProcess;
  httpUrl: string;
  mllpPort: number;
  /** the last 20 kB of the process's output */
  tail(): string;
  alive(): boolean;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** The 850 interchanges the supplier simulator answered 2xx, as they went through the tally in front of it. */
export interface X12Tally {
  url: string;
  /** PO number → distinct ISA13 of accepted interchanges carrying it */
  interchangesByPo: Map<string, Set<number>>;
  /** POSTs accepted, re-sends of one interchange included (X12.5: the partner recognises them by ISA13) */
  accepted: number;
  close(): Promise<void>;
}

export interface SendOutcome {
  /** demand keys whose SIU was acknowledged AA */
  keys: string[];
  /** messages sent again to another process after a connection failed before its ACK */
  resent: number;
  firstSentAt: number;
  lastAckAt: number;
}

export interface ScenarioFacts {
  label: string;
  /** demands acknowledged by an engine */
  messages: number;
  /** SIU rows stored (one per control id; a re-send after a lost ACK is answered as a duplicate, not stored twice) */
  stored: number;
  processed: number;
  /** demands with exactly one reservation transfer in Odoo */
  reservations: number;
  /** transfers beyond the first for one demand */
  duplicatePickings: number;
  demandsWithoutPicking: number;
  /** shortfall requests recorded, and ordered */
  requests: number;
  requestsOrdered: number;
  /** purchase orders in Odoo for the scenario's windows, and extra ones for one window */
  purchaseOrders: number;
  duplicatePurchaseOrders: number;
  /** short quantity asked for vs ordered in Odoo's purchase order lines */
  shortQuantity: number;
  orderedQuantity: number;
  /** POs with an 850 accepted by the supplier, and extra distinct interchanges for one PO */
  ordersAtSupplier: number;
  duplicate850s: number;
  /** open exceptions raised since the scenario began, by type */
  exceptions: Record<string, number>;
  /** deliveries not finished (pending or running) */
  unfinished: number;
}

export function siuFor(label: string, n: number): string {
  const id = `${label}-${n}`;
  // distinct patient and start per demand: no two are true duplicates (duplicate_order)
  const start = new Date(Date.UTC(2027, 0, 1, 7) + n * 15 * 60_000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return [
    `MSH|^~\\&|SCHED|NORTH|CARELANE|NET|20261124080000||SIU^S12^SIU_S12|M-${id}|P|2.5.1`,
    `SCH|${id}|F-${id}||||||^Scenario procedure|60|MIN|^^60^${start}^${start}`,
    `PID|1||${700000 + n}-${label}^^^HOSP^MR||SCENARIO^PATIENT||19700101|F`,
    'RGS|1',
    `AIS|1||${PROCEDURE}^Scenario procedure^CPT|${start}|0|MIN|60|MIN`,
    'AIL|1||OR-3^^^NORTH',
  ].join('\r');
}

export const demandKeyOf = (label: string, n: number) => `SCHED^NORTH|F-${label}-${n}`;

export class DemandScenario {
  readonly options: DemandScenarioOptions;
  readonly odoo: OdooSimulator;
  readonly supplier: SupplierSimulator;
  readonly tally: X12Tally;
  readonly database: Database;
  readonly engines: EngineNode[] = [];
  readonly configFile: string;
  readonly products: { stocked: number; short: number };
  private readonly configDir: string;

  private constructor(init: { options: DemandScenarioOptions; odoo: OdooSimulator; supplier: SupplierSimulator; tally: X12Tally; database: Database; configDir: string; configFile: string; products: { stocked: number; short: number } }) {
    this.options = init.options;
    this.odoo = init.odoo;
    this.supplier = init.supplier;
    this.tally = init.tally;
    this.database = init.database;
    this.configDir = init.configDir;
    this.configFile = init.configFile;
    this.products = init.products;
  }

  static async start(options: DemandScenarioOptions): Promise<DemandScenario> {
    const database = connect(options.databaseUrl, 4, 'carelane-scenario');
    await migrate(database.pool);
    const odoo = await startOdooSimulator({ version: 18, databaseUrl: options.odooDatabaseUrl, schema: 'odoo_scenario', reset: true, latencyMs: options.odooLatencyMs ?? 0 });
    const supplier = await startSupplierSimulator({ profile });
    const tally = await startX12Tally(supplier.url);
    const client = await OdooClient.connect({ url: odoo.url, database: odoo.database, login: 'admin', apiKey: ODOO_KEY, transport: 'jsonrpc' });
    const ensured = await new ProductGateway(client).ensure([
      { key: 'scenario:stocked', defaultCode: 'SCN-STOCKED', name: 'Scenario stocked item' },
      { key: 'scenario:short', defaultCode: 'SCN-SHORT', name: 'Scenario item never in stock' },
    ]);
    const products = { stocked: ensured.get('scenario:stocked')!.id, short: ensured.get('scenario:short')!.id };
    await odoo.seedQuant({ productId: products.stocked, locationId: odoo.seeded.stockLocationId, quantity: 10_000_000 });
    const vendors = await new VendorGateway(client).ensure([{ key: 'vendor:medsupply', name: 'MedSupply Inc', ref: 'MEDSUPPLY' }]);
    const vendorId = vendors.get('vendor:medsupply')!.id;
    const templates = await client.read('product.product', [products.stocked, products.short], ['product_tmpl_id']);
    await new VendorGateway(client).ensurePrices(templates.map((row) => ({ key: `price:${row.id}`, vendorId, productTemplateId: (row.product_tmpl_id as [number, string])[0], price: 2.5 })));

    const actor = { actor: 'scenario', source: 'scenario set-up' };
    await applyMappings(database.pool, 'locations', [
      { ehrSystem: 'facility:NORTH', ehrCode: 'OR-3', site: 'north', odooConnection: CONNECTION, storeroomLocationId: odoo.seeded.stockLocationId, destinationLocationId: odoo.seeded.wardLocationId, pickingTypeId: odoo.seeded.internalPickingTypeId },
    ], actor);
    await applyMappings(database.pool, 'items', [
      { ehrSystem: ITEM_SYSTEM, ehrCode: 'STK', odooProductId: products.stocked },
      { ehrSystem: ITEM_SYSTEM, ehrCode: 'SHT', odooProductId: products.short },
    ], actor);
    await applyMappings(database.pool, 'preference-cards', [
      { site: 'north', procedureSystem: 'CPT', procedureCode: PROCEDURE, lines: [{ system: ITEM_SYSTEM, code: 'STK', quantity: STOCKED_PER_DEMAND }, { system: ITEM_SYSTEM, code: 'SHT', quantity: SHORT_PER_DEMAND }] },
    ], actor);
    await applyMappings(database.pool, 'supplier-items', [{ vendorRef: 'MEDSUPPLY', sku: 'MS-SHORT-01', odooProductId: products.short }], actor);

    const configDir = mkdtempSync(path.join(tmpdir(), 'carelane-scenario-'));
    const configFile = path.join(configDir, 'carelane.yaml');
    writeFileSync(configFile, configText(options, odoo, tally.url));
    return new DemandScenario({ options, odoo, supplier, tally, database, configDir, configFile, products });
  }

  private log(line: string): void {
    this.options.log?.(line);
  }

  /** A `carelane start` process on the scenario's database, as test/support/engine-process.ts starts one. */
  async startEngine(nodeId: string): Promise<EngineNode> {
    const child = spawn(process.execPath, ['src/cli/main.ts', '--config', this.configFile, 'start'], {
      env: { ...process.env, DATABASE_URL: this.options.databaseUrl, PORT: '0', CARELANE_NODE_ID: nodeId, CARELANE_ADMIN_TOKEN: ADMIN_TOKEN, ODOO_KEY, PTK: TOKENIZATION_SECRET },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let pending = '';
    let found = false;
    const started = new Promise<{ http: string; mllpPort: number }>((resolve, reject) => {
      // Only whole lines are parsed: a chunk may end mid-line, and the kept tail of the output may start mid-line.
      const onData = (chunk: Buffer) => {
        const text = chunk.toString();
        output = (output + text).slice(-20_000);
        if (found) return;
        pending += text;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        const line = lines.find((l) => l.includes('Carelane started'));
        if (line) {
          found = true;
          pending = '';
          const parsed = JSON.parse(line) as { http: string; mllpPort: number };
          resolve({ http: parsed.http, mllpPort: parsed.mllpPort });
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code, signal) => reject(new Error(`engine ${nodeId} exited (${code ?? signal}) before starting:\n${output.slice(-2000)}`)));
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const { http: httpUrl, mllpPort } = await started.finally(() => clearTimeout(timer));
    const node: EngineNode = {
      nodeId,
      child,
      httpUrl,
      mllpPort,
      tail: () => output,
      alive: () => child.exitCode === null && child.signalCode === null,
      kill: (signal = 'SIGTERM') =>
        new Promise<void>((resolve) => {
          if (!node.alive()) return resolve();
          child.once('exit', () => resolve());
          child.kill(signal);
        }),
    };
    this.engines.push(node);
    this.log(`engine ${nodeId} started (pid ${child.pid}, MLLP ${mllpPort})`);
    return node;
  }

  liveEngines(): EngineNode[] {
    return this.engines.filter((e) => e.alive());
  }

  /**
   * Sends demands [0, count) of `label` over MLLP, `connectionsPerEngine` connections to each live engine, each
   * message waiting for its ACK (the EHR's behaviour). A connection that fails before its ACK (the process
   * died) is replaced by one to another live engine and the message is sent again there, as an EHR's interface
   * engine re-sends an unacknowledged message; the control id is the same, so a stored one is a duplicate.
   * `rate` paces the sends (messages/s over all connections).
   */
  async send(label: string, count: number, options: { rate?: number; connectionsPerEngine?: number; from?: number; resendForSeconds?: number } = {}): Promise<SendOutcome> {
    const from = options.from ?? 0;
    const queue = Array.from({ length: count }, (_, i) => from + i);
    const keys: string[] = [];
    let resent = 0;
    const firstSentAt = Date.now();
    let lastAckAt = firstSentAt;
    let sentCount = 0;
    const perEngine = options.connectionsPerEngine ?? 2;
    const targets = this.liveEngines().flatMap((engine) => Array.from({ length: perEngine }, () => engine));
    let rotation = 0;
    const nextEngine = (avoid?: EngineNode): EngineNode => {
      const live = this.liveEngines().filter((e) => e !== avoid);
      const pool = live.length > 0 ? live : this.liveEngines();
      if (pool.length === 0) throw new Error('no engine process is running to send to');
      return pool[rotation++ % pool.length]!;
    };
    await Promise.all(
      targets.map(async (first) => {
        let engine = first;
        let sender: MllpSender | undefined;
        for (;;) {
          const n = queue.shift();
          if (n === undefined) break;
          if (options.rate) {
            const due = firstSentAt + (sentCount++ * 1000) / options.rate;
            if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
          }
          for (let attempt = 0; ; attempt++) {
            try {
              sender ??= await MllpSender.connect('127.0.0.1', engine.mllpPort);
              // An ACK comes within milliseconds (stored, then answered); a connection to a killed process can stay silent.
              const ack = await sender.send(siuFor(label, n), 5_000);
              if (!ack.includes('MSA|AA')) throw new Error(`demand ${label}-${n} not accepted: ${ack.split('\r').find((s) => s.startsWith('MSA')) ?? ack}`);
              keys.push(demandKeyOf(label, n));
              lastAckAt = Date.now();
              break;
            } catch (error) {
              // A negative ACK (the database is restarting) or a dropped connection: the EHR sends it again.
              if (sender) await Promise.race([sender.close().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 200))]);
              sender = undefined;
              // An EHR's interface engine keeps resending for as long as the outage lasts; give up only well after it.
              if (attempt >= 60 + (options.resendForSeconds ?? 0) * 2) throw new Error(`demand ${label}-${n}: no engine acknowledged it after ${attempt} tries: ${(error as Error).message}`);
              resent++;
              await new Promise((resolve) => setTimeout(resolve, 500));
              engine = nextEngine(engine.alive() ? undefined : engine);
            }
          }
        }
        if (sender) await Promise.race([sender.close().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 200))]);
      }),
    );
    return { keys, resent, firstSentAt, lastAckAt };
  }

  /**
   * Resolves when the label's demands are all reserved, their shortfalls ordered, the orders' 850s accepted by the
   * supplier and no delivery is left pending or running; returns when that was (ms since the epoch).
   */
  async waitSettled(label: string, count: number, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      const progress = await this.progress(label);
      const state = JSON.stringify(progress);
      if (state !== last) {
        this.log(`${label}: ${state}`);
        last = state;
      }
      const done = progress.demands >= count && progress.requestsOrdered >= count && progress.unsentOrders === 0 && progress.unfinished === 0;
      if (done) {
        const missing = (await this.orderNames(label)).filter((name) => !this.tally.interchangesByPo.has(name));
        if (missing.length === 0) return Date.now();
      }
      if (Date.now() > deadline) throw new Error(`${label}: not settled within ${timeoutMs} ms: ${state}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  private async progress(label: string) {
    const { rows } = await this.database.pool.query<{ demands: number; requests_ordered: number; unsent_orders: number; unfinished: number; exceptions: number }>(
      `select
         (select count(*)::int from carelane.demands where demand_key like $1 and status in ('reserved', 'partial')) as demands,
         (select count(*)::int from carelane.replenishment_requests where request_key like $2 and status = 'ordered') as requests_ordered,
         (select count(*)::int from carelane.purchase_orders po where po.sent_at is null and exists (
            select 1 from carelane.replenishment_requests r where r.batch_key = po.po_key and r.request_key like $2)) as unsent_orders,
         (select count(*)::int from carelane.deliveries where status in ('pending', 'running')) as unfinished,
         (select count(*)::int from carelane.exceptions where status = 'open') as exceptions`,
      [`SCHED^NORTH|F-${label}-%`, `shortfall:reservation:SCHED^NORTH|F-${label}-%`],
    );
    const row = rows[0]!;
    return { demands: row.demands, requestsOrdered: row.requests_ordered, unsentOrders: row.unsent_orders, unfinished: row.unfinished, exceptions: row.exceptions };
  }

  private async orderNames(label: string): Promise<string[]> {
    const { rows } = await this.database.pool.query<{ name: string }>(
      `select distinct po.name from carelane.purchase_orders po join carelane.replenishment_requests r on r.batch_key = po.po_key where r.request_key like $1 and po.name is not null`,
      [`shortfall:reservation:SCHED^NORTH|F-${label}-%`],
    );
    return rows.map((r) => r.name);
  }

  /** The facts of one label, read at the simulators and in the database. `since`: exceptions opened after it. */
  async facts(label: string, sent: SendOutcome, since: Date): Promise<ScenarioFacts> {
    const { pool } = this.database;
    const prefix = `reservation:SCHED^NORTH|F-${label}-`;
    const pickings = (await this.odoo.records('stock.picking', ['origin'])).filter((p) => String(p.origin).startsWith(prefix));
    const perDemand = new Map<string, number>();
    for (const picking of pickings) {
      // origin = reservation:<demand key>:r<revision>
      const key = String(picking.origin).slice('reservation:'.length).replace(/:r\d+$/, '');
      perDemand.set(key, (perDemand.get(key) ?? 0) + 1);
    }
    const messages = await pool.query<{ stored: number; processed: number }>(
      `select count(*)::int as stored, count(*) filter (where status = 'processed')::int as processed from carelane.messages where source = 'mllp' and external_id like $1`,
      [`M-${label}-%`],
    );
    const requests = await pool.query<{ request_key: string; quantity: string; status: string; batch_key: string }>(
      `select request_key, quantity, status, batch_key from carelane.replenishment_requests where request_key like $1`,
      [`shortfall:${prefix}%`],
    );
    const batchKeys = new Set(requests.rows.map((r) => r.batch_key));
    const orders = (await this.odoo.records('purchase.order', ['origin', 'name', 'order_line'])).filter((o) => batchKeys.has(String(o.origin)));
    const perWindow = new Map<string, number>();
    for (const order of orders) perWindow.set(String(order.origin), (perWindow.get(String(order.origin)) ?? 0) + 1);
    const orderIds = new Set(orders.map((o) => o.id as number));
    const lines = (await this.odoo.records('purchase.order.line', ['order_id', 'product_id', 'product_qty'])).filter((l) => orderIds.has((l.order_id as [number, string])[0]));
    // Other labels' requests may share a window with this one's: the ordered quantity is compared per window.
    const windowRequests = await pool.query<{ quantity: string }>(`select quantity from carelane.replenishment_requests where batch_key = any($1)`, [[...batchKeys]]);
    const exceptions = await pool.query<{ type: string; n: number }>(`select type, count(*)::int as n from carelane.exceptions where status = 'open' and created_at >= $1 group by type`, [since]);
    const unfinished = await pool.query<{ n: number }>(`select count(*)::int as n from carelane.deliveries where status in ('pending', 'running')`);
    const names = orders.map((o) => String(o.name));
    return {
      label,
      messages: sent.keys.length,
      stored: messages.rows[0]!.stored,
      processed: messages.rows[0]!.processed,
      reservations: sent.keys.filter((key) => perDemand.get(key) === 1).length,
      duplicatePickings: [...perDemand.values()].reduce((sum, n) => sum + Math.max(0, n - 1), 0),
      demandsWithoutPicking: sent.keys.filter((key) => !perDemand.has(key)).length,
      requests: requests.rows.length,
      requestsOrdered: requests.rows.filter((r) => r.status === 'ordered').length,
      purchaseOrders: perWindow.size,
      duplicatePurchaseOrders: [...perWindow.values()].reduce((sum, n) => sum + Math.max(0, n - 1), 0),
      shortQuantity: windowRequests.rows.reduce((sum, r) => sum + Number(r.quantity), 0),
      orderedQuantity: lines.filter((l) => (l.product_id as [number, string])[0] === this.products.short).reduce((sum, l) => sum + Number(l.product_qty), 0),
      ordersAtSupplier: names.filter((name) => this.tally.interchangesByPo.has(name)).length,
      duplicate850s: names.reduce((sum, name) => sum + Math.max(0, (this.tally.interchangesByPo.get(name)?.size ?? 0) - 1), 0),
      exceptions: Object.fromEntries(exceptions.rows.map((r) => [r.type, r.n])),
      unfinished: unfinished.rows[0]!.n,
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.engines.map((engine) => engine.kill('SIGTERM')));
    await this.tally.close().catch(() => {});
    await this.supplier.close().catch(() => {});
    await this.odoo.close().catch(() => {});
    await this.database.close().catch(() => {});
    rmSync(this.configDir, { recursive: true, force: true });
  }
}

/** Facts that must hold whatever the fault: messages in = effects out, nothing twice. Returns what is wrong. */
export function violations(facts: ScenarioFacts, expectedExceptions: readonly string[] = []): string[] {
  const wrong: string[] = [];
  if (facts.processed !== facts.messages || facts.stored !== facts.messages) wrong.push(`${facts.messages} demands acknowledged, ${facts.stored} stored, ${facts.processed} processed`);
  if (facts.reservations !== facts.messages) wrong.push(`${facts.reservations} of ${facts.messages} demands have exactly one transfer (${facts.demandsWithoutPicking} none)`);
  if (facts.duplicatePickings > 0) wrong.push(`${facts.duplicatePickings} duplicate transfers`);
  if (facts.requests !== facts.messages || facts.requestsOrdered !== facts.requests) wrong.push(`${facts.requests} shortfall requests (${facts.requestsOrdered} ordered) for ${facts.messages} demands`);
  if (facts.duplicatePurchaseOrders > 0) wrong.push(`${facts.duplicatePurchaseOrders} duplicate purchase orders for one window`);
  if (facts.orderedQuantity !== facts.shortQuantity) wrong.push(`ordered ${facts.orderedQuantity} of ${facts.shortQuantity} short`);
  if (facts.ordersAtSupplier !== facts.purchaseOrders) wrong.push(`${facts.ordersAtSupplier} of ${facts.purchaseOrders} purchase orders reached the supplier`);
  if (facts.duplicate850s > 0) wrong.push(`${facts.duplicate850s} duplicate 850s`);
  const unexplained = Object.entries(facts.exceptions).filter(([type]) => !expectedExceptions.includes(type));
  if (unexplained.length > 0) wrong.push(`unexplained exceptions: ${unexplained.map(([type, n]) => `${type} ×${n}`).join(', ')}`);
  if (facts.unfinished > 0) wrong.push(`${facts.unfinished} deliveries unfinished`);
  return wrong;
}

function configText(options: DemandScenarioOptions, odoo: OdooSimulator, supplierUrl: string): string {
  const concurrency = options.concurrency ?? {};
  const lane = (name: 'critical' | 'standard') => (concurrency[name] ? `    ${name}: { concurrency: ${concurrency[name]} }\n` : '');
  const lanes = lane('critical') + lane('standard');
  const mode = options.natsUrl ? 'event-driven' : 'orchestrated';
  return `
server: { port: 0 }
mllp: { port: 0 }
logging: { level: info }
engine:
  leaseMs: ${options.leaseMs ?? 3000}
  reaperIntervalMs: 500
  pollIntervalMs: 200
${lanes ? `  lanes:\n${lanes}` : ''}
odoo:
  connections:
    ${CONNECTION}: { url: "${odoo.url}", database: ${odoo.database}, login: admin, apiKey: "\${env:ODOO_KEY}", transport: jsonrpc, version: 18, timeoutMs: ${options.odooTimeoutMs ?? 5000}${options.odooRatePerSecond ? `, ratePerSecond: ${options.odooRatePerSecond}` : ''}${options.odooMaxConcurrency ? `, maxConcurrency: ${options.odooMaxConcurrency}` : ''} }
endpoints:
  ${CONNECTION}: { timeoutMs: 30000, retry: { maxAttempts: 200, baseDelayMs: 100, maxDelayMs: 1000 }, circuit: { failureThreshold: 3, openMs: 500, maxOpenMs: 2000, drainRatePerSecond: 200 } }
  x12.medsupply: { timeoutMs: 30000, retry: { maxAttempts: 200, baseDelayMs: 100, maxDelayMs: 1000 }, circuit: { failureThreshold: 3, openMs: 500, maxOpenMs: 2000, drainRatePerSecond: 200 } }
x12:
  http: { port: 0 }
  partners:
    - ${JSON.stringify({ ...profile, endpoint: `${supplierUrl}/x12` })}
suppliers:
  - { vendorRef: MEDSUPPLY, channel: x12, partner: medsupply }
flows:
  demand: { mode: ${mode} }
  replenishment: { mode: ${mode}, groupWindowSeconds: ${options.groupWindowSeconds ?? 2} }
${options.natsUrl ? `events: { broker: nats, url: "${options.natsUrl}", namespace: scenario }\n` : ''}governance:
  tokenization:
    keys: [{ id: k1, secret: "\${env:PTK}" }]
    activeKeyId: k1
routes:
  - { source: mllp, type: "SIU^*", lane: critical, flow: demand }
  - { lane: standard, flow: noop }
`;
}

/**
 * A pass-through in front of the supplier simulator that notes, per PO number (BEG03), the ISA13 of every 850
 * interchange the supplier answered 2xx: one PO sent twice under two control numbers would be two orders at a
 * real distributor; the same interchange sent again is recognised by its ISA13 (X12.5) and is not.
 */
export async function startX12Tally(target: string): Promise<X12Tally> {
  const interchangesByPo = new Map<string, Set<number>>();
  const tally: X12Tally = { url: '', interchangesByPo, accepted: 0, close: async () => {} };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const upstream = http.request(`${target}${req.url ?? '/'}`, { method: req.method, headers: { ...req.headers, host: new URL(target).host } }, (answer) => {
        const parts: Buffer[] = [];
        answer.on('data', (c: Buffer) => parts.push(c));
        answer.on('end', () => {
          const status = answer.statusCode ?? 502;
          if (status >= 200 && status < 300 && req.method === 'POST') {
            tally.accepted++;
            for (const { isa13, poNumbers } of read850s(body.toString('utf8'))) {
              for (const po of poNumbers) {
                const seen = interchangesByPo.get(po) ?? new Set<number>();
                seen.add(isa13);
                interchangesByPo.set(po, seen);
              }
            }
          }
          res.writeHead(status, answer.headers).end(Buffer.concat(parts));
        });
        answer.on('error', () => res.destroy());
      });
      // The supplier dropped the connection ('down'): so does the tally, as a network path would.
      upstream.on('error', () => res.destroy());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  tally.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  tally.close = () => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return tally;
}

/** ISA13 and BEG03 of each interchange: ISA is fixed-width (element separator at 3, segment terminator at 105). */
function read850s(text: string): Array<{ isa13: number; poNumbers: string[] }> {
  const found: Array<{ isa13: number; poNumbers: string[] }> = [];
  for (let at = text.indexOf('ISA'); at >= 0 && at + 106 <= text.length; at = text.indexOf('ISA', at + 106)) {
    const element = text[at + 3]!;
    const terminator = text[at + 105]!;
    const end = text.indexOf(`IEA${element}`, at);
    const interchange = text.slice(at, end < 0 ? undefined : end);
    const segments = interchange.split(terminator).map((s) => s.trim());
    const isa13 = Number(segments[0]!.split(element)[13]);
    const poNumbers = segments.filter((s) => s.startsWith(`BEG${element}`)).map((s) => s.split(element)[3]!);
    found.push({ isa13, poNumbers });
  }
  return found;
}
