import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { listInvoiceMatches } from '../../flows/finance/index.ts';
import { jsonify } from '../json.ts';
import type { ApiContext } from '../context.ts';

const InvoiceMatch = Type.Object({
  matchKey: Type.String(),
  poName: Type.Union([Type.String(), Type.Null()]),
  invoiceNumber: Type.String(),
  invoiceDate: Type.Union([Type.String(), Type.Null()]),
  vendorId: Type.Integer(),
  billId: Type.Union([Type.Integer(), Type.Null()]),
  billState: Type.Union([Type.String(), Type.Null()]),
  outcome: Type.String({ description: 'matched | price_variance | quantity_variance | accepted' }),
  firstPass: Type.Boolean({ description: 'matched within tolerance at the first evaluation, without a person' }),
  lines: Type.Unknown({ description: 'per line: ordered quantity and PO price, received, previously invoiced, invoiced quantity and price, differences, verdicts' }),
  tolerance: Type.Unknown(),
  acceptedBy: Type.Union([Type.String(), Type.Null()]),
  acceptedNote: Type.Union([Type.String(), Type.Null()]),
  acceptedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  correlationId: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});

/** GET /api/v1/invoice-matches?po=P00042: the 3-way matches Carelane computed (docs/finance.md). */
export function invoiceMatchRoutes(app: FastifyInstance, context: ApiContext): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.get(
    '/api/v1/invoice-matches',
    {
      config: { permission: 'messages:read' },
      schema: {
        tags: ['finance'],
        summary: 'Invoice 3-way matches (PO, receipt, invoice per line), newest first; ?po= an Odoo PO number or Carelane PO key',
        querystring: Type.Object({ po: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })), limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }) }),
        response: { 200: Type.Object({ matches: Type.Array(InvoiceMatch) }) },
      },
    },
    async (request) => ({ matches: jsonify(await listInvoiceMatches(context.pool, { ...(request.query.po ? { po: request.query.po } : {}), limit: request.query.limit })) }),
  );
}
