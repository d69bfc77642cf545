import { Type, type Static } from 'typebox';

/**
 * A supplier or 3PL on the JSON profile (docs/supplier-rest.md). `id` is the endpoint name the replenishment
 * flow puts on `supplier_rest.send_po` deliveries (suppliers[].endpoint in carelane.yaml). Secrets only as
 * ${env:…}/${file:…} references (their key names end in "secret", which the config loader enforces).
 */
export const SupplierRestProfileSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[a-z][a-z0-9_.-]{0,62}$', description: 'endpoint name; also the webhook path /supplier-rest/<id>/events' }),
    /** base URL of the supplier's API: purchase orders go to POST <url>/purchase-orders */
    url: Type.String({ pattern: '^https?://' }),
    /** HMAC secret Carelane signs its requests with (Carelane-Signature) */
    signingSecret: Type.String({ minLength: 32 }),
    /** HMAC secret the supplier signs its webhooks with */
    webhookSecret: Type.String({ minLength: 32 }),
    /** the previous webhook secret during a rotation */
    previousWebhookSecret: Type.Optional(Type.String({ minLength: 32 })),
    /** accepted clock skew / replay window for signatures, default 300 s */
    toleranceSeconds: Type.Optional(Type.Integer({ minimum: 30, maximum: 3600 })),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 100, description: 'per request, default 10000' })),
  },
  { additionalProperties: false },
);

export type SupplierRestProfile = Static<typeof SupplierRestProfileSchema>;

export const webhookSecretsOf = (profile: SupplierRestProfile): string[] => [profile.webhookSecret, ...(profile.previousWebhookSecret ? [profile.previousWebhookSecret] : [])];
