import { classifyHttpStatus, classifyNetworkError } from '../webhook/index.ts';
import { X12_CONTENT_TYPE } from './receive.ts';

/**
 * POSTs an interchange to a partner over HTTP, classified like the webhook client (RFC 9110: 408/429/5xx are
 * transient, other 4xx permanent, no answer after sending ambiguous). The Idempotency-Key header lets an HTTP
 * gateway deduplicate; X12 partners deduplicate on ISA13 anyway, which is why retries re-send the same bytes.
 */
export async function postX12(request: { url: string; body: string; idempotencyKey: string; correlationId: string; signal: AbortSignal }): Promise<{ status: number; body: string; contentType: string }> {
  let response: Response;
  try {
    response = await fetch(request.url, {
      method: 'POST',
      headers: { 'content-type': X12_CONTENT_TYPE, 'idempotency-key': request.idempotencyKey, 'x-correlation-id': request.correlationId },
      body: request.body,
      signal: request.signal,
    });
  } catch (error) {
    const code = (error as { cause?: { code?: string } }).cause?.code ?? '';
    throw classifyNetworkError(error, !['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT'].includes(code));
  }
  const text = await response.text().catch(() => '');
  if (!response.ok) throw classifyHttpStatus(response.status, text, response.headers.get('retry-after'));
  return { status: response.status, body: text, contentType: response.headers.get('content-type') ?? '' };
}
