import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type pg from 'pg';
import { openDatabase, startCarelane, type RunningCarelane } from '../../src/app.ts';
import { loadConfig, parseConfigText, type ConfigEnvironment } from '../../src/config/index.ts';
import { OdooClient } from '../../src/connectors/odoo/index.ts';
import type { X12PartnerProfile } from '../../src/connectors/x12/partner-profile.ts';
import { createLogger, type Logger } from '../../src/observability/logger.ts';
import { startEhrSimulator, type EhrSimulator } from '../ehr/index.ts';
import { startOdooSimulator, type OdooSimulator } from '../odoo/index.ts';
import { startSupplierSimulator, type SupplierSimulator } from '../supplier/index.ts';
import { DemoDriver } from './driver.ts';
import { ehrScenario } from './network.ts';
import { seedCostCentres, seedDemoNetwork, type CostCentres } from './seed.ts';

export { DemoDriver } from './driver.ts';
export { seedDemoNetwork } from './seed.ts';
export { PRODUCTS, SITES, ehrScenario } from './network.ts';

const ODOO_CONNECTION = 'odoo-demo';

/**
 * A listener port the simulators must know before Carelane starts (the supplier's callback URL): the given one,
 * or for '0' a free one picked now (tests run several demos side by side).
 */
async function portFrom(value: string | undefined, fallback: number): Promise<number> {
  if (value === undefined || value === '') return fallback;
  if (Number(value) !== 0) return Number(value);
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
const FHIR_SOURCE = 'ehr-clinics';

export interface RunningDemo {
  carelane: RunningCarelane;
  odoo: OdooSimulator;
  supplier: SupplierSimulator;
  hl7Ehr: EhrSimulator;
  fhirEhr: EhrSimulator;
  driver: DemoDriver;
  log: Logger;
  stop(): Promise<void>;
}

interface DemoSecrets {
  fhirChannel: string;
  tokenization: string;
}

/** Secrets of this demo installation, made once and kept beside the embedded database (never in the repo). */
function demoSecrets(dir: string): DemoSecrets {
  const file = path.join(dir, 'demo-secrets.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as DemoSecrets;
  mkdirSync(dir, { recursive: true });
  const secrets = { fhirChannel: `Bearer ${randomBytes(24).toString('base64url')}`, tokenization: randomBytes(32).toString('base64url') };
  writeFileSync(file, JSON.stringify(secrets), { mode: 0o600 });
  chmodSync(file, 0o600);
  return secrets;
}

const medsupply = (endpoint: string): X12PartnerProfile => ({
  id: 'medsupply',
  ours: { qualifier: 'ZZ', id: 'CARELANE', applicationCode: 'CARELANE' },
  theirs: { qualifier: 'ZZ', id: 'MEDSUPPLY', applicationCode: 'MEDSUPPLY' },
  version: '005010',
  transport: 'http',
  endpoint,
  acknowledgment: { kind: '999', withinMinutes: 5 },
  usage: 'T',
});

/** The demo profile's configuration: the simulators as peers, the demand flows routed, and short windows. */
function demoConfigText(odoo: OdooSimulator, supplier: SupplierSimulator, x12Port: number, fhirPort: number, costCentres: CostCentres): string {
  return `
profile: demo
odoo:
  connections:
    # the simulator is local: more than the defaults meant to spare a production Odoo's workers
    ${ODOO_CONNECTION}: { url: "${odoo.url}", database: ${odoo.database}, login: admin, apiKey: "\${env:CARELANE_DEMO_ODOO_KEY}", ratePerSecond: 100, maxConcurrency: 8 }
x12:
  http: { port: ${x12Port} }
  partners:
    - ${JSON.stringify(medsupply(`${supplier.url}/x12`))}
suppliers:
  - { vendorRef: MEDSUPPLY, channel: x12, partner: medsupply }
fhir:
  listener: { port: ${fhirPort} }
  sources: [{ id: ${FHIR_SOURCE}, secret: "\${env:CARELANE_DEMO_FHIR_SECRET}" }]
flows:
  replenishment: { groupWindowSeconds: 15 }
  costAllocation:
    cutoffCron: "5 0 * * *"
    expenseAccountId: ${odoo.seeded.expenseAccountId}
    counterpartAccountId: ${odoo.seeded.stockValuationAccountId}
    serviceLines: ${JSON.stringify(Object.fromEntries(costCentres.serviceLines))}
governance:
  tokenization:
    keys: [{ id: demo, secret: "\${env:CARELANE_DEMO_TOKENIZATION_SECRET}" }]
    activeKeyId: demo
routes:
  - { source: mllp, type: "SIU^*", lane: critical, flow: demand }
  - { source: mllp, type: "ORM^*", lane: critical, flow: demand }
  - { source: mllp, type: "DFT^*", lane: standard, flow: demand }
  - { source: "fhir:*", type: "FHIR_notification_event-notification", lane: critical, flow: demand }
  - { source: "fhir:*", type: "FHIR_SupplyRequest", lane: critical, flow: demand }
  - { source: "fhir:*", type: "FHIR_Appointment", lane: critical, flow: demand }
  - { source: "x12:*", type: X12_855, lane: standard, flow: supplier_ack }
  - { source: "x12:*", type: X12_856, lane: standard, flow: ship_notice }
  - { lane: standard, flow: noop }
`;
}

/** Stops what was started, last first; a step that fails is reported and the others still run. */
function stopper(log: Logger): { stops: Array<() => Promise<void>>; stop: () => Promise<void> } {
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const step of stops.splice(0).reverse()) await step().catch((error: unknown) => log.warn({ err: (error as Error).message }, 'demo: error while stopping'));
  };
  return { stops, stop };
}

/** The demo's peers beside Carelane: Odoo and the supplier, the cost centres seeded, and Carelane's configuration for them. */
export interface DemoPeers {
  odoo: OdooSimulator;
  supplier: SupplierSimulator;
  client: OdooClient;
  costCentres: CostCentres;
  /** Carelane's configuration for these peers; secrets are `${env:…}` references to `configEnv` */
  configText: string;
  configEnv: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * Starts the Odoo simulator on `databaseUrl` (schema odoo_demo) and the supplier simulator, and seeds the cost
 * centres. The X12 and FHIR listener ports are Carelane's, chosen now: the supplier must know its callback URL.
 */
export async function startDemoPeers(env: ConfigEnvironment, databaseUrl: string, secretsDir: string, log: Logger): Promise<DemoPeers> {
  const { stops, stop } = stopper(log);
  try {
    const odoo = await startOdooSimulator({ version: 18, databaseUrl, schema: 'odoo_demo' });
    stops.push(() => odoo.close());
    const x12Port = await portFrom(env.CARELANE_DEMO_X12_PORT, 4080);
    const fhirPort = await portFrom(env.CARELANE_DEMO_FHIR_PORT, 8090);
    const supplier = await startSupplierSimulator({
      profile: medsupply('unused'),
      callbackUrl: `http://127.0.0.1:${x12Port}/x12/medsupply`,
      delays: { ackMs: 3_000, shipMs: 20_000, invoiceMs: 40_000 },
      // The demo's database outlives the simulator: a restart starts its control numbers above the last run's
      // (seconds since late 2023: 9 digits last until 2055; the demo sends far less than one per second).
      firstControlNumber: Math.floor(Date.now() / 1000) - 1_700_000_000,
    });
    stops.push(() => supplier.close());
    const secrets = demoSecrets(secretsDir);
    const client = await OdooClient.connect({ url: odoo.url, database: odoo.database, login: 'admin', apiKey: 'sim-admin-api-key' });
    const costCentres = await seedCostCentres(client);
    return {
      odoo,
      supplier,
      client,
      costCentres,
      configText: demoConfigText(odoo, supplier, x12Port, fhirPort, costCentres),
      configEnv: {
        CARELANE_DEMO_ODOO_KEY: 'sim-admin-api-key',
        CARELANE_DEMO_FHIR_SECRET: secrets.fhirChannel,
        CARELANE_DEMO_TOKENIZATION_SECRET: secrets.tokenization,
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Where the demo's clinics reach Carelane, and its database (the crosswalks are seeded there). */
export interface DemoTarget {
  pool: pg.Pool;
  mllpPort: number;
  fhirUrl: string;
}

/** The demo's clinical side: the network seeded, the HL7 v2 and FHIR EHR simulators, and the driver. */
export interface DemoClinics {
  hl7Ehr: EhrSimulator;
  fhirEhr: EhrSimulator;
  driver: DemoDriver;
  stop(): Promise<void>;
}

/** Seeds the three-site network and starts the EHRs sending to a running Carelane; the driver starts unless CARELANE_DEMO_DRIVER=off. */
export async function startDemoClinics(peers: DemoPeers, target: DemoTarget, env: ConfigEnvironment, log: Logger): Promise<DemoClinics> {
  const { stops, stop } = stopper(log);
  try {
    await seedDemoNetwork(peers.client, peers.odoo, target.pool, ODOO_CONNECTION, peers.costCentres);
    const hl7Ehr = await startEhrSimulator({ scenario: ehrScenario('hl7'), hl7: { host: '127.0.0.1', port: target.mllpPort } });
    stops.push(() => hl7Ehr.close());
    const fhirEhr = await startEhrSimulator({
      scenario: ehrScenario('fhir'),
      subscriptions: [{ id: 'carelane-demand', endpoint: `${target.fhirUrl}/fhir/notify/${FHIR_SOURCE}`, headers: { authorization: peers.configEnv.CARELANE_DEMO_FHIR_SECRET! }, resourceTypes: ['Appointment', 'SupplyRequest', 'Procedure'], heartbeatMs: 60_000 }],
    });
    stops.push(() => fhirEhr.close());
    const driver = new DemoDriver({ hl7Ehr, fhirEhr, intervalMs: Number(env.CARELANE_DEMO_INTERVAL_MS ?? 3000), onError: (error) => log.warn({ err: (error as Error).message }, 'demo driver: step failed') });
    if (env.CARELANE_DEMO_DRIVER !== 'off') driver.start();
    stops.push(() => driver.stop());
    return { hl7Ehr, fhirEhr, driver, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * `carelane start` without a config file: the embedded PostgreSQL, the Odoo, supplier and EHR simulators on
 * it and beside it, Carelane wired to them, the three-site network seeded, and a driver that keeps clinical
 * events coming, so reservations, shortfalls, purchase orders, 850s and exceptions appear within a minute.
 * CARELANE_DEMO_DRIVER=off starts everything but the driver; CARELANE_DEMO_INTERVAL_MS sets its pace.
 */
export async function startDemo(env: ConfigEnvironment = process.env): Promise<RunningDemo> {
  const base = loadConfig(undefined, env);
  const log = createLogger(base.config.logging.level);
  const opened = await openDatabase(base, log);
  const { stops, stop } = stopper(log);
  let carelaneOwnsDatabase = false;
  try {
    const peers = await startDemoPeers(env, opened.database.url, path.dirname(path.resolve(base.config.database.dataDir)), log);
    stops.push(() => peers.stop());
    const config = parseConfigText(peers.configText, { ...env, DATABASE_URL: opened.database.url, ...peers.configEnv });
    const carelane = await startCarelane({ config, origin: 'demo profile' }, { log, opened });
    // Carelane closes the database and the embedded server: it stops last.
    stops.unshift(() => carelane.stop());
    carelaneOwnsDatabase = true;

    const clinics = await startDemoClinics(peers, { pool: carelane.database.pool, mllpPort: carelane.mllpPort!, fhirUrl: carelane.fhirUrl! }, env, log);
    stops.push(() => clinics.stop());
    const { odoo, supplier } = peers;
    const { hl7Ehr, fhirEhr, driver } = clinics;
    log.info(
      { odoo: odoo.url, supplier: supplier.url, ehrFhir: fhirEhr.fhirBaseUrl, console: carelane.httpUrl },
      'demo: three-site network running (North: HL7 v2 over MLLP; Lakeside and Eastside: FHIR subscriptions; Odoo, MedSupply X12 simulators)',
    );
    return { carelane, odoo, supplier, hl7Ehr, fhirEhr, driver, log, stop };
  } catch (error) {
    await stop();
    if (!carelaneOwnsDatabase) {
      await opened.database.close().catch(() => {});
      await opened.embedded?.stop().catch(() => {});
    }
    throw error;
  }
}
