import type pg from 'pg';
import { OrderpointGateway, type OdooClientFor } from '../../connectors/odoo/index.ts';
import type { FlowsConfig } from '../../config/schema.ts';
import { enqueueDeliveries, type NewDelivery } from '../../store/queue.ts';
import type { Logger } from '../../observability/logger.ts';
import type { ReplenishmentRequestPayload } from '../demand/reservation-steps.ts';

interface Storeroom {
  site: string;
  odoo_connection: string;
  storeroom_location_id: number;
}

/**
 * The reorder-rule side of replenishment: every site storeroom's Odoo reorder rules (stock.warehouse.orderpoint)
 * whose forecast is below minimum become `replenishment.request`s for Odoo's own quantity to order, joining the
 * same per-vendor grouping windows as shortfalls. One request per rule and day: Odoo's forecast counts the
 * confirmed purchase orders' incoming moves, so a rule already on order is not below minimum the next day.
 * Returns how many requests were enqueued (an already enqueued one counts once).
 */
export async function requestReorders(pool: pg.Pool, clientFor: OdooClientFor, flows: FlowsConfig, log: Logger, now = new Date()): Promise<number> {
  const { rows: storerooms } = await pool.query<Storeroom>(
    'select distinct site, odoo_connection, storeroom_location_id from carelane.location_crosswalk where valid_to is null order by site',
  );
  const byConnection = new Map<string, Storeroom[]>();
  for (const room of storerooms) byConnection.set(room.odoo_connection, [...(byConnection.get(room.odoo_connection) ?? []), room]);
  const day = now.toISOString().slice(0, 10);
  let enqueued = 0;
  for (const [connection, rooms] of byConnection) {
    let rules;
    try {
      rules = await new OrderpointGateway(await clientFor(connection)).belowMinimum(rooms.map((r) => r.storeroom_location_id));
    } catch (error) {
      log.warn({ connection, err: (error as Error).message }, 'reorder rules: Odoo not reachable; the next run tries again');
      continue;
    }
    const deliveries: NewDelivery[] = rules.flatMap((rule) => {
      const room = rooms.find((r) => r.storeroom_location_id === rule.locationId);
      if (!room) return [];
      const request: ReplenishmentRequestPayload = { requestKey: `orderpoint:${connection}:${rule.orderpointId}:${day}`, reason: 'orderpoint', site: room.site, odooConnection: connection, locationId: rule.locationId, productId: rule.productId, quantity: rule.toOrder };
      return [{ lane: flows.replenishment.lane, action: 'replenishment.request', endpoint: connection, idempotencyKey: `replenishment.request:${request.requestKey}`, correlationId: `orderpoint:${connection}:${rule.orderpointId}:${day}`, orderingKey: `replenishment:${room.site}:${rule.productId}`, payload: request }];
    });
    enqueued += (await enqueueDeliveries(pool, deliveries)).length;
  }
  return enqueued;
}
