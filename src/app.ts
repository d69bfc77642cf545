import http from 'node:http';
import type pg from 'pg';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { redactedConfig, type LoadedConfig } from './config/index.ts';
import type { CarelaneConfig, FhirSettings } from './config/schema.ts';
import type { InboundSink } from './contracts/inbound.ts';
import { readTlsFiles } from './config/tls.ts';
import { buildApi } from './api/server.ts';
import { Engine, findRoute, HandlerRegistry, Ingest, routeStep } from './engine/index.ts';
import { Scheduler, housekeepingJob, retentionJob } from './engine/scheduler.ts';
import { webhookPostHandler } from './connectors/webhook/index.ts';
import { odooConnections, odooHandlers } from './connectors/odoo/index.ts';
import { folderWatchOptions, raiseSupplierDelays, startX12FolderWatcher, startX12HttpListener, x12ReceiveOptions, x12Send850Handler } from './connectors/x12/index.ts';
import { startSupplierRestListener, supplierRestSendPoHandler } from './connectors/supplier-rest/index.ts';
import { startX12SftpPoller } from './connectors/x12/sftp-transport.ts';
import { OwnershipRules } from './governance/ownership.ts';
import { businessFlows, flows, raiseAcknowledgmentDelays, releaseApprovedOrders, reconcilePartialReservations, requestReorders } from './flows/index.ts';
import { PgMasterDataLookup } from './flows/master-data/crosswalks.ts';
import { masterDataSyncHandler, requestSync, syncPlanFrom } from './flows/master-data/index.ts';
import { CANONICAL_CONTRACTS, CANONICAL_EVENT_CONTRACTS, seedCanonicalContracts } from './contracts/canonical/index.ts';
import { PatientTokenizer, seedAdminToken, SlaMonitor, slaCheckJob } from './governance/index.ts';
import { recordConfiguration } from './governance/config-audit.ts';
import { createLogger, type Logger } from './observability/logger.ts';
import { Metrics } from './observability/metrics.ts';
import { circuitStates, openExceptionCounts, queueDepth } from './store/browse.ts';
import { connect, type Database } from './store/database.ts';
import { countPendingOnLane } from './store/messages.ts';
import { recordStage } from './store/queue.ts';
import { startEmbeddedPostgres, takeOverShutdownSignals, type EmbeddedServer } from './store/embedded.ts';
import { migrate } from './store/migrate.ts';
import { payloadValidators } from './connectors/validators.ts';
import { fhirHandlers, fhirServers, pollCursorLags, startFhirPolling, TASK_IDENTIFIER_SYSTEM } from './connectors/fhir/index.ts';
import { hl7ApplicationAcks, hl7SendHandler, type Hl7DestinationSettings } from './connectors/hl7v2/index.ts';
import { readFileSync } from 'node:fs';
import { cachedKpis, computeKpis, raiseMilestoneAlerts, registerKpiGauges } from './observability/kpis.ts';
import { kpiSnapshotJob } from './observability/kpi-history.ts';
import { closeCostPeriods, siteOnHand, stockReconciliationJob } from './flows/finance/index.ts';

export interface RunningCarelane {
  httpUrl: string;
  mllpPort: number | undefined;
  /** base URL of the X12 listener (POST /x12/<partner>), when partners are configured */
  x12Url: string | undefined;
  /** base URL of the FHIR listener (POST /fhir/notify/<source>, /fhir/<source>/<Type>), when sources are configured */
  fhirUrl: string | undefined;
  database: Database;
  engine: Engine;
  /** the HTTP app (tests list its routes) */
  api: FastifyInstance;
  /** absent when governance.tokenization has no keys */
  tokenizer: PatientTokenizer | undefined;
  log: Logger;
  stop(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  /** where to show a newly generated admin token (once); default stdout */
  announce?: (line: string) => void;
  /** a database already opened with openDatabase (the demo starts its simulators on it first); stop() closes it */
  opened?: { database: Database; embedded: EmbeddedServer | undefined };
}

/** Opens the configured database, or starts the embedded one, and brings its schema up to date. */
export async function openDatabase(loaded: LoadedConfig, log: Logger): Promise<{ database: Database; embedded: EmbeddedServer | undefined }> {
  const { config } = loaded;
  let embedded: EmbeddedServer | undefined;
  let url = config.database.url;
  if (!url) {
    embedded = await startEmbeddedPostgres(config.database.dataDir, (line) => log.debug({ component: 'postgres' }, line));
    url = embedded.url;
  }
  const lanesConcurrency = Object.values(config.engine.lanes).reduce((sum, lane) => sum + lane.concurrency, 0);
  const database = connect(url, config.database.poolSize || Math.min(50, lanesConcurrency + 8));
  try {
    await migrate(database.pool);
  } catch (error) {
    await database.close();
    await embedded?.stop();
    throw error;
  }
  return { database, embedded };
}

/**
 * The composition root: builds every layer from the validated config and starts them in order
 * (database, engine, scheduler, HTTP, MLLP); stop() takes them down in reverse.
 */
export async function startCarelane(loaded: LoadedConfig, options: StartOptions = {}): Promise<RunningCarelane> {
  const { config } = loaded;
  const log = options.log ?? createLogger(config.logging.level);
  const { database, embedded } = options.opened ?? (await openDatabase(loaded, log));
  if (embedded) takeOverShutdownSignals();
  const stops: Array<() => Promise<void>> = [async () => database.close(), async () => embedded?.stop()];
  const stop = async () => {
    for (const step of stops.splice(0)) await step().catch((error: unknown) => log.error({ err: (error as Error).message }, 'error while stopping'));
  };
  try {
    const seeded = await seedAdminToken(database.pool, config.auth.adminToken);
    if (seeded.generated) (options.announce ?? ((line) => process.stdout.write(`${line}\n`)))(`Admin API token (shown once, keep it): ${seeded.generated}`);

    const contracts = await seedCanonicalContracts(database.pool, [...CANONICAL_CONTRACTS, ...CANONICAL_EVENT_CONTRACTS]);
    if (contracts.conflicts.length > 0) log.warn({ conflicts: contracts.conflicts }, 'canonical contracts not seeded into the registry');
    const metrics = new Metrics({
      queueDepth: () => queueDepth(database.pool),
      openExceptions: () => openExceptionCounts(database.pool),
      circuits: () => circuitStates(database.pool),
      fhirPollCursorLags: () => pollCursorLags(database.pool, config.fhir.servers),
    });
    // Enhanced-mode application acknowledgments (MSH-16), enqueued as hl7v2.send when a message settles: in the
    // engine, at the front door for a message no route takes, and when an operator closes a message's exception.
    const { returnAddresses, destinations: hl7DestinationNames } = config.hl7v2;
    returnAddresses.forEach((address, index) => {
      if (!hl7DestinationNames[address.destination]) throw new Error(`hl7v2.returnAddresses.${index}.destination: "${address.destination}" is not among hl7v2.destinations (defined: ${Object.keys(hl7DestinationNames).join(', ') || 'none'})`);
    });
    const onSettled = hl7ApplicationAcks({ returnAddresses });
    const unroutedLane = unroutedLaneOf(config);
    const ingest = new Ingest(database.pool, config.routes, metrics, { onSettled, unroutedLane });
    const registry = new HandlerRegistry();
    for (const flow of flows) registry.register(flow);
    registry.register(webhookPostHandler(config));
    const clientFor = odooConnections(config.odoo.connections, metrics.registry);
    for (const handler of odooHandlers(clientFor)) registry.register(handler);
    const { keys, activeKeyId } = config.governance.tokenization;
    const tokenizer = keys.length > 0 && activeKeyId ? new PatientTokenizer(keys, activeKeyId) : undefined;
    const lookup = new PgMasterDataLookup(database.pool);
    const ownership = new OwnershipRules({ domains: config.masterData.owners, fields: config.masterData.fieldOwners });
    for (const handler of businessFlows({ lookup, tokenizer, clientFor, flows: config.flows, suppliers: config.suppliers, ownership })) registry.register(handler);
    const masterDataSync = syncPlanFrom(config);
    if (masterDataSync) registry.register(masterDataSyncHandler(clientFor, masterDataSync.settings));
    registry.register(x12Send850Handler(config.x12.partners));
    registry.register(supplierRestSendPoHandler(config.supplierRest.profiles));
    // EHR write-back: FHIR status / Task (fhir.servers) and HL7 v2 over MLLP (hl7v2.destinations).
    const fhirServerSettings = config.fhir.servers;
    const fhirClientFor = fhirServers(fhirServerSettings);
    for (const handler of fhirHandlers(fhirClientFor, { taskIdentifierSystem: (endpoint) => fhirServerSettings[endpoint]?.taskIdentifierSystem ?? TASK_IDENTIFIER_SYSTEM })) registry.register(handler);
    const hl7Send = hl7SendHandler(hl7Destinations(config.hl7v2.destinations));
    registry.register(hl7Send);
    registry.register(routeStep(registry, payloadValidators));
    for (const route of config.routes) {
      const installed = registry.actions().filter((action) => action.startsWith('flow.')).map((action) => action.slice(5));
      if (!registry.get(`flow.${route.flow}`)) throw new Error(`routes: flow "${route.flow}" is not installed (installed: ${installed.join(', ')})`);
    }

    const engine = new Engine({ config, pool: database.pool, databaseUrl: database.url, registry, log, metrics, onSettled });
    // a changed carelane.yaml is a config change in the audit trail (redacted: references, never secrets); the
    // node's own id is who loaded it, not configuration, so nodes of one deployment do not take turns "changing" it
    const shownConfig = redactedConfig(config) as { engine: Record<string, unknown> };
    delete shownConfig.engine.nodeId;
    const configChange = await recordConfiguration(database.pool, shownConfig, { node: engine.nodeId, origin: loaded.origin });
    if (configChange?.previousHash) log.info({ changed: configChange.changed.slice(0, 20), hash: configChange.hash }, 'configuration changed since the last start (audited)');
    await engine.start();
    ingest.setLocalWake((lane) => engine.wakeLane(lane));
    stops.unshift(async () => {
      await ingest.flush();
      await engine.stop();
      await hl7Send.close();
    });

    const scheduler = new Scheduler({ databaseUrl: database.url, pool: database.pool, node: engine.nodeId, log });
    const housekeeping = config.scheduler.jobs.housekeeping;
    if (housekeeping?.enabled !== false) scheduler.add(housekeepingJob(database.pool, housekeeping?.cron ?? '17 * * * *', config.engine.doneRetentionDays));
    const retention = config.scheduler.jobs.retention;
    const retentionOn = config.retention.payloadDays > 0 || config.retention.metadataDays > 0 || config.retention.classes.length > 0;
    if (retentionOn && retention?.enabled !== false) scheduler.add(retentionJob(database.pool, retention?.cron ?? '41 * * * *', config.retention, log));
    const slaCheck = config.scheduler.jobs.slaCheck;
    if (slaCheck?.enabled !== false) {
      scheduler.add(slaCheckJob(new SlaMonitor({ pool: database.pool, owners: config.owners.exceptions, registry: metrics.registry, log }), slaCheck?.cron ?? '* * * * *'));
    }
    if (config.x12.partners.length > 0) {
      // Interchanges whose 997/999 is later than the partner's agreement become supplier_delay exceptions.
      scheduler.add({ name: 'x12-acknowledgment-delays', cron: config.scheduler.jobs.supplierDelays?.cron ?? '*/5 * * * *', run: async () => void (await raiseSupplierDelays(database.pool, config.x12.partners)) });
    }
    if (config.suppliers.length > 0) {
      // Purchase orders sent (X12 or REST) that no acknowledgment answered within the supplier's SLA: supplier_delay.
      scheduler.add({ name: 'purchase-order-acknowledgment-delays', cron: config.scheduler.jobs.supplierDelays?.cron ?? '*/5 * * * *', run: async () => void (await raiseAcknowledgmentDelays(database.pool, config.flows, config.suppliers)) });
    }
    if (Object.keys(config.odoo.connections).length > 0) {
      // Purchase orders held in Odoo for a manager's approval go to the supplier once approved.
      scheduler.add({ name: 'purchase-order-approvals', cron: config.flows.replenishment.approvalCheckCron, run: async () => void (await releaseApprovedOrders(database.pool, clientFor, config.flows, log)) });
      const orderpointsCron = config.flows.replenishment.orderpointsCron;
      if (orderpointsCron) {
        // Reorder rules below minimum in the sites' storerooms become replenishment requests.
        scheduler.add({ name: 'reorder-rules', cron: orderpointsCron, run: async () => void (await requestReorders(database.pool, clientFor, config.flows, log)) });
      }
      if (config.flows.demand.mode === 'hybrid') {
        // Hybrid mode's batch side: partial reservations are tried again (stock may have arrived since).
        scheduler.add({ name: 'reservation-reconciliation', cron: config.flows.demand.reconcileCron, run: async () => void (await reconcilePartialReservations(database.pool, config.flows)) });
      }
    }
    const syncJob = config.scheduler.jobs.masterDataSync;
    if (masterDataSync && syncJob?.enabled !== false) {
      // Master data from its owner (Odoo by default) on the bulk lane; docs/master-data.md.
      const { connection, lane } = masterDataSync;
      scheduler.add({ name: 'master-data-sync', cron: syncJob?.cron ?? '*/15 * * * *', run: async () => void (await requestSync(database.pool, { connection, lane, trigger: 'schedule' })) });
    }
    if (config.events.broker !== 'none') {
      // Published outbox rows are kept a while for audit, then pruned; unpublished ones never are.
      const { prunePublishedEvents } = await import('./connectors/events/index.ts');
      scheduler.add({ name: 'event-outbox-prune', cron: '23 3 * * *', run: async () => void (await prunePublishedEvents(database.pool, new Date(Date.now() - config.events.publishedRetentionDays * 86_400_000))) });
    }
    // Finance and control (docs/finance.md): supplier milestone alerts, stock reconciliation and the cost
    // allocation cutoff on their schedules.
    const { milestones, reconciliation, costAllocation } = config.flows;
    if (costAllocation.cutoffCron) {
      scheduler.add({ name: 'cost-allocation-cutoff', cron: costAllocation.cutoffCron, run: async () => void (await closeCostPeriods(database.pool, config.flows, Object.keys(config.odoo.connections), 'scheduler:cost-allocation-cutoff')) });
    }
    if (milestones.cron) scheduler.add({ name: 'supplier-milestones', cron: milestones.cron, run: async () => void (await raiseMilestoneAlerts(database.pool, milestones)) });
    if (reconciliation.cron && Object.keys(config.odoo.connections).length > 0) {
      scheduler.add(stockReconciliationJob(database.pool, clientFor, config.flows, log, reconciliation.cron));
    }
    const hasOdoo = Object.keys(config.odoo.connections).length > 0;
    const kpis = cachedKpis(() =>
      computeKpis(database.pool, { windowDays: milestones.windowDays, leadTimeDays: 7, ...(hasOdoo ? { onHand: (site: string, ids: number[]) => siteOnHand(database.pool, clientFor, site, ids) } : {}) }),
    );
    // Executive KPIs over time (docs/console.md): per site and for the network, one snapshot a day.
    const kpiSnapshots = config.scheduler.jobs.kpiSnapshots;
    if (kpiSnapshots?.enabled !== false) scheduler.add(kpiSnapshotJob(database.pool, kpis, kpiSnapshots?.cron ?? '7 * * * *'));
    await scheduler.start();
    stops.unshift(() => scheduler.stop());

    const serverTls = config.server.tls ? readTlsFiles('server.tls', config.server.tls) : undefined;
    registerKpiGauges(metrics.registry, kpis);
    const api: FastifyInstance = await buildApi({ config, pool: database.pool, ingest, metrics, tokenizer, engineRunning: () => engine.isRunning, kpis, onSettled, unroutedLane }, log, serverTls);
    const listened = await api.listen({ host: config.server.host, port: config.server.port });
    // fastify names the scheme from its own https option, which a server factory does not set
    const httpUrl = serverTls ? listened.replace(/^http:/, 'https:') : listened;
    stops.unshift(() => api.close());

    let mllpPort: number | undefined;
    if (config.mllp.enabled) {
      const { startMllpListener } = await import('./connectors/hl7v2/index.ts');
      const { tls: mllpTls, ...mllp } = config.mllp;
      const listener = await startMllpListener({
        ...mllp,
        ingest,
        log,
        tls: mllpTls ? readTlsFiles('mllp.tls', mllpTls) : undefined,
        // parse warnings (values marked as truncated, v2.7) on the message's timeline
        recordStage: (messageId, stage, outcome, detail) => recordStage(database.pool, messageId, stage, outcome, detail),
      });
      mllpPort = listener.port;
      stops.unshift(() => listener.close());
    }
    let x12Url: string | undefined;
    // Envelope numbers, the outbound ledger, and the first copy of a re-sent ISA13 (TA1 025 when it differs).
    const x12Receive = x12ReceiveOptions(database.pool);
    if (config.x12.partners.length > 0 && config.x12.http.enabled) {
      const x12 = await startX12HttpListener({
        host: config.x12.http.host,
        port: config.x12.http.port,
        maxBodyBytes: config.x12.http.maxBodyBytes,
        tls: config.x12.http.tls ? readTlsFiles('x12.http.tls', config.x12.http.tls) : undefined,
        profiles: config.x12.partners,
        // production refuses a certificate posting to a partner that declares none (config load already demands
        // one of http partners); demo keeps taking any certificate from the CA, with a warning (docs/x12.md)
        unboundPartners: config.profile === 'production' ? 'refuse' : 'accept',
        log,
        sink: ingest,
        ...x12Receive,
      });
      x12Url = x12.url;
      stops.unshift(() => x12.close());
    }
    for (const partner of config.x12.partners.filter((p) => p.transport === 'sftp')) {
      const poller = startX12SftpPoller({
        partner,
        profiles: config.x12.partners,
        sink: ingest,
        ...x12Receive,
        onError: (error) => log.warn({ partner: partner.id, code: error.code, err: error.message }, 'x12 sftp pickup failed; next poll tries again'),
      });
      stops.unshift(() => poller.stop());
    }
    for (const partner of config.x12.partners.filter((p) => p.transport === 'folder')) {
      const watcher = startX12FolderWatcher({
        partner,
        profiles: config.x12.partners,
        sink: ingest,
        ...x12Receive,
        ...folderWatchOptions(partner),
        onError: (error) => log.warn({ partner: partner.id, code: error.code, err: error.message }, 'x12 folder pickup failed; next poll tries again'),
        // A file left where it is (store down, ack or move failed) is retried by the next poll; say so once per poll.
        onPoll: (outcomes) => outcomes.forEach((o) => o.kind === 'left' && log.warn({ partner: partner.id, file: o.file, code: o.error.code }, 'x12 folder file left for the next poll')),
      });
      stops.unshift(() => watcher.stop());
    }
    if (config.supplierRest.profiles.length > 0 && config.supplierRest.http.enabled) {
      const { host, port } = config.supplierRest.http;
      const rest = await startSupplierRestListener({ host, port, profiles: config.supplierRest.profiles, sink: ingest });
      stops.unshift(() => rest.close());
    }
    if (config.events.broker !== 'none') {
      const events = await startEventBus(config.events, database.pool, ingest, log);
      stops.unshift(() => events.stop());
    }
    let fhirUrl: string | undefined;
    if (config.fhir.sources.length > 0 && config.fhir.listener.enabled) {
      const fhir = await startFhirSources(config.fhir, ingest);
      fhirUrl = fhir.url;
      stops.unshift(() => fhir.close());
    }
    if (Object.values(fhirServerSettings).some((server) => server.poll)) {
      // EHRs without subscriptions: their changes are searched by _lastUpdated on a schedule (docs/ehr.md "Polling").
      const polling = startFhirPolling({ servers: fhirServerSettings, clientFor: fhirClientFor, pool: database.pool, sink: ingest, log, node: engine.nodeId, metrics, backlogFull: (source, type) => laneBacklogFull(config, database.pool, source, type) });
      stops.unshift(() => polling.stop());
    }
    log.info({ http: httpUrl, mllpPort, x12: x12Url, fhir: fhirUrl, origin: loaded.origin, node: engine.nodeId }, 'Carelane started');
    return { httpUrl, mllpPort, x12Url, fhirUrl, database, engine, api, tokenizer, log, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Whether new inbound of this source and type would go to a lane above its backlog limit (as POST /api/v1/inbound refuses it). */
async function laneBacklogFull(config: CarelaneConfig, pool: pg.Pool, source: string, messageType: string): Promise<boolean> {
  const route = findRoute(config.routes, source, messageType);
  const limit = route ? config.engine.lanes[route.lane]?.maxBacklog ?? 0 : 0;
  return route !== undefined && limit > 0 && (await countPendingOnLane(pool, route.lane)) >= limit;
}

/**
 * The lane of what settling a message no route takes enqueues (its HL7 v2 application reject): it was never
 * given one. `standard` where it is configured, else the first configured lane (config requires one).
 */
function unroutedLaneOf(config: CarelaneConfig): string {
  const lanes = Object.keys(config.engine.lanes);
  return lanes.includes('standard') ? 'standard' : lanes[0]!;
}

/** MLLP destinations with their TLS files read now, so a missing file stops start-up naming its key. */
function hl7Destinations(destinations: CarelaneConfig['hl7v2']['destinations']): Record<string, Hl7DestinationSettings> {
  const read = (at: string, file: string | undefined): Buffer | undefined => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (error) {
      throw new Error(`${at}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  };
  return Object.fromEntries(
    Object.entries(destinations).map(([name, { tls, ...settings }]) => {
      const at = `hl7v2.destinations.${name}.tls`;
      const material = tls ? { ca: read(`${at}.ca`, tls.ca), cert: read(`${at}.cert`, tls.cert), key: read(`${at}.key`, tls.key), servername: tls.servername } : undefined;
      return [name, { ...settings, ...(material ? { tls: material } : {}) }];
    }),
  );
}

/**
 * The FHIR listener for the configured sources. Each source has its own secret, so each gets its own request
 * listener (scoped to that source) and one server on the configured interface hands a request to the
 * listener of the source its path names. A path naming no configured source goes to any one of them, which
 * answers 404 with an OperationOutcome as it does for a source it does not serve.
 */
async function startFhirSources(settings: FhirSettings, sink: InboundSink): Promise<{ url: string; close(): Promise<void> }> {
  const { fhirRequestListener } = await import('./connectors/fhir/index.ts');
  const { host, port, maxBodyBytes } = settings.listener;
  if (!host.trim()) throw new Error('fhir.listener.host is empty: the listener binds to one configured interface only');
  const bySource = new Map<string, http.RequestListener>();
  for (const source of settings.sources) {
    const authentication = source.secret === undefined ? ('none' as const) : { header: source.header, values: [source.secret] };
    bySource.set(source.id, fhirRequestListener({ sink, authentication, sources: [source.id], maxBodyBytes }));
  }
  const anyListener = bySource.values().next().value!;
  const server = http.createServer((req, res) => (bySource.get(fhirSourceInPath(req.url)) ?? anyListener)(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${address.address}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** `/fhir/notify/<source>` or `/fhir/<source>/<Type>` (the listener's routes; source ids are lower case, types are not). */
function fhirSourceInPath(url: string | undefined): string {
  const [, root, first = '', second = ''] = new URL(url ?? '/', 'http://x').pathname.split('/');
  if (root !== 'fhir') return '';
  return first === 'notify' && /^[a-z0-9]/.test(second) ? second : first;
}

/**
 * The event bus side of event-driven and hybrid modes: the outbox relay publishing committed events to the
 * broker, and the configured topics consumed into the engine (persist, then ack). Stops consumers first, then
 * the relay, then the connection.
 */
async function startEventBus(settings: CarelaneConfig['events'], pool: pg.Pool, sink: InboundSink, log: Logger): Promise<{ stop(): Promise<void> }> {
  const { NatsEventBus, RabbitMqEventBus, OutboxRelay, consumeIntoEngine } = await import('./connectors/events/index.ts');
  const bus = settings.broker === 'nats' ? await NatsEventBus.connect(settings.url ? { servers: settings.url.split(',') } : {}) : await RabbitMqEventBus.connect(settings.url ? { url: settings.url } : {});
  const relay = new OutboxRelay({ pool, bus, namespace: settings.namespace, onError: (error) => log.warn({ err: (error as Error).message }, 'event relay: publish failed; the events stay in the outbox and are published again') });
  relay.start();
  const subscriptions: Array<{ stop(): Promise<void> }> = [];
  for (const consumer of settings.consume) {
    subscriptions.push(
      await consumeIntoEngine({
        bus,
        topic: consumer.topic,
        group: consumer.group,
        sink,
        ...(consumer.messageType ? { messageType: consumer.messageType } : {}),
        onError: (error) => log.warn({ topic: consumer.topic, err: (error as Error).message }, 'event consumer: storing an event failed; it is retried'),
      }),
    );
  }
  log.info({ broker: settings.broker, consume: settings.consume.map((c) => c.topic) }, 'event bus connected');
  return {
    stop: async () => {
      for (const subscription of subscriptions) await subscription.stop();
      await relay.stop();
      await bus.close();
    },
  };
}
