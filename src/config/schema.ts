import { Type, type Static } from 'typebox';
import { X12PartnerProfileSchema } from '../connectors/x12/partner-profile.ts';
import { SupplierRestProfileSchema } from '../connectors/supplier-rest/profile.ts';
import { FhirPollSchema } from '../connectors/fhir/poll-settings.ts';

// The whole of carelane.yaml. Defaults live here so `config check`, the docs and the running engine agree.
// Secrets are never literal values: see SECRET_KEYS in load.ts.

const Strict = { additionalProperties: false } as const;

export const LaneSchema = Type.Object(
  {
    concurrency: Type.Integer({ minimum: 1, maximum: 512, default: 4, description: 'deliveries run at once on this lane, per process' }),
    priority: Type.Integer({ minimum: 0, maximum: 100, default: 50, description: 'higher lanes are claimed first on every wake-up' }),
    claimBatch: Type.Integer({ minimum: 1, maximum: 500, default: 20, description: 'deliveries claimed per round trip' }),
    prefetch: Type.Integer({ minimum: 0, maximum: 1000, default: 0, description: 'deliveries claimed ahead of free slots, per process (more throughput for short handlers; held work waits on this node)' }),
    maxBacklog: Type.Integer({ minimum: 0, default: 0, description: 'pending deliveries above which new inbound for this lane is refused (0 = no limit)' }),
  },
  Strict,
);

export const RetrySchema = Type.Object(
  {
    maxAttempts: Type.Integer({ minimum: 1, default: 8 }),
    baseDelayMs: Type.Integer({ minimum: 1, default: 1000 }),
    maxDelayMs: Type.Integer({ minimum: 1, default: 300_000 }),
    maxAgeMs: Type.Integer({ minimum: 1, default: 86_400_000, description: 'after this long since creation a failing delivery becomes an exception' }),
  },
  Strict,
);

export const CircuitSchema = Type.Object(
  {
    failureThreshold: Type.Integer({ minimum: 1, default: 5, description: 'consecutive peer-unavailable failures that open the circuit' }),
    openMs: Type.Integer({ minimum: 10, default: 30_000, description: 'first wait before a probe; doubles on each failed probe' }),
    maxOpenMs: Type.Integer({ minimum: 10, default: 600_000 }),
    drainRatePerSecond: Type.Number({ exclusiveMinimum: 0, default: 20, description: 'deliveries/s per process while the endpoint recovers' }),
    drainWindowMs: Type.Integer({ minimum: 0, default: 60_000, description: 'how long after recovery the drain rate applies' }),
  },
  Strict,
);

export const EndpointSchema = Type.Object(
  {
    url: Type.Optional(Type.String({ minLength: 1 })),
    timeoutMs: Type.Integer({ minimum: 1, default: 10_000 }),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    retry: Type.Optional(Type.Partial(RetrySchema)),
    circuit: Type.Optional(Type.Partial(CircuitSchema)),
  },
  Strict,
);

export const RouteSchema = Type.Object(
  {
    source: Type.Optional(Type.String({ description: 'source name, or a prefix ending in *' })),
    type: Type.Optional(Type.String({ description: 'message type such as ADT^A01, or a prefix ending in *' })),
    lane: Type.String({ minLength: 1 }),
    flow: Type.String({ minLength: 1 }),
  },
  Strict,
);

export const JobSchema = Type.Object(
  {
    cron: Type.String({ minLength: 1, description: 'cron pattern, seconds field optional' }),
    enabled: Type.Boolean({ default: true }),
  },
  Strict,
);

export const OidcSchema = Type.Object(
  {
    issuer: Type.String({ minLength: 1, description: "the identity provider's issuer URL (the iss claim)" }),
    audience: Type.String({ minLength: 1, description: 'the aud claim Carelane accepts' }),
    jwksUrl: Type.Optional(Type.String({ minLength: 1, description: "the issuer's JWKS URL; default: jwks_uri from its discovery document" })),
    rolesClaim: Type.String({ minLength: 1, default: 'roles', description: 'claim holding the roles (dotted path for nested claims, e.g. realm_access.roles)' }),
    // the console's sign-in redirect (docs/console.md): authorization code flow with PKCE, as a public client
    clientId: Type.Optional(Type.String({ minLength: 1, description: "the console's client id at the issuer (a public client: no secret); set, the console offers the sign-in redirect" })),
    redirectUri: Type.Optional(Type.String({ pattern: '^https?://', description: "where the issuer sends the browser back, registered with the client; default: the console's own address (<origin>/)" })),
    scopes: Type.Array(Type.String({ pattern: '^[\\x21\\x23-\\x5B\\x5D-\\x7E]+$' }), { default: ['openid', 'profile'], description: 'scopes asked for at sign-in; openid is always sent' }),
  },
  Strict,
);

export const TokenizationKeySchema = Type.Object(
  {
    id: Type.String({ pattern: '^[a-z0-9]{1,16}$', description: 'key id written into every token (lower-case letters and digits)' }),
    secret: Type.String({ minLength: 32, description: 'secret reference; at least 32 characters' }),
  },
  Strict,
);

export const RetentionPeriodsSchema = Type.Object(
  {
    payloadDays: Type.Integer({ minimum: 0, default: 0, description: 'message payloads older than this are erased (0 = kept)' }),
    metadataDays: Type.Integer({ minimum: 0, default: 0, description: 'messages older than this are deleted with their stages and deliveries (0 = kept)' }),
  },
  Strict,
);

export const RetentionClassSchema = Type.Object(
  {
    source: Type.String({ minLength: 1, description: 'source name, or a prefix ending in *' }),
    payloadDays: Type.Optional(Type.Integer({ minimum: 0 })),
    metadataDays: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  Strict,
);

// TLS material as file paths (relative to the config file), read at start-up: a private key never sits in the
// config itself, so `config check` cannot print it.
export const TlsFilesSchema = Type.Object(
  {
    cert: Type.String({ minLength: 1, description: 'PEM certificate chain file' }),
    key: Type.String({ minLength: 1, description: 'PEM private key file' }),
    ca: Type.Optional(Type.String({ minLength: 1, description: 'PEM file of the CAs whose client certificates are accepted' })),
    requestClientCert: Type.Boolean({ default: false, description: 'ask peers for a certificate signed by `ca` (mutual TLS)' }),
  },
  Strict,
);

export const ServerTlsSchema = Type.Object(
  {
    ...TlsFilesSchema.properties,
    clients: Type.Array(
      Type.Object(
        {
          commonName: Type.String({ minLength: 1, description: "the client certificate subject's CN" }),
          name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$', description: 'the system identity it becomes (role system)' }),
        },
        Strict,
      ),
      { default: [], description: 'client certificates (from `ca`) accepted as system identities instead of a bearer token' },
    ),
  },
  Strict,
);

export const SigningKeySchema = Type.Object(
  {
    id: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$', description: 'sent by the caller in X-Carelane-Key-Id' }),
    secret: Type.String({ minLength: 32, description: 'shared HMAC secret as a secret reference; at least 32 characters' }),
    sources: Type.Array(Type.String({ pattern: '^[a-z][a-z0-9_.-]{0,63}$' }), { minItems: 1, description: 'the /api/v1/inbound/:source names this key may deliver to' }),
  },
  Strict,
);

export const OwnersSchema = Type.Object(
  {
    business: Type.String({ minLength: 1, description: 'the business owner (team, role or person)' }),
    technical: Type.String({ minLength: 1, description: 'the technical owner' }),
  },
  Strict,
);

export const ExceptionOwnersSchema = Type.Object(
  {
    ...OwnersSchema.properties,
    slaMinutes: Type.Integer({ minimum: 1, description: 'an open exception older than this is an SLA breach' }),
    runbook: Type.String({ minLength: 1, description: 'where the playbook for this exception type is (URL or doc path)' }),
  },
  Strict,
);

// An Odoo connection (src/connectors/odoo/types.ts OdooConnectionConfig); the API key only as a secret reference.
export const OdooConnectionSchema = Type.Object(
  {
    url: Type.String({ minLength: 1, description: 'base URL, e.g. https://erp.example.org' }),
    database: Type.String({ minLength: 1 }),
    login: Type.String({ minLength: 1, description: 'login of the API user' }),
    apiKey: Type.String({ minLength: 1, description: 'an Odoo API key, as ${env:NAME} or ${file:PATH}' }),
    version: Type.Optional(Type.Union([Type.Literal(16), Type.Literal(17), Type.Literal(18), Type.Literal(19)], { description: 'default: asked from the server' })),
    transport: Type.Optional(Type.Enum(['json2', 'jsonrpc', 'xmlrpc'], { description: 'default: json2 on 19+, jsonrpc before' })),
    timeoutMs: Type.Integer({ minimum: 100, default: 30_000 }),
    maxConcurrency: Type.Integer({ minimum: 1, default: 4 }),
    ratePerSecond: Type.Number({ exclusiveMinimum: 0, default: 20 }),
  },
  Strict,
);

// An EHR allowed to post to the FHIR listener (src/connectors/fhir/listener.ts). The secret is the whole value
// of the header the EHR sends, as its Subscription.channel.header says (e.g. `Authorization: Bearer …`).
export const FhirSourceSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,62}$', description: 'the <source> in POST /fhir/notify/<source> and /fhir/<source>/<Type>; messages are recorded as source fhir:<id>' }),
    secret: Type.Optional(Type.String({ minLength: 1, description: 'secret reference: the exact header value the EHR sends; absent = no authentication (only where the network authenticates the EHR)' })),
    header: Type.String({ minLength: 1, default: 'authorization', description: 'the request header that carries the secret' }),
  },
  Strict,
);

// The business flows of issue 6 (src/flows/demand, src/flows/replenishment) and how they run.
const FlowModeSchema = Type.Enum(['direct', 'orchestrated', 'event-driven', 'hybrid'], {
  default: 'orchestrated',
  description: 'direct: one step, no queue hop (small sites); orchestrated: each effect a delivery on a lane; event-driven: orchestrated + canonical events published through the outbox; hybrid: event-driven + batch reconciliation',
});

// Tolerances of the 3-way match (docs/finance.md): a line is within when its difference is within the percent OR the
// absolute amount (both 0 = exact).
const InvoiceToleranceSchema = Type.Object(
  {
    pricePercent: Type.Number({ minimum: 0, default: 0, description: 'unit price over the PO price, in percent' }),
    priceAbsolute: Type.Number({ minimum: 0, default: 0, description: 'unit price over the PO price, in currency' }),
    quantityPercent: Type.Number({ minimum: 0, default: 0, description: 'invoiced over received quantity, in percent' }),
    quantityAbsolute: Type.Number({ minimum: 0, default: 0, description: 'invoiced over received quantity, in units' }),
  },
  { ...Strict, default: {} },
);

export const FlowsSchema = Type.Object(
  {
    demand: Type.Object(
      {
        mode: FlowModeSchema,
        lane: Type.String({ default: 'critical', description: 'lane of reservations, releases and reschedules' }),
        duplicateWindowMinutes: Type.Integer({ minimum: 0, default: 10, description: 'a demand with a new id but the same content within this window is a duplicate_order' }),
        reconcileCron: Type.String({ default: '*/10 * * * *', description: 'hybrid mode: when partial reservations are tried again' }),
        statusBack: Type.Array(
          Type.Object(
            {
              source: Type.String({ description: 'the inbound source whose demand gets status back: e.g. fhir:ehr-main, mllp, or a prefix ending in *' }),
              fhirServer: Type.Optional(Type.String({ description: 'fhir.servers name: a Task per demand (or the resource status, with as: status)' })),
              as: Type.Enum(['task', 'status'], { default: 'task' }),
              hl7Destination: Type.Optional(Type.String({ description: 'hl7v2.destinations name: ORM^O01 with ORC-1 SC (status changed)' })),
              lane: Type.String({ default: 'standard' }),
            },
            Strict,
          ),
          { default: [], description: 'where reservation outcomes are told back to the EHR' },
        ),
      },
      { ...Strict, default: {} },
    ),
    replenishment: Type.Object(
      {
        mode: FlowModeSchema,
        lane: Type.String({ default: 'standard' }),
        groupWindowSeconds: Type.Integer({ minimum: 0, default: 60, description: 'shortfalls for one site and vendor within this window become one purchase order' }),
        orderpointsCron: Type.Optional(Type.String({ description: 'when reorder rules below minimum are turned into requests; absent = not polled' })),
        approvalCheckCron: Type.String({ default: '* * * * *', description: 'when orders waiting for approval in Odoo are looked at again' }),
      },
      { ...Strict, default: {} },
    ),
    // The supplier cycle up to the receipt (issue 7, src/flows/supplier; docs/flows.md "Supplier cycle").
    supplier: Type.Object(
      {
        lane: Type.String({ default: 'standard', description: 'lane of acknowledgments, ship notices and receipts' }),
        ackWithinMinutes: Type.Integer({ minimum: 1, maximum: 43_200, default: 1440, description: 'a PO sent (X12 or REST) without an acknowledgment (855) after this long is a supplier_delay; suppliers[].ackWithinMinutes overrides it per vendor' }),
        rejections: Type.Enum(['cancel', 'exception'], { default: 'cancel', description: 'rejected PO lines: cancel the rest of the line in Odoo (product_qty down to what was received), or only open a supplier_rejection exception for a buyer' }),
        overReceiptTolerancePercent: Type.Number({ minimum: 0, maximum: 100, default: 0, description: 'a receipt above the open quantity by at most this share is accepted (Odoo records the extra); above it the batch is refused as quantity_variance' }),
        supplyDelivery: Type.Boolean({ default: false, description: 'tell received stock back to the EHR as a FHIR SupplyDelivery for the FHIR demands the PO served (flows.demand.statusBack fhirServer)' }),
      },
      { ...Strict, default: {} },
    ),
    // Finance and control (issue 7, docs/finance.md): 3-way invoice match, cost allocation, reconciliation, milestones.
    invoiceMatch: Type.Object(
      {
        lane: Type.String({ default: 'standard' }),
        tolerance: InvoiceToleranceSchema,
        vendors: Type.Array(Type.Object({ vendorRef: Type.String({ minLength: 1, description: "the vendor's Odoo reference (res.partner.ref)" }), tolerance: InvoiceToleranceSchema }, Strict), {
          default: [],
          description: 'tolerances of single vendors, over the default',
        }),
      },
      { ...Strict, default: {} },
    ),
    costAllocation: Type.Object(
      {
        lane: Type.String({ default: 'bulk' }),
        cutoffCron: Type.Optional(Type.String({ description: 'when the past days are closed and posted to Odoo, e.g. "15 0 * * *"; absent = not scheduled (on demand: carelane costs close, POST /api/v1/cost-allocation/cutoff)' })),
        timeZone: Type.String({ default: 'UTC', minLength: 1, description: 'IANA time zone whose calendar days are the periods, e.g. "Europe/Paris"' }),
        journalId: Type.Optional(Type.Integer({ minimum: 1, description: 'the Odoo journal of the entries (account.journal); default: Odoo picks its miscellaneous journal' })),
        expenseAccountId: Type.Optional(Type.Integer({ minimum: 1, description: 'account.account debited with the cost of supplies used' })),
        counterpartAccountId: Type.Optional(Type.Integer({ minimum: 1, description: 'account.account credited (e.g. stock interim / consumption)' })),
        serviceLines: Type.Record(Type.String(), Type.Integer({ minimum: 1 }), { default: {}, description: 'procedure code → analytic account of the service line (a second analytic plan)' }),
      },
      { ...Strict, default: {} },
    ),
    reconciliation: Type.Object(
      {
        cron: Type.Optional(Type.String({ description: 'when Odoo quants are reconciled against the newest warehouse snapshot of each location; absent = on demand only' })),
        pageSize: Type.Integer({ minimum: 100, maximum: 50_000, default: 5000, description: 'quants per search_read page' }),
        sampleLines: Type.Integer({ minimum: 1, maximum: 1000, default: 50, description: 'differences listed in each stock_mismatch exception (all are in carelane.stock_mismatches)' }),
        tolerance: Type.Number({ minimum: 0, default: 0, description: 'a difference at or below this is not a mismatch' }),
      },
      { ...Strict, default: {} },
    ),
    milestones: Type.Object(
      {
        cron: Type.Optional(Type.String({ description: 'when supplier milestones are computed and thresholds checked; absent = on demand only' })),
        windowDays: Type.Integer({ minimum: 1, default: 30, description: 'the period the figures cover' }),
        ackLatencyMinutes: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'alert when the average 850 → 855 time is above this' })),
        asnLeadHours: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'alert when the average 850 → 856 time is above this' })),
        onTimePercent: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'alert when fewer orders than this arrived by their promised date' })),
        fillRatePercent: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'alert when less of the ordered quantity than this was shipped' })),
      },
      { ...Strict, default: {} },
    ),
  },
  { ...Strict, default: {} },
);

// How purchase orders reach a vendor: by the vendor's Odoo reference (res.partner.ref).
export const SupplierChannelSchema = Type.Object(
  {
    vendorRef: Type.String({ minLength: 1, description: "the vendor's reference in Odoo (res.partner.ref)" }),
    channel: Type.Enum(['x12', 'rest']),
    partner: Type.Optional(Type.String({ description: 'x12: the trading partner id in x12.partners' })),
    endpoint: Type.Optional(Type.String({ description: 'rest: the supplier endpoint name (endpoints.<name>)' })),
    shipTo: Type.Optional(Type.Object({ id: Type.String(), idQualifier: Type.Optional(Type.String()) }, { description: 'N1*ST identification, e.g. the site GLN with qualifier UL' })),
    ackWithinMinutes: Type.Optional(Type.Integer({ minimum: 1, maximum: 43_200, description: "this vendor's acknowledgment (855) SLA; default flows.supplier.ackWithinMinutes" })),
  },
  Strict,
);

// A FHIR server Carelane writes status back to (src/connectors/fhir/servers.ts) and, with `poll`, reads changes from
// (src/connectors/fhir/poller.ts); credentials only as secret references.
export const FhirServerSchema = Type.Object(
  {
    url: Type.String({ minLength: 1, description: "the EHR's FHIR service base URL, e.g. https://ehr.example.org/fhir/R4" }),
    auth: Type.Optional(
      Type.Union([
        Type.Object({ type: Type.Literal('bearer'), token: Type.String({ minLength: 1, description: 'a static bearer token, as ${env:NAME} or ${file:PATH}' }) }, Strict),
        Type.Object(
          {
            type: Type.Literal('smart'),
            tokenUrl: Type.String({ minLength: 1, description: "the EHR's token endpoint (.well-known/smart-configuration token_endpoint)" }),
            clientId: Type.String({ minLength: 1 }),
            keyId: Type.String({ minLength: 1, description: 'kid of the public key registered with the EHR' }),
            privateKey: Type.String({ minLength: 1, description: 'PKCS#8 PEM private key, as ${file:PATH}' }),
            scope: Type.String({ minLength: 1, description: 'e.g. system/SupplyRequest.write system/Task.write' }),
            algorithm: Type.Optional(Type.Enum(['RS384', 'ES384'], { description: 'default RS384' })),
            jwksUrl: Type.Optional(Type.String({ minLength: 1, description: 'sent as jku when the key was registered by JWKS URL' })),
          },
          Strict,
        ),
      ]),
    ),
    timeoutMs: Type.Integer({ minimum: 100, default: 30_000 }),
    taskIdentifierSystem: Type.Optional(Type.String({ minLength: 1, description: 'Task.identifier.system of the Tasks Carelane creates; default urn:carelane:task-key' })),
    poll: Type.Optional(FhirPollSchema),
  },
  Strict,
);

// An MLLP destination Carelane sends HL7 v2 to (src/connectors/hl7v2/send-handler.ts).
export const Hl7DestinationSchema = Type.Object(
  {
    host: Type.String({ minLength: 1 }),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    sendingApplication: Type.String({ default: 'CARELANE', description: 'MSH-3' }),
    sendingFacility: Type.String({ default: '', description: 'MSH-4' }),
    receivingApplication: Type.String({ default: '', description: 'MSH-5' }),
    receivingFacility: Type.String({ default: '', description: 'MSH-6' }),
    version: Type.String({ pattern: '^2\\.[3-8](\\.\\d)?$', default: '2.5.1', description: 'MSH-12' }),
    processingId: Type.Enum(['P', 'D', 'T'], { default: 'P', description: 'MSH-11' }),
    acknowledgment: Type.Enum(['original', 'enhanced'], { default: 'original', description: 'enhanced: MSH-15 AL, MSH-16 NE, CA/CE/CR answers' }),
    responseTimeoutMs: Type.Integer({ minimum: 100, default: 30_000, description: 'no ACK within this time = ambiguous' }),
    connectTimeoutMs: Type.Integer({ minimum: 100, default: 10_000 }),
    tls: Type.Optional(
      Type.Object(
        {
          ca: Type.Optional(Type.String({ minLength: 1, description: "PEM file of the CAs the receiver's certificate must chain to" })),
          cert: Type.Optional(Type.String({ minLength: 1, description: 'PEM client certificate file (mutual TLS)' })),
          key: Type.Optional(Type.String({ minLength: 1, description: 'PEM client private key file (mutual TLS)' })),
          servername: Type.Optional(Type.String({ minLength: 1 })),
        },
        Strict,
      ),
    ),
  },
  Strict,
);

export const ConfigSchema = Type.Object(
  {
    profile: Type.Enum(['demo', 'production'], { default: 'production' }),
    server: Type.Object(
      {
        host: Type.String({ default: '127.0.0.1' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
        tls: Type.Optional(ServerTlsSchema),
      },
      { ...Strict, default: {} },
    ),
    mllp: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        host: Type.String({ default: '127.0.0.1' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 2575 }),
        source: Type.String({ default: 'mllp', description: 'source name recorded on messages from this listener' }),
        maxMessageBytes: Type.Integer({ minimum: 1024, default: 10 * 1024 * 1024 }),
        idleTimeoutMs: Type.Integer({ minimum: 1000, default: 300_000 }),
        tls: Type.Optional(TlsFilesSchema),
      },
      { ...Strict, default: {} },
    ),
    database: Type.Object(
      {
        url: Type.Optional(Type.String({ description: 'postgres:// URL; DATABASE_URL overrides; absent = embedded PostgreSQL' })),
        dataDir: Type.String({ default: 'var/postgres', description: 'embedded PostgreSQL data directory' }),
        poolSize: Type.Integer({ minimum: 0, default: 0, description: '0 = sized from the lanes' }),
      },
      { ...Strict, default: {} },
    ),
    engine: Type.Object(
      {
        nodeId: Type.Optional(Type.String({ minLength: 1 })),
        leaseMs: Type.Integer({ minimum: 1000, default: 30_000 }),
        pollIntervalMs: Type.Integer({ minimum: 10, default: 1000, description: 'fallback poll when no NOTIFY arrives' }),
        reaperIntervalMs: Type.Integer({ minimum: 100, default: 5000 }),
        lanes: Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_-]*$' }), LaneSchema, {
          default: {
            critical: { concurrency: 8, priority: 90, claimBatch: 10, prefetch: 0, maxBacklog: 0 },
            standard: { concurrency: 8, priority: 50, claimBatch: 20, prefetch: 0, maxBacklog: 0 },
            bulk: { concurrency: 4, priority: 10, claimBatch: 50, prefetch: 16, maxBacklog: 0 },
          },
        }),
        retry: Type.Object(RetrySchema.properties, { ...Strict, default: {} }),
        circuit: Type.Object(CircuitSchema.properties, { ...Strict, default: {} }),
        replayRatePerSecond: Type.Number({ exclusiveMinimum: 0, default: 50 }),
        doneRetentionDays: Type.Integer({ minimum: 1, default: 30, description: 'completed deliveries older than this are purged by housekeeping' }),
      },
      { ...Strict, default: {} },
    ),
    endpoints: Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_.-]*$' }), EndpointSchema, { default: {} }),
    routes: Type.Array(RouteSchema, { default: [{ lane: 'standard', flow: 'noop' }] }),
    flows: FlowsSchema,
    suppliers: Type.Array(SupplierChannelSchema, { default: [], description: 'how confirmed purchase orders reach each vendor' }),
    events: Type.Object(
      {
        broker: Type.Enum(['none', 'nats', 'rabbitmq'], { default: 'none', description: 'where the outbox publishes canonical events (docs/event-bus.md)' }),
        url: Type.Optional(Type.String({ description: 'nats: server list (host:port, comma-separated); rabbitmq: amqp:// URL (credentials as ${env:...})' })),
        namespace: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,62}$', default: 'carelane', description: 'prefix of event ids; distinct per installation sharing a broker' }),
        consume: Type.Array(
          Type.Object(
            {
              topic: Type.String({ minLength: 1 }),
              group: Type.String({ default: 'carelane', description: 'durable consumer (NATS) or queue (RabbitMQ) name' }),
              messageType: Type.Optional(Type.String({ description: 'the message type routes match on; default the topic' })),
            },
            Strict,
          ),
          { default: [], description: 'topics consumed into the engine as inbound messages (source events:<broker>:<topic>)' },
        ),
        publishedRetentionDays: Type.Integer({ minimum: 1, default: 7, description: 'published outbox rows older than this are pruned' }),
      },
      { ...Strict, default: {} },
    ),
    supplierRest: Type.Object(
      {
        http: Type.Object(
          {
            enabled: Type.Boolean({ default: true, description: 'listen for POST /supplier-rest/<id>/events when profiles are configured' }),
            host: Type.String({ default: '127.0.0.1' }),
            port: Type.Integer({ minimum: 0, maximum: 65535, default: 4081 }),
          },
          { ...Strict, default: {} },
        ),
        profiles: Type.Array(SupplierRestProfileSchema, { default: [], description: 'suppliers and 3PLs without EDI (docs/supplier-rest.md)' }),
      },
      { ...Strict, default: {} },
    ),
    scheduler: Type.Object(
      {
        jobs: Type.Record(Type.String(), JobSchema, { default: { housekeeping: { cron: '17 * * * *', enabled: true } } }),
      },
      { ...Strict, default: {} },
    ),
    auth: Type.Object(
      {
        adminToken: Type.Optional(Type.String({ description: 'secret reference seeding the admin API token' })),
        oidc: Type.Optional(OidcSchema),
        rateLimit: Type.Object(
          {
            perMinute: Type.Integer({ minimum: 0, default: 600, description: 'requests per minute per API token or OIDC subject, per process (0 = no limit)' }),
          },
          { ...Strict, default: {} },
        ),
        signedRequests: Type.Object(
          {
            keys: Type.Array(SigningKeySchema, { default: [], description: 'HMAC keys systems may sign inbound requests with instead of holding a bearer token' }),
            maxSkewSeconds: Type.Integer({ minimum: 10, maximum: 3600, default: 300, description: 'replay window: older or future-dated signatures are refused' }),
          },
          { ...Strict, default: {} },
        ),
      },
      { ...Strict, default: {} },
    ),
    owners: Type.Object(
      {
        flows: Type.Record(Type.String(), OwnersSchema, { default: {}, description: 'owners of each flow' }),
        exceptions: Type.Record(Type.String(), ExceptionOwnersSchema, { default: {}, description: 'owners, SLA and runbook per exception type; merged over the defaults' }),
      },
      { ...Strict, default: {} },
    ),
    governance: Type.Object(
      {
        tokenization: Type.Object(
          {
            keys: Type.Array(TokenizationKeySchema, { default: [], description: 'every key a stored token may have been made with; the newest is usually active' }),
            activeKeyId: Type.Optional(Type.String({ description: 'the key new tokens are made with; required when keys are given' })),
          },
          { ...Strict, default: {} },
        ),
      },
      { ...Strict, default: {} },
    ),
    retention: Type.Object(
      {
        ...RetentionPeriodsSchema.properties,
        keepFailed: Type.Boolean({ default: true, description: 'never purge failed or rejected messages (they are evidence)' }),
        keepUnfinished: Type.Boolean({ default: true, description: 'never purge messages still in flight, with pending work or an open exception' }),
        batchSize: Type.Integer({ minimum: 1, maximum: 100_000, default: 1000, description: 'rows per statement, so a purge never holds long locks' }),
        classes: Type.Array(RetentionClassSchema, { default: [], description: 'per source overrides; the first matching class wins' }),
      },
      { ...Strict, default: {} },
    ),
    // Master data and crosswalks (issue 6, docs/master-data.md): who owns each domain, and the batch sync from Odoo.
    masterData: Type.Object(
      {
        owners: Type.Object(
          {
            items: Type.Enum(['odoo', 'ehr', 'carelane'], { default: 'odoo', description: 'system of record of items; only an Odoo-owned domain is synced from Odoo' }),
            vendors: Type.Enum(['odoo', 'carelane'], { default: 'odoo' }),
            locations: Type.Enum(['odoo', 'ehr', 'carelane'], { default: 'odoo' }),
          },
          { ...Strict, default: {} },
        ),
        fieldOwners: Type.Record(Type.String({ pattern: '^(items|vendors|locations)\\.[A-Za-z]+$' }), Type.Enum(['odoo', 'ehr', 'carelane', 'supplier']), {
          default: {},
          description: 'field-level owners over the domain owner, e.g. "items.lot": ehr; a write by any other system is an ownership_violation',
        }),
        sync: Type.Object(
          {
            connection: Type.Optional(Type.String({ description: 'the odoo.connections name that owns items and vendors; default the first one' })),
            lane: Type.String({ default: 'bulk', description: 'lane the sync runs on; never the critical lane' }),
            batchSize: Type.Integer({ minimum: 1, maximum: 5000, default: 200, description: 'records per Odoo round trip' }),
            timeBudgetMs: Type.Integer({ minimum: 100, default: 3000, description: 'work per delivery before the sync hands on to its next delivery' }),
          },
          { ...Strict, default: {} },
        ),
      },
      { ...Strict, default: {} },
    ),
    odoo: Type.Object(
      {
        connections: Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_.-]*$' }), OdooConnectionSchema, {
          default: {},
          description: 'Odoo instances by name; a delivery whose endpoint is this name talks to it',
        }),
      },
      { ...Strict, default: {} },
    ),
    x12: Type.Object(
      {
        http: Type.Object(
          {
            enabled: Type.Boolean({ default: true, description: 'listen for POST /x12/<partner> when partners are configured' }),
            host: Type.String({ default: '127.0.0.1' }),
            port: Type.Integer({ minimum: 0, maximum: 65535, default: 4080 }),
            maxBodyBytes: Type.Integer({ minimum: 1024, default: 10 * 1024 * 1024 }),
            tls: Type.Optional(TlsFilesSchema),
          },
          { ...Strict, default: {} },
        ),
        partners: Type.Array(X12PartnerProfileSchema, { default: [] }),
      },
      { ...Strict, default: {} },
    ),
    fhir: Type.Object(
      {
        listener: Type.Object(
          {
            enabled: Type.Boolean({ default: true, description: 'listen for FHIR notifications and webhooks when sources are configured' }),
            host: Type.String({ default: '127.0.0.1' }),
            port: Type.Integer({ minimum: 0, maximum: 65535, default: 8090 }),
            maxBodyBytes: Type.Integer({ minimum: 1024, default: 10 * 1024 * 1024 }),
          },
          { ...Strict, default: {} },
        ),
        sources: Type.Array(FhirSourceSchema, { default: [], description: 'EHRs that post REST-hook notifications or resources' }),
        servers: Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_.-]*$' }), FhirServerSchema, {
          default: {},
          description: 'FHIR servers by name: a fhir.update_status / fhir.create_task delivery whose endpoint is this name writes to it',
        }),
      },
      { ...Strict, default: {} },
    ),
    hl7v2: Type.Object(
      {
        destinations: Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_.-]*$' }), Hl7DestinationSchema, {
          default: {},
          description: 'MLLP destinations by name: an hl7v2.send delivery whose endpoint is this name goes there',
        }),
        // Enhanced mode's application acknowledgments (MSH-16) go back to the sender here (docs/ehr.md).
        returnAddresses: Type.Array(
          Type.Object(
            {
              sendingApplication: Type.String({ minLength: 1, description: 'MSH-3 of the sender' }),
              sendingFacility: Type.Optional(Type.String({ description: 'MSH-4 of the sender; absent = any facility' })),
              destination: Type.String({ minLength: 1, description: 'the hl7v2.destinations entry (host, port, TLS) its application ACKs go to' }),
            },
            Strict,
          ),
          { default: [], description: 'where application acknowledgments (MSH-16 AL/ER/SU) are sent, per sender' },
        ),
      },
      { ...Strict, default: {} },
    ),
    logging: Type.Object(
      {
        level: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
      },
      { ...Strict, default: {} },
    ),
  },
  Strict,
);

export type CarelaneConfig = Static<typeof ConfigSchema>;
export type LaneConfig = Static<typeof LaneSchema>;
export type RetryConfig = Static<typeof RetrySchema>;
export type CircuitConfig = Static<typeof CircuitSchema>;
export type EndpointConfig = Static<typeof EndpointSchema>;
export type RouteConfig = Static<typeof RouteSchema>;
export type OidcConfig = Static<typeof OidcSchema>;
export type TokenizationKeyConfig = Static<typeof TokenizationKeySchema>;
export type RetentionConfig = CarelaneConfig['retention'];
export type TlsFilesConfig = Static<typeof TlsFilesSchema>;
export type ServerTlsConfig = Static<typeof ServerTlsSchema>;
export type SigningKeyConfig = Static<typeof SigningKeySchema>;
export type OwnersConfig = CarelaneConfig['owners'];
export type ExceptionOwnersConfig = Static<typeof ExceptionOwnersSchema>;
export type FhirSourceConfig = Static<typeof FhirSourceSchema>;
export type FhirSettings = CarelaneConfig['fhir'];
export type FlowsConfig = CarelaneConfig['flows'];
export type StatusBackConfig = FlowsConfig['demand']['statusBack'][number];
export type SupplierChannelConfig = Static<typeof SupplierChannelSchema>;
export type InvoiceTolerance = Static<typeof InvoiceToleranceSchema>;
export type OdooConnectionSettings = Static<typeof OdooConnectionSchema>;
export type FhirServerConfig = Static<typeof FhirServerSchema>;
export type Hl7DestinationConfig = Static<typeof Hl7DestinationSchema>;
