import type { CarelaneConfig } from '../../config/index.ts';
import type { DeliveryHandler } from '../../engine/handlers.ts';
import { endpointUrl, postWebhook } from './client.ts';

/**
 * `webhook.post`: delivers a JSON body to a configured endpoint. The delivery's endpoint names the peer in
 * carelane.yaml; its payload is `{ body, path? }`.
 */
export function webhookPostHandler(config: CarelaneConfig): DeliveryHandler {
  return {
    action: 'webhook.post',
    async run(delivery, { signal }) {
      const endpoint = config.endpoints[delivery.endpoint];
      const { body, path } = delivery.payload as { body?: unknown; path?: string };
      const base = endpointUrl(delivery.endpoint, endpoint);
      const url = path ? new URL(path, base.endsWith('/') ? base : `${base}/`).toString() : base;
      const response = await postWebhook({
        url,
        body: body ?? null,
        idempotencyKey: delivery.idempotencyKey,
        correlationId: delivery.correlationId,
        ...(endpoint?.headers ? { headers: endpoint.headers } : {}),
        signal,
      });
      return { stages: [{ stage: `webhook.post to ${delivery.endpoint}`, detail: { status: response.status } }] };
    },
  };
}
