import type { Queryable } from '../../store/database.ts';

/** One period and department as the API shows it: what was used, what was posted, and whether they agree. */
export interface CostPeriodView {
  odooConnection: string;
  period: string;
  departmentAccountId: number;
  /** closed by a cutoff: no event will ever join it again */
  closed: boolean;
  events: number;
  /** events whose own day was already closed, moved into this period */
  lateEvents: number;
  /** net quantity of supplies used (credits and reversals subtracted) */
  quantity: number;
  /** frozen into an entry and waiting for cost.post_entry, or posted */
  entryKey: string | null;
  postedQuantity: number | null;
  amount: number | null;
  moveId: number | null;
  moveName: string | null;
  /** posted and the entry's quantity equals the events' (totals reconcile with consumption) */
  reconciled: boolean | null;
}

/** Periods per connection and department, newest first; `from`/`to` are days (inclusive). */
export async function costPeriods(db: Queryable, query: { odooConnection?: string; from?: string; to?: string; limit: number }): Promise<CostPeriodView[]> {
  const { rows } = await db.query<CostPeriodView>(
    `select e.odoo_connection as "odooConnection", to_char(e.period, 'YYYY-MM-DD') as period, e.department_account_id as "departmentAccountId",
            exists (select 1 from carelane.cost_periods p where p.odoo_connection = e.odoo_connection and p.period = e.period) as closed,
            count(*)::int as events, (count(*) filter (where e.late))::int as "lateEvents", sum(e.quantity)::float8 as quantity,
            max(e.entry_key) as "entryKey", max(c.quantity)::float8 as "postedQuantity", max(c.amount)::float8 as amount,
            max(c.move_id) as "moveId", max(c.move_name) as "moveName",
            case when max(c.entry_key) is null then null else max(c.quantity) = sum(e.quantity) end as reconciled
     from carelane.utilization_events e left join carelane.cost_entries c on c.entry_key = e.entry_key
     where ($1::text is null or e.odoo_connection = $1) and ($2::date is null or e.period >= $2::date) and ($3::date is null or e.period <= $3::date)
     group by e.odoo_connection, e.period, e.department_account_id
     order by e.period desc, e.odoo_connection, e.department_account_id
     limit $4`,
    [query.odooConnection ?? null, query.from ?? null, query.to ?? null, query.limit],
  );
  return rows;
}
