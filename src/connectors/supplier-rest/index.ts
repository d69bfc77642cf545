// The supplier REST profile's door. So far: signed requests (HMAC-SHA256 with timestamp and replay window).
// To come: JSON PO out, ack/ASN/invoice webhooks in, mapped to the canonical types of connectors/x12/canonical.ts.
export { signBody, verifySignature, SIGNATURE_HEADER } from './signature.ts';
