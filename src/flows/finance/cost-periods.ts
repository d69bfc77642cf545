import type { Queryable } from '../../store/database.ts';

/**
 * Periods of cost allocation are calendar days in the configured time zone (flows.costAllocation.timeZone):
 * a hospital's "yesterday" is its own, not UTC's. Days are 'YYYY-MM-DD' strings throughout, as PostgreSQL's
 * `date` type and Odoo's date fields write them.
 */

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The calendar day of an instant in a time zone ('en-CA' formats as YYYY-MM-DD). */
export function dayIn(timeZone: string, at: Date): string {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    formatters.set(timeZone, format);
  }
  return format.format(at);
}

export function addDays(day: string, days: number): string {
  const [year, month, date] = day.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(year, month - 1, date + days)).toISOString().slice(0, 10);
}

/** Advisory lock keys: recording takes the shared lock, the cutoff the exclusive one (see recordUtilization). */
export const COST_PERIODS_LOCK = "hashtext('carelane.cost_periods')";

/**
 * The period an event of `day` belongs to: its own day while open, else the first open day after it. A closed
 * period is never reopened (the cutoff closes days in order, so this walks at most a few rows).
 */
export async function openPeriodFor(db: Queryable, odooConnection: string, day: string): Promise<{ period: string; late: boolean }> {
  const { rows } = await db.query<{ period: string }>(
    `select to_char(period, 'YYYY-MM-DD') as period from carelane.cost_periods where odoo_connection = $1 and period >= $2::date order by period`,
    [odooConnection, day],
  );
  const closed = new Set(rows.map((row) => row.period));
  let period = day;
  while (closed.has(period)) period = addDays(period, 1);
  return { period, late: period !== day };
}
