import type { EndpointConfig } from '../../config/index.ts';
import { permanentError } from '../../contracts/errors.ts';
import { classifyHttpStatus, classifyNetworkError } from './errors.ts';

export interface WebhookRequest {
  url: string;
  body: unknown;
  idempotencyKey: string;
  correlationId: string;
  headers?: Record<string, string>;
  signal: AbortSignal;
}

export interface WebhookResponse {
  status: number;
  body: string;
}

/**
 * POSTs JSON to a peer with an `Idempotency-Key` header (the IETF httpapi draft and Stripe's convention):
 * a retry after a crash or a timeout carries the same key, so a peer that honours it applies the effect once.
 */
export async function postWebhook(request: WebhookRequest): Promise<WebhookResponse> {
  let response: Response;
  try {
    response = await fetch(request.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'idempotency-key': request.idempotencyKey,
        'x-correlation-id': request.correlationId,
        ...request.headers,
      },
      body: JSON.stringify(request.body),
      signal: request.signal,
    });
  } catch (error) {
    // fetch does not say whether the request left; a refused connection certainly did not.
    throw classifyNetworkError(error, !isConnectFailure(error));
  }
  const text = await response.text().catch(() => '');
  if (response.ok) return { status: response.status, body: text };
  // 409 with the same idempotency key means the peer has (or is) applying it: the effect exists.
  if (response.status === 409 && /idempot/i.test(text)) return { status: response.status, body: text };
  throw classifyHttpStatus(response.status, text, response.headers.get('retry-after'));
}

function isConnectFailure(error: unknown): boolean {
  const code = (error as { cause?: { code?: string } }).cause?.code;
  return code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'UND_ERR_CONNECT_TIMEOUT';
}

export function endpointUrl(name: string, endpoint: EndpointConfig | undefined): string {
  if (!endpoint?.url) throw permanentError(`endpoint "${name}" has no url in carelane.yaml`, { code: 'endpoint_not_configured', where: { field: `endpoints.${name}.url` } });
  return endpoint.url;
}
