import { Counter, type Registry } from 'prom-client';

export interface OdooMetrics {
  /** one Odoo round trip is the unit of cost (issue #3); labels never carry record ids */
  roundTrips: Counter<'transport' | 'model' | 'method' | 'outcome'>;
}

const byRegistry = new WeakMap<Registry, OdooMetrics>();

/** Creates (once per registry) the connector's counters on the registry the application passes in. */
export function odooMetrics(registry: Registry): OdooMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const metrics: OdooMetrics = {
    roundTrips: new Counter({
      name: 'carelane_odoo_round_trips_total',
      help: 'HTTP round trips to Odoo, by transport, model, method and outcome (ok, error)',
      labelNames: ['transport', 'model', 'method', 'outcome'] as const,
      registers: [registry],
    }),
  };
  byRegistry.set(registry, metrics);
  return metrics;
}
