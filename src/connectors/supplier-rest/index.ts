// The supplier REST profile's door (docs/supplier-rest.md): signed JSON purchase orders out, signed webhooks in.
export { signBody, verifySignature, SIGNATURE_HEADER } from './signature.ts';
export { SupplierRestProfileSchema, webhookSecretsOf, type SupplierRestProfile } from './profile.ts';
export { parseSupplierEvent, messageTypeOfEvent, CANONICAL_JSON, type SupplierEvent, type SupplierEventType, type RestProduct, type RestLineStatus } from './events.ts';
export { supplierRestSendPoHandler, type SendRestPurchaseOrderPayload } from './send-po.ts';
export { supplierRestRequestListener, startSupplierRestListener, type SupplierRestListener, type SupplierRestListenerOptions } from './listener.ts';
