import type pg from 'pg';
import type { FlowsConfig } from '../../config/schema.ts';
import { partialDemands } from '../../store/demands.ts';
import { enqueueDeliveries, type NewDelivery } from '../../store/queue.ts';

/**
 * Hybrid mode's batch reconciliation: each partially reserved demand gets its reservation run again (the
 * transfer saga asks Odoo to reserve what is missing, `action_assign`), so stock received since is picked up
 * and the demand's state follows Odoo's. The step's payload is the demand's own reserve step, read back from
 * the queue, so nothing is re-derived from the EHR message. Returns how many were enqueued.
 */
export async function reconcilePartialReservations(pool: pg.Pool, flows: FlowsConfig, limit = 500, now = new Date()): Promise<number> {
  const demands = await partialDemands(pool, limit);
  if (demands.length === 0) return 0;
  const { rows } = await pool.query<{ idempotency_key: string; endpoint: string; correlation_id: string; message_id: string | null; ordering_key: string | null; payload: unknown }>(
    `select idempotency_key, endpoint, correlation_id, message_id, ordering_key, payload from carelane.deliveries where idempotency_key = any($1)`,
    [demands.map((d) => `demand.reserve:${d.reservationKey}`)],
  );
  const stamp = now.toISOString();
  const deliveries: NewDelivery[] = rows.map((row) => ({
    lane: flows.demand.lane,
    action: 'demand.reserve',
    endpoint: row.endpoint,
    idempotencyKey: `${row.idempotency_key}:reconcile:${stamp}`,
    correlationId: row.correlation_id,
    orderingKey: row.ordering_key,
    payload: row.payload,
  }));
  await enqueueDeliveries(pool, deliveries);
  return deliveries.length;
}
