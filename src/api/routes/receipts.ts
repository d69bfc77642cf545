import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { CarelaneError } from '../../contracts/errors.ts';
import { findReceipt, readReceiptDocument, receiptBatchKey, RECEIPT_MESSAGE_TYPE } from '../../flows/supplier/index.ts';
import { insertInbound, notifyLanes } from '../../store/messages.ts';
import { findPurchaseOrderByName } from '../../store/demands.ts';
import { newCorrelationId } from '../../observability/correlation.ts';
import { jsonify } from '../json.ts';
import type { ApiContext } from '../context.ts';
import { ErrorReply } from '../schemas.ts';

// Receiving against a purchase order (docs/flows.md "Supplier cycle"): a batch of GS1 scans or lines is stored
// as a message (source receipts:api, type RECEIPT) and processed by flow.receipt → supplier.receive. The batch
// id makes it idempotent: sent again, the first batch's answer comes back and nothing is received twice.

export const RECEIPTS_SOURCE = 'receipts:api';

const ReceiptBody = Type.Object(
  {
    batchId: Type.String({ minLength: 1, maxLength: 200, description: "the scanner's or warehouse system's id of this batch: the idempotency key" }),
    poNumber: Type.String({ minLength: 1, maxLength: 200, description: 'the Odoo PO number (purchase.order name)' }),
    scans: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 500 }), { maxItems: 5000, description: 'GS1 element strings: "(01)…(10)…(17)…(30)…", or scan data "]C1…"/"]d2…" with GS separators' })),
    lines: Type.Optional(
      Type.Array(
        Type.Object(
          {
            gtin: Type.Optional(Type.String({ pattern: '^(\\d{8}|\\d{12,14})$' })),
            productId: Type.Optional(Type.Integer({ minimum: 1 })),
            lot: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
            serial: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
            expiryDate: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' })),
            quantity: Type.Number({ exclusiveMinimum: 0 }),
          },
          { additionalProperties: false },
        ),
        { maxItems: 5000 },
      ),
    ),
    closeRest: Type.Optional(Type.Boolean({ description: 'a short receipt closes the rest (no backorder); default false: Odoo keeps a backorder' })),
  },
  { additionalProperties: false },
);

const Accepted = Type.Object({
  batchId: Type.String(),
  messageId: Type.Integer(),
  correlationId: Type.String(),
  duplicate: Type.Boolean(),
  status: Type.String({ description: 'received (being processed), validated or refused' }),
});

const ReceiptReply = Type.Object({
  batchId: Type.String(),
  poKey: Type.String(),
  correlationId: Type.String(),
  messageId: Type.Union([Type.Integer(), Type.Null()]),
  status: Type.String(),
  pickingId: Type.Union([Type.Integer(), Type.Null()]),
  backorderId: Type.Union([Type.Integer(), Type.Null()]),
  lines: Type.Unknown(),
  outcome: Type.Unknown(),
  received: Type.Array(Type.Object({ odooPurchaseLineId: Type.Integer(), productId: Type.Integer(), quantity: Type.Number(), lots: Type.Unknown() })),
  createdAt: Type.String(),
  validatedAt: Type.Union([Type.String(), Type.Null()]),
});

export function receiptRoutes(app: FastifyInstance, context: ApiContext): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.post(
    '/api/v1/receipts',
    {
      config: { permission: 'receipts:write' },
      schema: {
        tags: ['receipts'],
        summary: 'Receive goods against a purchase order: GS1 scans or lines, validated into the Odoo receipt (short → backorder, over within tolerance, several lots per line); idempotent per batchId',
        body: ReceiptBody,
        response: { 200: Accepted, 202: Accepted, 400: ErrorReply, 404: ErrorReply, 409: ErrorReply },
      },
    },
    async (request, reply) => {
      let document;
      try {
        document = readReceiptDocument(request.body);
      } catch (error) {
        if (error instanceof CarelaneError) return reply.code(400).send({ error: error.code, message: error.message });
        throw error;
      }
      const named = await findPurchaseOrderByName(context.pool, document.poNumber);
      if (!named) return reply.code(404).send({ error: 'po_unknown', message: `purchase order ${document.poNumber} is not one Carelane placed` });
      // Each Odoo database numbers its own orders: a number on two connections could be either order, and a
      // receipt into the wrong database cannot be taken back by Carelane. The PO key names one order.
      if (named.connections.length > 1) {
        return reply.code(409).send({ error: 'po_ambiguous', message: `purchase order ${document.poNumber} names orders on more than one Odoo connection (${named.connections.join(', ')}): send the order's PO key as poNumber` });
      }
      const payload = Buffer.from(JSON.stringify(request.body));
      const contentHash = createHash('sha256').update(payload).digest('hex');
      const lane = context.config.flows.supplier.lane;
      const [stored] = await insertInbound(context.pool, [{
        source: RECEIPTS_SOURCE,
        messageType: RECEIPT_MESSAGE_TYPE,
        externalId: document.batchId,
        dedupeKey: `id:${document.batchId}`,
        contentHash,
        correlationId: newCorrelationId(),
        status: 'received',
        statusReason: null,
        contentType: 'application/json',
        payload,
        payloadSize: payload.length,
        payloadTruncated: false,
        ackPayload: null,
        // No route to configure: receipts always go to flow.receipt, one PO's batches in order.
        route: { lane, flow: 'receipt', orderingKey: `po:${document.poNumber}` },
      }]);
      if (stored!.duplicate) {
        const { rows: first } = await context.pool.query<{ content_hash: string }>('select content_hash from carelane.messages where id = $1', [stored!.messageId]);
        if (first[0]?.content_hash !== contentHash) {
          return reply.code(409).send({ error: 'batch_id_reused', message: `batch ${document.batchId} was received before with other content (message ${stored!.messageId}); use a new batchId` });
        }
      } else {
        await notifyLanes(context.pool, [lane]);
      }
      const receipt = await findReceipt(context.pool, receiptBatchKey(RECEIPTS_SOURCE, document.batchId));
      return reply.code(stored!.duplicate ? 200 : 202).send({ batchId: document.batchId, messageId: stored!.messageId, correlationId: stored!.correlationId, duplicate: stored!.duplicate, status: receipt?.status ?? 'received' });
    },
  );
  api.get(
    '/api/v1/receipts/:batchId',
    {
      config: { permission: 'messages:read' },
      schema: {
        tags: ['receipts'],
        summary: 'A receipt batch: its status, the picking validated, the backorder, and the received quantity per PO line',
        params: Type.Object({ batchId: Type.String({ minLength: 1, maxLength: 200 }) }),
        response: { 200: ReceiptReply, 404: ErrorReply },
      },
    },
    async (request, reply) => {
      const batchKey = receiptBatchKey(RECEIPTS_SOURCE, request.params.batchId);
      const receipt = await findReceipt(context.pool, batchKey);
      if (!receipt) return reply.code(404).send({ error: 'not_found', message: `no receipt batch ${request.params.batchId}` });
      const { rows } = await context.pool.query<{ odoo_purchase_line_id: number; product_id: number; quantity_received: string; lots: unknown }>(
        'select odoo_purchase_line_id, product_id, quantity_received, lots from carelane.po_line_receipts where batch_key = $1 order by odoo_purchase_line_id',
        [batchKey],
      );
      const { batchKey: _key, ...rest } = receipt;
      return jsonify({
        batchId: request.params.batchId,
        ...rest,
        received: rows.map((r) => ({ odooPurchaseLineId: r.odoo_purchase_line_id, productId: r.product_id, quantity: Number(r.quantity_received), lots: r.lots })),
      });
    },
  );
}
