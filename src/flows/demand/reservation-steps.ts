import type pg from 'pg';
import { permanentError } from '../../contracts/errors.ts';
import type { DeliveryHandler, HandlerResult, NewDelivery } from '../../engine/handlers.ts';
import { appendEvents, type NewEvent } from '../../connectors/events/index.ts';
import { odooDatetime, TransferGateway, type OdooClient, type OdooClientFor } from '../../connectors/odoo/index.ts';
import { payloadOf, publishesEvents } from '../step-payload.ts';
import { setDemandStatus, type DemandLine, type DemandState } from '../../store/demands.ts';
import type { FlowsConfig } from '../../config/schema.ts';
import { statusDelivery, type StatusTarget } from './status-back.ts';

/** The payload of a `demand.reserve` delivery: everything needed to reserve, resolved by the demand flow. */
export interface ReservePayload {
  demandKey: string;
  /** the Odoo external id of the transfer; one per demand revision */
  reservationKey: string;
  site: string;
  odooConnection: string;
  pickingTypeId: number;
  sourceLocationId: number;
  destinationLocationId: number;
  lines: DemandLine[];
  /** ISO 8601 */
  scheduledStart?: string;
  /** where the outcome is told back to the EHR, when configured (flows.demand.statusBack) */
  statusBack?: StatusTarget;
}

export interface ReleasePayload {
  demandKey: string;
  reservationKey: string;
  status: DemandState;
  statusBack?: StatusTarget;
}

export interface ReschedulePayload {
  demandKey: string;
  reservationKey: string;
  scheduledStart: string;
}

/** The payload of `replenishment.request` (src/flows/replenishment): one product short at one storeroom. */
export interface ReplenishmentRequestPayload {
  requestKey: string;
  reason: 'shortfall' | 'orderpoint';
  site: string;
  odooConnection: string;
  locationId: number;
  productId: number;
  quantity: number;
}

export interface ReservationResult {
  pickingId: number;
  state: string;
  lines: DemandLine[];
  status: 'reserved' | 'partial';
  shortfalls: Array<{ productId: number; quantity: number }>;
}

/**
 * Makes (or finishes) the reservation in Odoo and reads what Odoo could actually reserve. The transfer gateway
 * is a resumable saga keyed by the reservation key, so running this again after any failure converges on the
 * same single picking. A replaced revision's transfer is cancelled first, so its stock is free for the new one.
 */
export async function reserveInOdoo(client: OdooClient, payload: ReservePayload, replacing?: string): Promise<ReservationResult> {
  const transfers = new TransferGateway(client);
  if (replacing) await transfers.cancel(replacing);
  const outcome = await transfers.reserve({
    key: payload.reservationKey,
    pickingTypeId: payload.pickingTypeId,
    sourceLocationId: payload.sourceLocationId,
    destinationLocationId: payload.destinationLocationId,
    lines: payload.lines.map((line) => ({ productId: line.productId, quantity: line.quantity })),
    ...(payload.scheduledStart ? { scheduledDate: odooDatetime(payload.scheduledStart) } : {}),
  });
  const reserved = outcome.state === 'done' ? new Map(payload.lines.map((l) => [l.productId, l.quantity])) : await transfers.reservedByProduct(outcome.pickingId);
  const lines = payload.lines.map((line) => ({ ...line, reserved: Math.min(line.quantity, reserved.get(line.productId) ?? 0) }));
  const shortfalls = lines.filter((l) => l.reserved < l.quantity).map((l) => ({ productId: l.productId, quantity: l.quantity - l.reserved }));
  return { pickingId: outcome.pickingId, state: outcome.state, lines, status: shortfalls.length ? 'partial' : 'reserved', shortfalls };
}

export interface StepDependencies {
  clientFor: OdooClientFor;
  flows: FlowsConfig;
}


/** What follows a reservation: the shortfalls go to replenishment (standard lane), one request per product. */
export function afterReservation(payload: ReservePayload, result: ReservationResult, correlationId: string, flows: FlowsConfig): NewDelivery[] {
  const told = payload.statusBack ? [statusDelivery(payload.statusBack, payload.demandKey, payload.reservationKey, result.status, correlationId)] : [];
  return [...told, ...shortfallRequests(payload, result, correlationId, flows)];
}

function shortfallRequests(payload: ReservePayload, result: ReservationResult, correlationId: string, flows: FlowsConfig): NewDelivery[] {
  return result.shortfalls.map((short) => {
    const request: ReplenishmentRequestPayload = {
      requestKey: `shortfall:${payload.reservationKey}:${short.productId}`,
      reason: 'shortfall',
      site: payload.site,
      odooConnection: payload.odooConnection,
      locationId: payload.sourceLocationId,
      productId: short.productId,
      quantity: short.quantity,
    };
    return {
      lane: flows.replenishment.lane,
      action: 'replenishment.request',
      endpoint: payload.odooConnection,
      idempotencyKey: `replenishment.request:${request.requestKey}`,
      correlationId,
      orderingKey: `replenishment:${payload.site}:${short.productId}`,
      payload: request,
    };
  });
}

/** The canonical event of a reservation's outcome (event-driven and hybrid modes), without any patient data. */
export function reservationEvent(payload: ReservePayload, result: ReservationResult, correlationId: string): NewEvent {
  return {
    topic: `carelane.reservation.${result.status}`,
    key: payload.demandKey,
    correlationId,
    payload: { demandKey: payload.demandKey, reservationKey: payload.reservationKey, site: payload.site, pickingId: result.pickingId, lines: result.lines },
  };
}

export function reservationCommit(payload: ReservePayload, result: ReservationResult, correlationId: string, flows: FlowsConfig): (client: pg.PoolClient) => Promise<void> {
  return async (client) => {
    await setDemandStatus(client, payload.demandKey, result.status, result.lines);
    if (publishesEvents(flows.demand.mode)) await appendEvents(client, [reservationEvent(payload, result, correlationId)]);
  };
}


/** `demand.reserve`: reserve in Odoo, record reserved vs requested, hand shortfalls to replenishment. */
export function reserveStep({ clientFor, flows }: StepDependencies): DeliveryHandler {
  return {
    action: 'demand.reserve',
    async run(delivery, context): Promise<HandlerResult> {
      const payload = payloadOf<ReservePayload & { replacing?: string }>(delivery.payload, 'demand.reserve', ['demandKey', 'reservationKey', 'pickingTypeId', 'sourceLocationId', 'destinationLocationId', 'lines']);
      const client = (await clientFor(delivery.endpoint)).withSignal(context.signal);
      const result = await reserveInOdoo(client, payload, payload.replacing);
      return {
        stages: [
          {
            stage: result.status === 'reserved' ? `reserved in Odoo (picking ${result.pickingId})` : `partially reserved in Odoo (picking ${result.pickingId}): ${result.shortfalls.length} item(s) short`,
            outcome: 'ok',
            detail: { pickingId: result.pickingId, state: result.state, lines: result.lines, partial: result.status === 'partial' },
          },
        ],
        next: afterReservation(payload, result, delivery.correlationId, flows),
        inTransaction: reservationCommit(payload, result, delivery.correlationId, flows),
      };
    },
  };
}

/** `demand.release`: cancels the transfer, which frees its reserved stock (do_unreserve + action_cancel). */
export function releaseStep({ clientFor, flows }: StepDependencies): DeliveryHandler {
  return {
    action: 'demand.release',
    async run(delivery, context): Promise<HandlerResult> {
      const payload = payloadOf<ReleasePayload>(delivery.payload, 'demand.release', ['demandKey', 'reservationKey', 'status']);
      const client = (await clientFor(delivery.endpoint)).withSignal(context.signal);
      const found = await new TransferGateway(client).cancel(payload.reservationKey);
      return {
        stages: [{ stage: found ? 'reservation released in Odoo (transfer cancelled)' : 'no transfer existed in Odoo: nothing to release', outcome: 'ok' }],
        next: payload.statusBack ? [statusDelivery(payload.statusBack, payload.demandKey, payload.reservationKey, 'released', delivery.correlationId)] : [],
        inTransaction: async (tx) => {
          await setDemandStatus(tx, payload.demandKey, payload.status);
          if (publishesEvents(flows.demand.mode)) {
            await appendEvents(tx, [{ topic: 'carelane.reservation.released', key: payload.demandKey, correlationId: delivery.correlationId, payload: { demandKey: payload.demandKey, reservationKey: payload.reservationKey } }]);
          }
        },
      };
    },
  };
}

/** `demand.reschedule`: moves the transfer's scheduled date; a transfer already done or cancelled is left alone. */
export function rescheduleStep({ clientFor }: StepDependencies): DeliveryHandler {
  return {
    action: 'demand.reschedule',
    async run(delivery, context): Promise<HandlerResult> {
      const payload = payloadOf<ReschedulePayload>(delivery.payload, 'demand.reschedule', ['demandKey', 'reservationKey', 'scheduledStart']);
      const client = (await clientFor(delivery.endpoint)).withSignal(context.signal);
      const transfers = new TransferGateway(client);
      const pickingId = await transfers.findByKey(payload.reservationKey);
      if (pickingId === undefined) return { stages: [{ stage: 'no transfer in Odoo to move', outcome: 'skipped' }] };
      const state = await transfers.state(pickingId);
      if (state === 'done' || state === 'cancel') return { stages: [{ stage: `transfer ${pickingId} is ${state}: not moved`, outcome: 'skipped' }] };
      // The picking is known and its state checked: write it directly (TransferGateway.reschedule would look both up again).
      await client.write('stock.picking', [pickingId], { scheduled_date: odooDatetime(payload.scheduledStart) });
      return { stages: [{ stage: `transfer ${pickingId} moved to ${payload.scheduledStart}`, outcome: 'ok' }] };
    },
  };
}
