import type pg from 'pg';
import { businessError, permanentError } from '../../contracts/errors.ts';
import type { DemandSignal } from '../../contracts/demand.ts';
import type { DeliveryHandler, HandlerResult, NewDelivery, StageRecord } from '../../engine/handlers.ts';
import type { OdooClientFor } from '../../connectors/odoo/index.ts';
import type { FlowsConfig } from '../../config/schema.ts';
import type { PatientTokenizer } from '../../governance/index.ts';
import { findDemand, findDuplicateDemand, linkTransactions, openSupplyDemandsOf, saveDemandRevision, setDemandSchedule, setDemandStatus } from '../../store/demands.ts';
import { mappingFailure, type MasterDataLookup } from '../master-data/lookup.ts';
import { decide, demandKeyOf, type DemandDecision } from './plan-demand.ts';
import { readDemand } from './read-demand.ts';
import { loadStoredMessage } from '../../store/messages.ts';
import { statusTargetFor } from './status-back.ts';
import { costRecordDelivery } from '../finance/cost-record.ts';
import { afterReservation, reservationCommit, reserveInOdoo, type ReleasePayload, type ReschedulePayload, type ReservePayload } from './reservation-steps.ts';

export interface DemandFlowDependencies {
  lookup: MasterDataLookup;
  tokenizer: PatientTokenizer | undefined;
  clientFor: OdooClientFor;
  flows: FlowsConfig;
}

interface Planned {
  stages: StageRecord[];
  next: NewDelivery[];
  commits: Array<(client: pg.PoolClient) => Promise<void>>;
}

/**
 * `flow.demand` (critical lane): an EHR message (HL7 v2 SIU/ORM/OMG/OMS/RDE, FHIR SupplyRequest, ServiceRequest,
 * DeviceRequest, MedicationRequest, Appointment) → canonical demand → a reservation in Odoo, a release on cancel,
 * a moved date on reschedule. Nothing here talks to Odoo in the orchestrated modes: the flow decides and
 * enqueues `demand.reserve` / `demand.release` / `demand.reschedule` in the transaction that completes it, keyed
 * per demand so one demand's steps run in order. In `direct` mode the reservation is made here, in one step.
 *
 * Idempotent at three levels: the engine never runs a completed delivery again; the demand row makes a re-sent
 * message a no-op; the reservation key (one per demand revision) is the transfer's external id in Odoo.
 */
export function demandFlow(dependencies: DemandFlowDependencies): DeliveryHandler {
  const { lookup, tokenizer, flows } = dependencies;
  return {
    action: 'flow.demand',
    async run(delivery, context): Promise<HandlerResult> {
      if (delivery.messageId === null) throw permanentError('flow.demand needs the message it was routed for', { code: 'flow_without_message' });
      const message = await loadStoredMessage(context.pool, delivery.messageId);
      const { signals, description } = await readDemand(message, tokenizer, context.pool);
      const planned: Planned = { stages: [{ stage: `demand read from ${description}: ${signals.length} signal(s)`, outcome: 'ok' }], next: [], commits: [] };
      for (const signal of signals) {
        if (signal.businessKeys.appliesTo === 'patient-open-demand') {
          await planRelocation(planned, signal, delivery.correlationId, context.pool, dependencies);
          continue;
        }
        if (signal.kind === 'utilization') {
          // Supplies used are cost allocation's (docs/finance.md): recorded on its own lane, never reserved.
          planned.next.push(costRecordDelivery(signal, demandKeyOf(signal), delivery.correlationId, delivery.messageId, flows));
          planned.stages.push({ stage: `${demandKeyOf(signal)}: utilization (${signal.items.length} item(s), ${signal.status}) handed to cost allocation`, outcome: 'ok' });
          continue;
        }
        const existing = await findDemand(context.pool, demandKeyOf(signal));
        const decision = await decide(signal, existing, lookup);
        if (decision.kind === 'reserve' && !existing) await refuseDuplicate(context.pool, decision, flows.demand.duplicateWindowMinutes);
        await plan(planned, signal, decision, delivery.correlationId, delivery.messageId, message.source, dependencies, context.signal);
      }
      return {
        stages: planned.stages,
        next: planned.next,
        inTransaction: async (client) => {
          for (const commit of planned.commits) await commit(client);
        },
      };
    },
  };
}

/** A true duplicate: a new source id, but the same patient, place, items and time as a live demand. */
async function refuseDuplicate(pool: pg.Pool, decision: Extract<DemandDecision, { kind: 'reserve' }>, windowMinutes: number): Promise<void> {
  if (windowMinutes <= 0) return;
  const twin = await findDuplicateDemand(pool, decision.resolved.demandKey, decision.resolved.contentHash, windowMinutes);
  if (!twin) return;
  throw businessError('duplicate_order', `demand ${decision.resolved.demandKey} asks for the same items, place and time as ${twin.demandKey} (received ${twin.createdAt.toISOString()}): not reserved twice`, {
    code: 'duplicate_demand',
    detail: { demandKey: decision.resolved.demandKey, duplicateOf: twin.demandKey, duplicateOfCorrelationId: twin.correlationId },
  });
}

async function plan(planned: Planned, signal: DemandSignal, decision: DemandDecision, correlationId: string, messageId: number, inboundSource: string, deps: DemandFlowDependencies, abort: AbortSignal): Promise<void> {
  const { flows } = deps;
  const demandKey = demandKeyOf(signal);
  const statusBack = statusTargetFor(signal, inboundSource, flows.demand.statusBack);
  const step = (action: string, endpoint: string, idempotencyKey: string, payload: unknown): NewDelivery => ({
    lane: flows.demand.lane,
    action,
    endpoint,
    idempotencyKey,
    correlationId,
    messageId,
    orderingKey: `demand:${demandKey}`,
    payload,
  });
  switch (decision.kind) {
    case 'nothing':
      planned.stages.push({ stage: `${demandKey}: nothing to do (${decision.why})`, outcome: 'skipped' });
      return;
    case 'reserve': {
      const { resolved } = decision;
      const reservationKey = `reservation:${demandKey}:r${decision.revision}`;
      const payload: ReservePayload = {
        demandKey,
        reservationKey,
        site: resolved.location.site,
        odooConnection: resolved.location.odooConnection,
        pickingTypeId: resolved.location.pickingTypeId,
        sourceLocationId: resolved.location.storeroomLocationId,
        destinationLocationId: resolved.location.destinationLocationId,
        lines: resolved.lines,
        ...(signal.scheduledStart ? { scheduledStart: signal.scheduledStart } : {}),
        ...(statusBack ? { statusBack } : {}),
      };
      planned.commits.push((client) =>
        saveDemandRevision(client, {
          demandKey,
          correlationId,
          kind: signal.kind,
          site: resolved.location.site,
          odooConnection: resolved.location.odooConnection,
          destinationLocationId: resolved.location.destinationLocationId,
          contentHash: resolved.contentHash,
          scheduledStart: signal.scheduledStart,
          reservationKey,
          lines: resolved.lines,
          messageId,
          patientToken: signal.patientToken,
        }),
      );
      planned.stages.push({
        stage: `${demandKey}: ${decision.replacing ? `changed, revision ${decision.revision} replaces the reservation` : 'to reserve'} at ${resolved.location.site}`,
        outcome: 'ok',
        detail: { lines: resolved.lines, destinationLocationId: resolved.location.destinationLocationId },
      });
      if (flows.demand.mode === 'direct') {
        // One step: reserve now, inside this delivery; the engine's retry and lookup rules still apply to it.
        const client = (await deps.clientFor(payload.odooConnection)).withSignal(abort);
        const result = await reserveInOdoo(client, payload, decision.replacing);
        planned.stages.push({ stage: `${result.status} in Odoo (picking ${result.pickingId}), direct mode`, outcome: 'ok', detail: { lines: result.lines } });
        planned.commits.push(reservationCommit(payload, result, correlationId, flows));
        planned.next.push(...afterReservation(payload, result, correlationId, flows));
        return;
      }
      planned.next.push(step('demand.reserve', payload.odooConnection, `demand.reserve:${reservationKey}`, { ...payload, ...(decision.replacing ? { replacing: decision.replacing } : {}) }));
      return;
    }
    case 'reschedule': {
      const { demand } = decision;
      if (!demand.reservationKey || !demand.odooConnection) return;
      planned.commits.push((client) => setDemandSchedule(client, demandKey, decision.scheduledStart, decision.contentHash));
      planned.stages.push({ stage: `${demandKey}: rescheduled to ${decision.scheduledStart}`, outcome: 'ok' });
      const payload: ReschedulePayload = { demandKey, reservationKey: demand.reservationKey, scheduledStart: decision.scheduledStart };
      planned.next.push(step('demand.reschedule', demand.odooConnection, `demand.reschedule:${demand.reservationKey}:${decision.scheduledStart}`, payload));
      return;
    }
    case 'release': {
      const { demand } = decision;
      planned.commits.push((client) => setDemandStatus(client, demandKey, decision.status));
      planned.stages.push({ stage: `${demandKey}: ${signal.action === 'no_show' ? 'no-show' : 'cancelled'}, reservation to release`, outcome: 'ok' });
      if (!demand.reservationKey || !demand.odooConnection) return;
      const payload: ReleasePayload = { demandKey, reservationKey: demand.reservationKey, status: decision.status, ...(statusBack ? { statusBack } : {}) };
      planned.next.push(step('demand.release', demand.odooConnection, `demand.release:${demand.reservationKey}`, payload));
      return;
    }
  }
}

/**
 * A patient moved (ADT^A02, A08 with a new PV1-3): the patient's open supply demands — bedside supplies — follow to
 * the new location as a new revision each (the old transfer cancelled, a new one reserved there). Scheduled
 * procedures stay where they are booked. The patient is found by token only.
 */
async function planRelocation(planned: Planned, signal: DemandSignal, correlationId: string, pool: pg.Pool, deps: DemandFlowDependencies): Promise<void> {
  const { flows, lookup } = deps;
  if (!signal.patientToken || !signal.location) {
    planned.stages.push({ stage: 'patient transfer without patient or location: nothing to move', outcome: 'skipped' });
    return;
  }
  const open = await openSupplyDemandsOf(pool, signal.patientToken);
  if (open.length === 0) {
    planned.stages.push({ stage: 'patient transfer: no open supply demand follows the patient', outcome: 'skipped' });
    return;
  }
  const location = await lookup.mapLocation(signal.location);
  if (!location) throw mappingFailure([{ kind: 'location', system: signal.location.system ?? '', code: signal.location.code }]);
  for (const demand of open) {
    if (demand.odooConnection === location.odooConnection && demand.destinationLocationId === location.destinationLocationId) {
      planned.stages.push({ stage: `${demand.demandKey}: already at the patient's new location`, outcome: 'skipped' });
      continue;
    }
    const revision = demand.revision + 1;
    const reservationKey = `reservation:${demand.demandKey}:r${revision}`;
    const lines = demand.lines.map(({ productId, quantity }) => ({ productId, quantity }));
    const payload: ReservePayload = {
      demandKey: demand.demandKey,
      reservationKey,
      site: location.site,
      odooConnection: location.odooConnection,
      pickingTypeId: location.pickingTypeId,
      sourceLocationId: location.storeroomLocationId,
      destinationLocationId: location.destinationLocationId,
      lines,
      ...(demand.scheduledStart ? { scheduledStart: demand.scheduledStart.toISOString() } : {}),
    };
    planned.commits.push(async (client) => {
      await saveDemandRevision(client, {
        demandKey: demand.demandKey,
        correlationId: demand.correlationId,
        kind: demand.kind,
        site: location.site,
        odooConnection: location.odooConnection,
        destinationLocationId: location.destinationLocationId,
        contentHash: demand.contentHash,
        scheduledStart: demand.scheduledStart?.toISOString(),
        reservationKey,
        lines,
        messageId: demand.messageId,
      });
      await linkTransactions(client, demand.correlationId, [correlationId], 'patient_transfer');
    });
    const step = (action: string, endpoint: string, key: string, body: unknown): NewDelivery => ({
      lane: flows.demand.lane,
      action,
      endpoint,
      idempotencyKey: key,
      correlationId: demand.correlationId,
      orderingKey: `demand:${demand.demandKey}`,
      payload: body,
    });
    // The old transfer is cancelled where it lives: in the same step when the Odoo is the same, else by its own step.
    const sameOdoo = demand.odooConnection === location.odooConnection;
    if (demand.reservationKey && demand.odooConnection && !sameOdoo) {
      const release: ReleasePayload = { demandKey: demand.demandKey, reservationKey: demand.reservationKey, status: 'requested' };
      planned.next.push(step('demand.release', demand.odooConnection, `demand.release:${demand.reservationKey}`, release));
    }
    planned.next.push(step('demand.reserve', location.odooConnection, `demand.reserve:${reservationKey}`, { ...payload, ...(sameOdoo && demand.reservationKey ? { replacing: demand.reservationKey } : {}) }));
    planned.stages.push({ stage: `${demand.demandKey}: follows the patient to ${signal.location.code} (revision ${revision})`, outcome: 'ok' });
  }
}
