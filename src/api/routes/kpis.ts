import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { cachedKpis, computeKpis } from '../../observability/kpis.ts';
import type { ApiContext } from '../context.ts';

const Nullable = (schema: ReturnType<typeof Type.Number>) => Type.Union([schema, Type.Null()]);

const KpiReply = Type.Object({
  windowDays: Type.Integer(),
  computedAt: Type.String({ format: 'date-time' }),
  orderAcknowledgmentLatencyMinutes: Nullable(Type.Number()),
  procurementCycleTimeHours: Nullable(Type.Number()),
  invoiceFirstPassMatchRate: Nullable(Type.Number({ description: 'percent' })),
  manualTouchesPerTransaction: Nullable(Type.Number()),
  suppliers: Type.Array(
    Type.Object({
      vendorId: Type.Integer(),
      orders: Type.Integer(),
      ackLatencyMinutes: Nullable(Type.Number()),
      asnLeadHours: Nullable(Type.Number()),
      onTimePercent: Nullable(Type.Number()),
      fillRatePercent: Nullable(Type.Number()),
    }),
  ),
  stockoutRisk: Type.Array(
    Type.Object({
      site: Type.String(),
      productId: Type.Integer(),
      onHand: Type.Union([Type.Number(), Type.Null()], { description: "null: the site's stock could not be read (stockoutRiskUnavailable)" }),
      incoming: Type.Number(),
      demand: Type.Number(),
      coverage: Type.Union([Type.Number(), Type.Null()], { description: 'null: no demand, or on hand unknown' }),
      atRisk: Type.Union([Type.Boolean(), Type.Null()], { description: 'null: unknown, on hand could not be read' }),
    }),
  ),
  stockoutRiskUnavailable: Type.Array(Type.Object({ site: Type.String(), reason: Type.String() }), { description: 'sites whose on-hand stock could not be read from Odoo, and why' }),
});

/** GET /api/v1/kpis: supply-chain KPIs and supplier milestones (docs/finance.md), computed from Carelane's records. */
export function kpiRoutes(app: FastifyInstance, context: ApiContext): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const windowDays = context.config.flows.milestones.windowDays;
  const kpis = context.kpis ?? cachedKpis(() => computeKpis(context.pool, { windowDays, leadTimeDays: 7 }));
  api.get(
    '/api/v1/kpis',
    {
      config: { permission: 'messages:read' },
      schema: { tags: ['finance'], summary: 'Stockout risk, procurement cycle time, acknowledgment latency, first-pass match rate, manual touches, supplier milestones', response: { 200: KpiReply } },
    },
    async () => {
      const result = await kpis();
      // JSON has no Infinity: an item with no demand has no coverage figure.
      return { ...result, stockoutRisk: result.stockoutRisk.map((r) => ({ ...r, coverage: r.coverage !== null && Number.isFinite(r.coverage) ? r.coverage : null })) };
    },
  );
}
