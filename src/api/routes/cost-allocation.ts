import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { closeCostPeriods, costPeriods } from '../../flows/finance/index.ts';
import { actorOf } from '../auth.ts';
import type { ApiContext } from '../context.ts';

const Day = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

const CostPeriod = Type.Object({
  odooConnection: Type.String(),
  period: Day,
  departmentAccountId: Type.Integer({ description: 'the analytic account (cost centre) of the department' }),
  closed: Type.Boolean({ description: 'closed by a cutoff: no event joins it any more' }),
  events: Type.Integer(),
  lateEvents: Type.Integer({ description: 'events whose own day was already closed, moved into this period' }),
  quantity: Type.Number({ description: 'net quantity used (credits and reversals subtracted)' }),
  entryKey: Nullable(Type.String()),
  postedQuantity: Nullable(Type.Number()),
  amount: Nullable(Type.Number({ description: 'posted cost, at Odoo standard prices when posted' })),
  moveId: Nullable(Type.Integer()),
  moveName: Nullable(Type.String()),
  reconciled: Nullable(Type.Boolean({ description: 'posted, and the entry holds exactly the quantity the events add up to' })),
});

/** Cost allocation (docs/finance.md "Cost allocation"): periods by department, and the cutoff on demand. */
export function costAllocationRoutes(app: FastifyInstance, context: ApiContext): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.get(
    '/api/v1/cost-allocation/periods',
    {
      config: { permission: 'messages:read' },
      schema: {
        tags: ['finance'],
        summary: 'Utilization per period and department: used, posted, and whether the two agree; newest first',
        querystring: Type.Object({ connection: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })), from: Type.Optional(Day), to: Type.Optional(Day), limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }) }),
        response: { 200: Type.Object({ periods: Type.Array(CostPeriod) }) },
      },
    },
    async (request) => {
      const { connection, from, to, limit } = request.query;
      return { periods: await costPeriods(context.pool, { ...(connection ? { odooConnection: connection } : {}), ...(from ? { from } : {}), ...(to ? { to } : {}), limit }) };
    },
  );
  api.post(
    '/api/v1/cost-allocation/cutoff',
    {
      config: { permission: 'costs:close' },
      schema: {
        tags: ['finance'],
        summary: 'Close every day before today (flows.costAllocation.timeZone) and post its entries to Odoo (on the cost allocation lane); audited',
        response: {
          200: Type.Object({
            closed: Type.Array(Type.Object({ odooConnection: Type.String(), from: Day, to: Day })),
            entries: Type.Array(Type.Object({ entryKey: Type.String(), odooConnection: Type.String(), period: Day, departmentAccountId: Type.Integer() })),
          }),
        },
      },
    },
    async (request) => closeCostPeriods(context.pool, context.config.flows, Object.keys(context.config.odoo.connections), actorOf(request)),
  );
}
