import { Type, type Static } from 'typebox';
import { canonicalContract } from './contract.ts';
import { CodeSchema } from './master-data.ts';
import { business, pii } from './fields.ts';

// What the flows produce from demand (DESIGN.md "Flows"): a reservation (internal transfer reserved in Odoo),
// a replenishment request (a shortfall or a reorder rule below minimum) and a purchase order (RFQ/PO for a
// vendor). None of them carries patient data: they cross to Odoo and suppliers (DESIGN.md principle 4).

const Timestamp = (description: string) => Type.String(business({ description: `${description} (ISO 8601)` }));

export const ReservationSchema = Type.Object(
  {
    correlationId: Type.String(business({ description: 'the business transaction this reservation belongs to' })),
    demandSourceId: Type.String(business({ description: "the demand's source id (DemandSignal.source.id)" })),
    site: Type.String(business()),
    odooConnection: Type.String(business()),
    pickingId: Type.Optional(Type.Integer(business({ minimum: 1, description: 'stock.picking id once created' }))),
    pickingTypeId: Type.Integer(business({ minimum: 1 })),
    sourceLocationId: Type.Integer(business({ minimum: 1, description: "the site's storeroom" })),
    destinationLocationId: Type.Integer(business({ minimum: 1, description: 'the room or department' })),
    scheduledDate: Type.Optional(Timestamp('when the items are needed')),
    state: Type.Enum(['requested', 'reserved', 'partially_available', 'waiting', 'released', 'done', 'failed'], business()),
    lines: Type.Array(
      Type.Object(
        {
          item: CodeSchema,
          odooProductId: Type.Integer(business({ minimum: 1 })),
          quantity: Type.Number(business({ exclusiveMinimum: 0 })),
          reservedQuantity: Type.Number(business({ minimum: 0 })),
        },
        business({ additionalProperties: false }),
      ),
      business(),
    ),
  },
  business({ additionalProperties: false, title: 'Reservation' }),
);
export type Reservation = Static<typeof ReservationSchema>;

export const ReplenishmentRequestSchema = Type.Object(
  {
    id: Type.String(business({ description: 'idempotency key of the request, e.g. shortfall:<correlation id>' })),
    correlationId: Type.Optional(Type.String(business())),
    site: Type.String(business()),
    odooConnection: Type.String(business()),
    reason: Type.Enum(['shortfall', 'reorder_rule', 'manual'], business()),
    destinationLocationId: Type.Integer(business({ minimum: 1, description: 'where the goods are received (the storeroom)' })),
    requestedAt: Timestamp('when the need was found'),
    lines: Type.Array(
      Type.Object(
        {
          odooProductId: Type.Integer(business({ minimum: 1 })),
          quantity: Type.Number(business({ exclusiveMinimum: 0 })),
          uomId: Type.Optional(Type.Integer(business({ minimum: 1 }))),
          neededBy: Type.Optional(Timestamp('latest useful delivery')),
        },
        business({ additionalProperties: false }),
      ),
      business({ minItems: 1 }),
    ),
  },
  business({ additionalProperties: false, title: 'ReplenishmentRequest' }),
);
export type ReplenishmentRequest = Static<typeof ReplenishmentRequestSchema>;

export const PurchaseOrderSchema = Type.Object(
  {
    correlationId: Type.Optional(Type.String(business())),
    reference: Type.String(business({ description: 'the PO number (Odoo purchase.order name), BEG03 of the 850' })),
    origin: Type.Optional(Type.String(business({ description: 'the idempotency key the PO was created with (Odoo origin)' }))),
    site: Type.String(business()),
    odooConnection: Type.String(business()),
    odooOrderId: Type.Optional(Type.Integer(business({ minimum: 1 }))),
    vendorRef: Type.String(business()),
    state: Type.Enum(['draft', 'sent', 'to approve', 'purchase', 'done', 'cancel'], business({ description: "Odoo's purchase.order state" })),
    currency: Type.String(business({ pattern: '^[A-Z]{3}$', description: 'ISO 4217' })),
    orderedAt: Type.Optional(Timestamp('date_order')),
    expectedAt: Type.Optional(Timestamp('date_planned')),
    // the buyer's name and mail go to the supplier on the 850 (PER segment): a person, so PII
    buyerName: Type.Optional(Type.String(pii())),
    buyerEmail: Type.Optional(Type.String(pii({ format: 'email' }))),
    lines: Type.Array(
      Type.Object(
        {
          odooProductId: Type.Integer(business({ minimum: 1 })),
          supplierSku: Type.Optional(Type.String(business({ description: "the vendor's item code (supplier item crosswalk)" }))),
          gtin: Type.Optional(Type.String(business())),
          quantity: Type.Number(business({ exclusiveMinimum: 0 })),
          unitPrice: Type.Number(business({ minimum: 0 })),
          uom: Type.Optional(Type.String(business())),
        },
        business({ additionalProperties: false }),
      ),
      business({ minItems: 1 }),
    ),
  },
  business({ additionalProperties: false, title: 'PurchaseOrder' }),
);
export type PurchaseOrder = Static<typeof PurchaseOrderSchema>;

export const ReservationContract = canonicalContract('reservation', '1.0.0', ReservationSchema);
export const ReplenishmentRequestContract = canonicalContract('replenishment-request', '1.0.0', ReplenishmentRequestSchema);
export const PurchaseOrderContract = canonicalContract('purchase-order', '1.0.0', PurchaseOrderSchema);
