import type pg from 'pg';
import type { FlowsConfig } from '../../config/schema.ts';
import { appendAudit } from '../../governance/audit.ts';
import { inTransaction } from '../../store/database.ts';
import { enqueueDeliveries, type NewDelivery } from '../../store/queue.ts';
import { addDays, COST_PERIODS_LOCK, dayIn } from './cost-periods.ts';

/** The payload of a `cost.post_entry` delivery: one journal entry, per Odoo connection, period and department. */
export interface CostEntryPayload {
  entryKey: string;
  odooConnection: string;
  period: string;
  departmentAccountId: number;
}

export interface CutoffResult {
  /** the days closed by this run, per Odoo connection */
  closed: Array<{ odooConnection: string; from: string; to: string }>;
  /** the journal entries handed to `cost.post_entry` */
  entries: CostEntryPayload[];
}

/**
 * The daily cutoff (flows.costAllocation.cutoffCron, `carelane costs close`, POST /api/v1/cost-allocation/cutoff):
 * every day before today (in the configured time zone) is closed for each Odoo connection, in order and without
 * gaps, and the events of the closed days are frozen into entries — one per connection, period and department —
 * each posted to Odoo by its own `cost.post_entry` on the cost allocation lane (retries, dead letters and replay
 * as for any delivery). The exclusive lock waits for events being recorded; events arriving after it see the
 * days closed and go to the next open period. Running it twice closes nothing twice.
 */
export async function closeCostPeriods(pool: pg.Pool, flows: FlowsConfig, odooConnections: readonly string[], actor: string, now = new Date()): Promise<CutoffResult> {
  const { timeZone, lane } = flows.costAllocation;
  const lastDay = addDays(dayIn(timeZone, now), -1);
  return inTransaction(pool, async (tx) => {
    await tx.query(`select pg_advisory_xact_lock(${COST_PERIODS_LOCK})`);
    const { rows: pending } = await tx.query<{ odoo_connection: string }>('select distinct odoo_connection from carelane.utilization_events where entry_key is null');
    const connections = [...new Set([...odooConnections, ...pending.map((row) => row.odoo_connection)])].sort();
    const result: CutoffResult = { closed: [], entries: [] };
    for (const connection of connections) {
      const { rows } = await tx.query<{ last_closed: string | null; first_open: string | null }>(
        `select (select to_char(max(period), 'YYYY-MM-DD') from carelane.cost_periods where odoo_connection = $1) as last_closed,
                (select to_char(min(period), 'YYYY-MM-DD') from carelane.utilization_events where odoo_connection = $1 and entry_key is null) as first_open`,
        [connection],
      );
      const { last_closed: lastClosed, first_open: firstOpen } = rows[0]!;
      const from = lastClosed ? addDays(lastClosed, 1) : firstOpen && firstOpen < lastDay ? firstOpen : lastDay;
      if (from <= lastDay) {
        await tx.query(
          `insert into carelane.cost_periods (odoo_connection, period) select $1, d::date from generate_series($2::date, $3::date, interval '1 day') as d on conflict do nothing`,
          [connection, from, lastDay],
        );
        result.closed.push({ odooConnection: connection, from, to: lastDay });
      }
      const { rows: frozen } = await tx.query<{ entry_key: string; period: string; department_account_id: number }>(
        `update carelane.utilization_events set entry_key = format('cost:%s:%s:%s', odoo_connection, to_char(period, 'YYYY-MM-DD'), department_account_id)
         where odoo_connection = $1 and entry_key is null and period <= $2::date
         returning entry_key, to_char(period, 'YYYY-MM-DD') as period, department_account_id`,
        [connection, lastDay],
      );
      const seen = new Set<string>();
      for (const row of frozen) {
        if (seen.has(row.entry_key)) continue;
        seen.add(row.entry_key);
        result.entries.push({ entryKey: row.entry_key, odooConnection: connection, period: row.period, departmentAccountId: row.department_account_id });
      }
    }
    const deliveries: NewDelivery[] = result.entries.map((entry) => ({
      lane,
      action: 'cost.post_entry',
      endpoint: entry.odooConnection,
      idempotencyKey: `cost.post_entry:${entry.entryKey}`,
      correlationId: `cost:${entry.odooConnection}:${entry.period}`,
      orderingKey: `cost:${entry.odooConnection}`,
      payload: entry,
    }));
    await enqueueDeliveries(tx, deliveries);
    // Closing a period is a financial control: who closed which days is in the audit trail.
    for (const closed of result.closed) {
      await appendAudit(tx, { actor, action: 'cost.cutoff', targetType: 'cost_period', targetId: `${closed.odooConnection}:${closed.from}..${closed.to}`, detail: { ...closed, entries: result.entries.filter((e) => e.odooConnection === closed.odooConnection).map((e) => e.entryKey) } });
    }
    return result;
  });
}
