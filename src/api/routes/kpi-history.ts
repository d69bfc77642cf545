import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { readKpiHistory } from '../../observability/kpi-history.ts';
import type { ApiContext } from '../context.ts';

const Figure = (description: string) => Type.Union([Type.Number(), Type.Null()], { description });

const Snapshot = Type.Object({
  day: Type.String({ format: 'date', description: 'UTC day' }),
  site: Type.Union([Type.String(), Type.Null()], { description: 'null: the whole network' }),
  windowDays: Type.Integer(),
  orderAcknowledgmentLatencyMinutes: Figure('PO sent → first acknowledgment, minutes'),
  procurementCycleTimeHours: Figure('demand → first receipt, hours'),
  invoiceFirstPassMatchRate: Figure('percent'),
  manualTouchesPerTransaction: Figure('network row only'),
  itemsWatched: Type.Integer(),
  itemsAtRisk: Type.Union([Type.Integer(), Type.Null()], { description: 'null: on-hand stock could not be read from Odoo for the site (network row: for some site)' }),
  openExceptions: Type.Union([Type.Integer(), Type.Null()], { description: 'network row only' }),
  computedAt: Type.String({ format: 'date-time' }),
});

/** GET /api/v1/kpis/history: the daily KPI snapshots (src/observability/kpi-history.ts) for the executive view. */
export function kpiHistoryRoutes(app: FastifyInstance, context: ApiContext): void {
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/api/v1/kpis/history',
    {
      config: { permission: 'messages:read' },
      schema: {
        tags: ['finance'],
        summary: 'KPIs per site and for the network, one snapshot per day (the kpi-snapshots job)',
        querystring: Type.Object({
          days: Type.Integer({ minimum: 1, maximum: 730, default: 30, description: 'how many days back, today included' }),
          site: Type.Optional(Type.String({ minLength: 1, description: "one site's rows (and the network's); default: every site" })),
        }),
        response: { 200: Type.Object({ days: Type.Integer(), sites: Type.Array(Type.String()), snapshots: Type.Array(Snapshot) }) },
      },
    },
    async (request) => {
      const { days, site } = request.query;
      const snapshots = await readKpiHistory(context.pool, { days, site });
      const sites = [...new Set(snapshots.flatMap((s) => (s.site === null ? [] : [s.site])))].sort();
      return { days, sites, snapshots };
    },
  );
}
