import { permanentError } from '../../contracts/errors.ts';
import { analyticDistribution, JournalEntryGateway, ProductGateway, type AnalyticDistribution, type JournalLine, type OdooClientFor, type OdooVersion } from '../../connectors/odoo/index.ts';
import type { FlowsConfig } from '../../config/schema.ts';
import type { DeliveryHandler, HandlerResult } from '../../engine/handlers.ts';
import { payloadOf } from '../step-payload.ts';
import type { CostEntryPayload } from './cost-cutoff.ts';

/** One line of a cost entry as stored in carelane.cost_entries.lines and shown by the API. */
export interface CostLine {
  productId: number;
  serviceLine: string;
  serviceLineAccountId: number | null;
  quantity: number;
  events: number;
  late: number;
  unitCost: number;
  amount: number;
}

const cents = (value: number): number => Math.round(value * 100) / 100;

/**
 * Where a cost goes (reference/odoo.md §2.11): the department's analytic account, and the service line's when
 * mapped. 17+ combines plans in one comma-joined key ("dept,line": 100); 16 has one key per account, each plan
 * adding up to 100 on its own.
 */
export function costDistribution(version: OdooVersion, departmentAccountId: number, serviceLineAccountId: number | null): AnalyticDistribution {
  if (serviceLineAccountId === null) return analyticDistribution([{ accountIds: [departmentAccountId], percentage: 100 }]);
  if (version >= 17) return analyticDistribution([{ accountIds: [departmentAccountId, serviceLineAccountId], percentage: 100 }]);
  return analyticDistribution([
    { accountIds: [departmentAccountId], percentage: 100 },
    { accountIds: [serviceLineAccountId], percentage: 100 },
  ]);
}

/**
 * Sets each line's unit cost and amount from the expense lines of a move already in Odoo (per product: its
 * net expense over its quantity) and returns the entry's net amount as posted.
 */
export function adoptPostedPrices(lines: CostLine[], posted: JournalLine[], expenseAccountId: number): number {
  const byProduct = new Map<number, { amount: number; quantity: number }>();
  for (const line of posted) {
    if (line.accountId !== expenseAccountId || line.productId === undefined) continue;
    const sum = byProduct.get(line.productId) ?? { amount: 0, quantity: 0 };
    sum.amount += line.debit - line.credit;
    sum.quantity += line.quantity ?? 0;
    byProduct.set(line.productId, sum);
  }
  for (const line of lines) {
    const sum = byProduct.get(line.productId);
    line.unitCost = sum && sum.quantity !== 0 ? sum.amount / sum.quantity : 0;
    line.amount = cents(line.quantity * line.unitCost);
  }
  return cents([...byProduct.values()].reduce((total, sum) => total + sum.amount, 0));
}

/**
 * `cost.post_entry` (endpoint = the Odoo connection): the frozen events of one closed period and department
 * become one balanced journal entry in Odoo — a line per product and service line debiting the expense account
 * with quantity × the product's standard_price at posting, carrying the analytic distribution, and one
 * counterpart line (credit) — posted once: the entry key is its external id, and carelane.cost_entries records
 * what was posted so a replay posts nothing. A net credit (reversals above use) swaps debit and credit.
 */
export function costPostStep(clientFor: OdooClientFor, flows: FlowsConfig): DeliveryHandler {
  return {
    action: 'cost.post_entry',
    async run(delivery, context): Promise<HandlerResult> {
      const entry = payloadOf<CostEntryPayload>(delivery.payload, 'cost.post_entry', ['entryKey', 'odooConnection', 'period', 'departmentAccountId']);
      const { rows: posted } = await context.pool.query<{ move_name: string | null }>('select move_name from carelane.cost_entries where entry_key = $1', [entry.entryKey]);
      if (posted.length > 0) return { stages: [{ stage: `${entry.entryKey}: already posted${posted[0]!.move_name ? ` as ${posted[0]!.move_name}` : ''}`, outcome: 'skipped' }] };
      const { rows: groups } = await context.pool.query<{ product_id: number; service_line: string; service_line_account_id: number | null; quantity: string; events: string; late: string }>(
        `select product_id, service_line, service_line_account_id, sum(quantity) as quantity, count(*) as events, count(*) filter (where late) as late
         from carelane.utilization_events where entry_key = $1 group by 1, 2, 3 order by 1, 2, 3`,
        [entry.entryKey],
      );
      if (groups.length === 0) return { stages: [{ stage: `${entry.entryKey}: no utilization in it`, outcome: 'skipped' }] };
      const { expenseAccountId, counterpartAccountId, journalId } = flows.costAllocation;
      if (!expenseAccountId || !counterpartAccountId) {
        throw permanentError('cost allocation needs flows.costAllocation.expenseAccountId and counterpartAccountId (Odoo account.account ids) to post', {
          code: 'cost_allocation_unconfigured',
          where: { field: expenseAccountId ? 'flows.costAllocation.counterpartAccountId' : 'flows.costAllocation.expenseAccountId' },
        });
      }
      const client = await clientFor(entry.odooConnection);
      const productIds = [...new Set(groups.map((g) => g.product_id))];
      const prices = await new ProductGateway(client, { signal: context.signal }).standardPrices(productIds);
      const missing = productIds.filter((id) => !prices.has(id));
      if (missing.length > 0) throw permanentError(`products ${missing.join(', ')} do not exist in Odoo ${entry.odooConnection}: no unit cost`, { code: 'cost_product_unknown', where: { field: 'product_id' } });

      const lines: CostLine[] = groups.map((g) => {
        const quantity = Number(g.quantity);
        const unitCost = prices.get(g.product_id)!;
        return { productId: g.product_id, serviceLine: g.service_line, serviceLineAccountId: g.service_line_account_id, quantity, events: Number(g.events), late: Number(g.late), unitCost, amount: cents(quantity * unitCost) };
      });
      let amount = cents(lines.reduce((sum, line) => sum + line.amount, 0));
      const quantity = lines.reduce((sum, line) => sum + line.quantity, 0);
      const journal: JournalLine[] = lines
        .filter((line) => line.amount !== 0)
        .map((line) => ({
          accountId: expenseAccountId,
          name: `Supplies used ${entry.period}${line.serviceLine === 'unassigned' ? '' : ` (${line.serviceLine})`}`,
          debit: Math.max(line.amount, 0),
          credit: Math.max(-line.amount, 0),
          productId: line.productId,
          quantity: line.quantity,
          analyticDistribution: costDistribution(client.version, entry.departmentAccountId, line.serviceLineAccountId),
        }));
      let move: { moveId: number | null; name: string | null; state: string | null } = { moveId: null, name: null, state: null };
      if (journal.length > 0) {
        journal.push({ accountId: counterpartAccountId, name: `Supplies used ${entry.period}, cost centre ${entry.departmentAccountId}`, debit: Math.max(-amount, 0), credit: Math.max(amount, 0) });
        const gateway = new JournalEntryGateway(client, { signal: context.signal });
        const recorded = await gateway.record({
          key: entry.entryKey,
          date: entry.period,
          reference: `Carelane ${entry.entryKey}`,
          ...(journalId ? { journalId } : {}),
          lines: journal,
        });
        move = { moveId: recorded.moveId, name: recorded.name, state: recorded.state };
        if (!recorded.created) {
          // A retry after the move was posted (a crash or lost answer before this delivery completed): Odoo holds
          // the prices of the first attempt, and standard_price may have changed since. Record what Odoo has.
          amount = adoptPostedPrices(lines, await gateway.lines(recorded.moveId), expenseAccountId);
        }
      }
      const events = lines.reduce((sum, line) => sum + line.events, 0);
      return {
        stages: [
          {
            stage: move.moveId === null
              ? `${entry.entryKey}: ${events} event(s) cost nothing at Odoo's standard prices: no journal entry`
              : `${entry.entryKey}: posted ${move.name} — ${journal.length - 1} line(s), ${amount.toFixed(2)} to cost centre ${entry.departmentAccountId}, period ${entry.period}`,
            outcome: 'ok',
          },
        ],
        inTransaction: async (tx) => {
          await tx.query(
            `insert into carelane.cost_entries (entry_key, odoo_connection, period, department_account_id, move_id, move_name, move_state, amount, quantity, events, lines)
             values ($1, $2, $3::date, $4, $5, $6, $7, $8, $9, $10, $11::jsonb)`,
            [entry.entryKey, entry.odooConnection, entry.period, entry.departmentAccountId, move.moveId, move.name, move.state, amount, quantity, events, JSON.stringify(lines)],
          );
          await tx.query(
            'update carelane.utilization_events e set unit_cost = p.cost from unnest($2::int[], $3::numeric[]) as p(product, cost) where e.entry_key = $1 and e.product_id = p.product',
            [entry.entryKey, lines.map((l) => l.productId), lines.map((l) => l.unitCost)],
          );
        },
      };
    },
  };
}
