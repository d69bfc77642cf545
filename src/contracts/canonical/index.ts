// Canonical contracts (issue 6): versioned TypeBox schemas with every field classed PHI / PII / business.
import type { CanonicalContract } from './contract.ts';
import { DemandSignalContract } from './demand-signal.ts';
import { CostCenterContract, ItemContract, LocationContract, VendorContract } from './master-data.ts';
import { PurchaseOrderContract, ReplenishmentRequestContract, ReservationContract } from './operations.ts';

export { canonicalContract, jsonSchemaOf, type CanonicalContract } from './contract.ts';
export { business, pii, phi, classedFields, fieldsOfClass, unclassifiedFields, CLASS_KEYWORD, FIELD_CLASSES, type ClassedField, type FieldClass } from './fields.ts';
export { DemandSignalSchema, DemandSignalContract } from './demand-signal.ts';
export { CodeSchema, ItemSchema, LocationSchema, LocationKind, CostCenterSchema, VendorSchema, ItemContract, LocationContract, CostCenterContract, VendorContract } from './master-data.ts';
export type { Item, Location, CostCenter, Vendor } from './master-data.ts';
export { ReservationSchema, ReplenishmentRequestSchema, PurchaseOrderSchema, ReservationContract, ReplenishmentRequestContract, PurchaseOrderContract } from './operations.ts';
export type { Reservation, ReplenishmentRequest, PurchaseOrder } from './operations.ts';
export { seedCanonicalContracts, type SeedOutcome } from './seed.ts';
export { CANONICAL_EVENT_CONTRACTS, PurchaseOrderPlacedEventSchema, ReservationOutcomeEventSchema, ReservationReleasedEventSchema } from './events.ts';
export type { PurchaseOrderPlacedEvent, ReservationOutcomeEvent, ReservationReleasedEvent } from './events.ts';

/** Every canonical contract version Carelane ships; seeded into the contract registry at start-up. */
export const CANONICAL_CONTRACTS: readonly CanonicalContract[] = [
  ItemContract,
  LocationContract,
  CostCenterContract,
  VendorContract,
  DemandSignalContract,
  ReservationContract,
  ReplenishmentRequestContract,
  PurchaseOrderContract,
];
