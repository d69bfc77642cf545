import { Type, type Static } from 'typebox';
import { canonicalContract, type CanonicalContract } from './contract.ts';
import { business } from './fields.ts';

// The canonical events the flows write to the event outbox (docs/flows.md "Modes"; src/connectors/events). Each
// topic has a contract registered under the topic's own name, so the registry governs it like any other
// contract (propose, approve) and the outbox checks every event against its active versions before it is
// written (src/contracts/enforcement.ts). None of them carries patient data: they go to other systems.

const Key = (description: string) => Type.String(business({ minLength: 1, description }));

export const ReservationOutcomeEventSchema = Type.Object(
  {
    demandKey: Key('the demand the reservation serves (carelane.demands.demand_key)'),
    reservationKey: Key('the Odoo external id of the transfer; one per demand revision'),
    site: Type.String(business()),
    pickingId: Type.Integer(business({ minimum: 1, description: 'the stock.picking id in Odoo' })),
    lines: Type.Array(
      Type.Object(
        {
          productId: Type.Integer(business({ minimum: 1, description: 'product.product id' })),
          quantity: Type.Number(business({ minimum: 0, description: 'requested' })),
          reserved: Type.Number(business({ minimum: 0, description: 'what Odoo could reserve' })),
        },
        business({ additionalProperties: false }),
      ),
      business(),
    ),
  },
  business({ additionalProperties: false, title: 'ReservationOutcomeEvent' }),
);
export type ReservationOutcomeEvent = Static<typeof ReservationOutcomeEventSchema>;

export const ReservationReleasedEventSchema = Type.Object(
  {
    demandKey: Key('the demand whose reservation was released'),
    reservationKey: Key('the Odoo external id of the cancelled transfer'),
  },
  business({ additionalProperties: false, title: 'ReservationReleasedEvent' }),
);
export type ReservationReleasedEvent = Static<typeof ReservationReleasedEventSchema>;

export const PurchaseOrderPlacedEventSchema = Type.Object(
  {
    poKey: Key('the replenishment window the order was placed for (its idempotency key)'),
    name: Type.String(business({ minLength: 1, description: 'the PO number (Odoo purchase.order name)' })),
    state: Type.Enum(['draft', 'sent', 'to approve', 'purchase', 'done', 'cancel'], business({ description: "Odoo's purchase.order state" })),
    site: Type.String(business()),
    vendorId: Type.Integer(business({ minimum: 1, description: 'res.partner id of the vendor' })),
    lines: Type.Array(
      Type.Object(
        {
          productId: Type.Integer(business({ minimum: 1 })),
          quantity: Type.Number(business({ exclusiveMinimum: 0 })),
          unitPrice: Type.Number(business({ minimum: 0 })),
        },
        business({ additionalProperties: false }),
      ),
      business({ minItems: 1 }),
    ),
  },
  business({ additionalProperties: false, title: 'PurchaseOrderPlacedEvent' }),
);
export type PurchaseOrderPlacedEvent = Static<typeof PurchaseOrderPlacedEventSchema>;

/** Every canonical event contract Carelane ships, named by its outbox topic; seeded with the other contracts. */
export const CANONICAL_EVENT_CONTRACTS: readonly CanonicalContract[] = [
  canonicalContract('carelane.reservation.reserved', '1.0.0', ReservationOutcomeEventSchema),
  canonicalContract('carelane.reservation.partial', '1.0.0', ReservationOutcomeEventSchema),
  canonicalContract('carelane.reservation.released', '1.0.0', ReservationReleasedEventSchema),
  canonicalContract('carelane.purchase_order.placed', '1.0.0', PurchaseOrderPlacedEventSchema),
];
