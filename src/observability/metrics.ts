import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

// Label values are lanes, endpoints, sources, message types and exception types: names from configuration or
// from a message's type field, never identifiers of a patient or an order. Message types are normalised so a
// sender can't create unbounded series.

// HL7 'ADT^A01', X12 '850', FHIR 'SupplyRequest'; anything else is counted as 'other'.
const MESSAGE_TYPE = /^[A-Za-z0-9]{1,32}([\^_][A-Za-z0-9]{1,16}){0,2}$/;
export const metricMessageType = (type: string): string => (MESSAGE_TYPE.test(type) ? type : 'other');

export interface GaugeSource {
  queueDepth(): Promise<Array<{ lane: string; status: string; count: number; oldestAgeSeconds: number }>>;
  openExceptions(): Promise<Array<{ type: string; count: number }>>;
  circuits(): Promise<Array<{ endpoint: string; state: string }>>;
  /** FHIR poll cursors (fhir.servers.<name>.poll): how far each (server, resource type) cursor is behind now */
  fhirPollCursorLags?(): Promise<Array<{ server: string; resourceType: string; lagSeconds: number }>>;
}

export class Metrics {
  readonly registry = new Registry();
  readonly messagesReceived = new Counter({
    name: 'carelane_messages_received_total',
    help: 'Inbound messages persisted, by source, type and outcome (accepted, duplicate, rejected)',
    labelNames: ['source', 'type', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly messagesSettled = new Counter({
    name: 'carelane_messages_settled_total',
    help: 'Messages whose processing ended, by type, lane of their last step and outcome (processed, failed)',
    labelNames: ['type', 'lane', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly deliveriesProcessed = new Counter({
    name: 'carelane_deliveries_processed_total',
    help: 'Deliveries completed successfully, by lane, action and endpoint',
    labelNames: ['lane', 'action', 'endpoint'] as const,
    registers: [this.registry],
  });
  readonly deliveriesFailed = new Counter({
    name: 'carelane_deliveries_failed_total',
    help: 'Delivery attempts that failed, by lane, endpoint and failure class',
    labelNames: ['lane', 'endpoint', 'class'] as const,
    registers: [this.registry],
  });
  readonly exceptionsOpened = new Counter({
    name: 'carelane_exceptions_opened_total',
    help: 'Exceptions opened, by type',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  readonly deliveryLatency = new Histogram({
    name: 'carelane_delivery_latency_seconds',
    help: 'Time from a delivery being enqueued to its completion, by lane and endpoint',
    labelNames: ['lane', 'endpoint'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly attemptDuration = new Histogram({
    name: 'carelane_delivery_attempt_seconds',
    help: 'Duration of one delivery attempt (handler run), by lane and endpoint',
    labelNames: ['lane', 'endpoint'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  // FHIR polling: labelled by the fhir.servers name and the configured resource type, both from configuration.
  readonly fhirPolls = new Counter({
    name: 'carelane_fhir_polls_total',
    help: 'FHIR polls of one resource type on one server, by outcome (ok, error)',
    labelNames: ['server', 'resource_type', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly fhirPollResourcesReceived = new Counter({
    name: 'carelane_fhir_poll_resources_received_total',
    help: 'Resources the FHIR poll searches returned as matches (new or read again), by server and resource type',
    labelNames: ['server', 'resource_type'] as const,
    registers: [this.registry],
  });
  readonly fhirPollDuration = new Histogram({
    name: 'carelane_fhir_poll_duration_seconds',
    help: 'Duration of one FHIR poll of one resource type (every page), by server and resource type',
    labelNames: ['server', 'resource_type'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });

  constructor(source: GaugeSource, options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'carelane_process_' });
    const registers = [this.registry];
    // Gauges read the database at scrape time: the store is the truth, shared by every process.
    new Gauge({
      name: 'carelane_queue_depth',
      help: 'Deliveries waiting or running, by lane and status',
      labelNames: ['lane', 'status'] as const,
      registers,
      async collect() {
        this.reset();
        for (const row of await source.queueDepth()) this.set({ lane: row.lane, status: row.status }, row.count);
      },
    });
    new Gauge({
      name: 'carelane_queue_oldest_age_seconds',
      help: 'Age of the oldest pending delivery, by lane',
      labelNames: ['lane'] as const,
      registers,
      async collect() {
        this.reset();
        for (const row of await source.queueDepth()) if (row.status === 'pending') this.set({ lane: row.lane }, row.oldestAgeSeconds);
      },
    });
    new Gauge({
      name: 'carelane_exceptions_open',
      help: 'Open exceptions, by type',
      labelNames: ['type'] as const,
      registers,
      async collect() {
        this.reset();
        for (const row of await source.openExceptions()) this.set({ type: row.type }, row.count);
      },
    });
    new Gauge({
      name: 'carelane_circuit_state',
      help: 'Circuit breaker state per endpoint: 0 closed, 1 half-open, 2 open',
      labelNames: ['endpoint'] as const,
      registers,
      async collect() {
        this.reset();
        const value: Record<string, number> = { closed: 0, half_open: 1, open: 2 };
        for (const row of await source.circuits()) this.set({ endpoint: row.endpoint }, value[row.state] ?? 0);
      },
    });
    new Gauge({
      name: 'carelane_fhir_poll_cursor_lag_seconds',
      help: 'Now minus the saved FHIR poll cursor (meta.lastUpdated), by server and resource type; no sample before a cursor is saved',
      labelNames: ['server', 'resource_type'] as const,
      registers,
      async collect() {
        this.reset();
        for (const row of (await source.fhirPollCursorLags?.()) ?? []) this.set({ server: row.server, resource_type: row.resourceType }, row.lagSeconds);
      },
    });
  }
}
