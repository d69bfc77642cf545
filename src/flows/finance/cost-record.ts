import type pg from 'pg';
import { businessError } from '../../contracts/errors.ts';
import type { DemandLocation, DemandSignal, DemandStatus, SourceCode } from '../../contracts/demand.ts';
import type { FlowsConfig } from '../../config/schema.ts';
import type { DeliveryHandler, HandlerResult, NewDelivery, StageRecord } from '../../engine/handlers.ts';
import { itemKey, mappingFailure, type MasterDataLookup, type UnmappedValue } from '../master-data/lookup.ts';
import { payloadOf } from '../step-payload.ts';
import { COST_PERIODS_LOCK, dayIn, openPeriodFor } from './cost-periods.ts';

/**
 * `cost.record` (cost allocation's lane, bulk by default): what one utilization message says was used (FHIR
 * Procedure used items, DFT^P03 charges) becomes utilization events per department (the location crosswalk's
 * analytic account), service line and product, in the period of the day it happened — or, when that day is
 * already closed, the next open period (never a closed one).
 *
 * Events are deltas: each message states what its source record (one Procedure, one FT1 charge) used in total,
 * and what was recorded before for that record is subtracted. A re-sent message adds nothing, an updated
 * Procedure adds only the difference, an entered-in-error one reverses it all, in the period it arrives.
 */

export interface CostRecordPayload {
  /** the source record: '<system>|<id>' as the demand flow keys it */
  demandKey: string;
  /** 'Procedure', 'DFT^P03' … */
  sourceType: string;
  status: DemandStatus;
  items: Array<{ code: SourceCode; quantity: number }>;
  procedure?: SourceCode;
  location?: DemandLocation;
  /** when it was used (performed time, FT1-4), else when the source wrote it; ISO 8601 */
  occurredAt: string;
}

const USED: ReadonlySet<DemandStatus> = new Set(['completed', 'active']);
const UNDONE: ReadonlySet<DemandStatus> = new Set(['cancelled', 'entered_in_error', 'no_show']);

/** The step the demand flow enqueues for a utilization signal; no patient token travels with it. */
export function costRecordDelivery(signal: DemandSignal, demandKey: string, correlationId: string, messageId: number, flows: FlowsConfig, receivedAt = new Date()): NewDelivery {
  const payload: CostRecordPayload = {
    demandKey,
    sourceType: signal.source.type,
    status: signal.status,
    items: signal.items.map((item) => ({ code: item.code, quantity: item.quantity ?? 1 })),
    ...(signal.procedure ? { procedure: signal.procedure } : {}),
    ...(signal.location ? { location: signal.location } : {}),
    occurredAt: signal.scheduledStart ?? signal.occurredAt ?? receivedAt.toISOString(),
  };
  return {
    lane: flows.costAllocation.lane,
    action: 'cost.record',
    endpoint: 'carelane.cost_allocation',
    idempotencyKey: `cost.record:${messageId}:${demandKey}`,
    correlationId,
    messageId,
    orderingKey: `utilization:${demandKey}`,
    payload,
  };
}

/** One line of what a source record used, resolved to Odoo terms. */
interface UsedLine {
  odooConnection: string;
  site: string;
  departmentAccountId: number;
  serviceLine: string;
  serviceLineAccountId: number | null;
  productId: number;
  quantity: number;
}

const lineKey = (line: Omit<UsedLine, 'quantity' | 'site' | 'serviceLineAccountId'>): string => `${line.odooConnection}|${line.departmentAccountId}|${line.serviceLine}|${line.productId}`;

export function costRecordStep(lookup: MasterDataLookup, flows: FlowsConfig): DeliveryHandler {
  return {
    action: 'cost.record',
    async run(delivery, context): Promise<HandlerResult> {
      const payload = payloadOf<CostRecordPayload>(delivery.payload, 'cost.record', ['demandKey', 'status', 'items', 'occurredAt']);
      const occurredAt = new Date(payload.occurredAt);
      if (Number.isNaN(occurredAt.getTime())) throw businessError('mapping_failure', `cost.record: occurredAt "${payload.occurredAt}" is not a date`, { code: 'utilization_bad_time', where: { field: 'payload.occurredAt' } });
      const statement = await statementOf(payload, lookup, context.pool, flows);
      if (statement === 'unchanged') return { stages: [{ stage: `${payload.demandKey}: status ${payload.status} changes no utilization`, outcome: 'skipped' }] };
      const day = dayIn(flows.costAllocation.timeZone, occurredAt);
      const stages: StageRecord[] = [];
      return {
        stages,
        // The engine writes the stages after inTransaction, in the same transaction: the stage can say what the
        // deltas, computed under the locks, turned out to be.
        inTransaction: async (tx) => {
          stages.push({ stage: await recordUtilization(tx, { ...payload, day, messageId: delivery.messageId, correlationId: delivery.correlationId }, statement), outcome: 'ok' });
        },
      };
    },
  };
}

/** What the record says was used, in Odoo terms; 'unchanged' when its status says nothing about use. */
async function statementOf(payload: CostRecordPayload, lookup: MasterDataLookup, pool: pg.Pool, flows: FlowsConfig): Promise<UsedLine[] | 'unchanged'> {
  if (USED.has(payload.status)) return resolveUsed(payload, lookup, flows, 1);
  if (!UNDONE.has(payload.status)) return 'unchanged';
  // A DFT^P03 credit (FT1-6 CD) usually has a transaction of its own (FT1-2): with nothing recorded under its
  // key it is a negative charge. A credit under the charge's own key, or any undone FHIR record, reverses it.
  if (payload.sourceType.startsWith('DFT') && payload.items.length > 0) {
    const { rows } = await pool.query('select 1 from carelane.utilization_events where demand_key = $1 limit 1', [payload.demandKey]);
    if (rows.length === 0) return resolveUsed(payload, lookup, flows, -1);
  }
  return [];
}

async function resolveUsed(payload: CostRecordPayload, lookup: MasterDataLookup, flows: FlowsConfig, sign: 1 | -1): Promise<UsedLine[]> {
  const unmapped: UnmappedValue[] = [];
  const location = payload.location ? await lookup.mapLocation(payload.location) : undefined;
  if (!location) unmapped.push({ kind: 'location', system: payload.location?.system ?? '', code: payload.location?.code ?? '(none given)' });
  const { mapped, unmapped: unmappedItems } = await lookup.mapItems(payload.items.map((item) => item.code));
  for (const code of unmappedItems) unmapped.push({ kind: 'item', system: code.system, code: code.code });
  if (unmapped.length > 0) throw mappingFailure(unmapped);
  if (location!.analyticAccountId === undefined) {
    // Same detail shape as a missing mapping, so adding the account to the location crosswalk replays it.
    const where = payload.location!;
    throw businessError('mapping_failure', `location ${where.system ? `${where.system}|` : ''}${where.code} (site ${location!.site}) has no analytic account (cost centre) in its crosswalk`, {
      code: 'cost_centre_missing',
      detail: { unmapped: [{ kind: 'location', system: where.system ?? '', code: where.code }] satisfies UnmappedValue[] },
    });
  }
  const serviceLine = payload.procedure?.code ?? 'unassigned';
  const serviceLineAccountId = payload.procedure ? (flows.costAllocation.serviceLines[payload.procedure.code] ?? null) : null;
  const lines = new Map<string, UsedLine>();
  for (const item of payload.items) {
    const productId = mapped.get(itemKey(item.code))!.odooProductId;
    const line: UsedLine = { odooConnection: location!.odooConnection, site: location!.site, departmentAccountId: location!.analyticAccountId, serviceLine, serviceLineAccountId, productId, quantity: 0 };
    const key = lineKey(line);
    const existing = lines.get(key) ?? line;
    existing.quantity += sign * item.quantity;
    lines.set(key, existing);
  }
  return [...lines.values()];
}

interface RecordContext extends CostRecordPayload {
  day: string;
  messageId: number | null;
  correlationId: string;
}

/**
 * Writes the deltas between the statement and what is recorded for the source record. The shared advisory
 * lock keeps the cutoff (exclusive) from closing a period while an event is being placed in it; the per-record
 * lock serialises two messages of one record that the queue did not order (e.g. replays).
 */
async function recordUtilization(tx: pg.PoolClient, record: RecordContext, statement: UsedLine[]): Promise<string> {
  await tx.query(`select pg_advisory_xact_lock_shared(${COST_PERIODS_LOCK})`);
  await tx.query(`select pg_advisory_xact_lock(hashtext('utilization:' || $1))`, [record.demandKey]);
  const { rows: recorded } = await tx.query<UsedLine & { quantity: string }>(
    `select odoo_connection as "odooConnection", site, department_account_id as "departmentAccountId", service_line as "serviceLine",
            service_line_account_id as "serviceLineAccountId", product_id as "productId", sum(quantity) as quantity
     from carelane.utilization_events where demand_key = $1
     group by odoo_connection, site, department_account_id, service_line, service_line_account_id, product_id having sum(quantity) <> 0`,
    [record.demandKey],
  );
  const deltas = new Map<string, UsedLine>();
  for (const line of recorded) deltas.set(lineKey(line), { ...line, quantity: -Number(line.quantity) });
  for (const line of statement) {
    const key = lineKey(line);
    deltas.set(key, { ...line, quantity: (deltas.get(key)?.quantity ?? 0) + line.quantity });
  }
  const changes = [...deltas.values()].filter((line) => Math.abs(line.quantity) > 1e-9);
  if (changes.length === 0) return `${record.demandKey}: utilization already recorded as stated (nothing to add)`;
  const periods = new Map<string, { period: string; late: boolean }>();
  for (const line of changes) {
    if (!periods.has(line.odooConnection)) periods.set(line.odooConnection, await openPeriodFor(tx, line.odooConnection, record.day));
  }
  await tx.query(
    `insert into carelane.utilization_events (event_key, demand_key, source_type, correlation_id, message_id, odoo_connection, site, department_account_id, service_line,
                                              service_line_account_id, product_id, quantity, occurred_at, period, late)
     select $1 || '|' || $2::text || '|' || c || '|' || d || '|' || s || '|' || p, $1, $3, $4, $5, c, site, d, s, sa, p, q, $6, per::date, late
     from unnest($7::text[], $8::text[], $9::int[], $10::text[], $11::int[], $12::int[], $13::numeric[], $14::text[], $15::boolean[]) as t(c, site, d, s, sa, p, q, per, late)
     on conflict (event_key) do nothing`,
    [
      record.demandKey,
      record.messageId ?? record.correlationId,
      record.sourceType,
      record.correlationId,
      record.messageId,
      record.occurredAt,
      changes.map((l) => l.odooConnection),
      changes.map((l) => l.site),
      changes.map((l) => l.departmentAccountId),
      changes.map((l) => l.serviceLine),
      changes.map((l) => l.serviceLineAccountId),
      changes.map((l) => l.productId),
      changes.map((l) => l.quantity),
      changes.map((l) => periods.get(l.odooConnection)!.period),
      changes.map((l) => periods.get(l.odooConnection)!.late),
    ],
  );
  const late = [...periods.values()].find((p) => p.late);
  return `${record.demandKey}: ${changes.length} utilization change(s) recorded in period ${[...new Set([...periods.values()].map((p) => p.period))].join(', ')}${late ? ` (its day ${record.day} was closed: late, moved to the next open period)` : ''}`;
}
