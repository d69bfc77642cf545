import { permanentError } from '../../contracts/errors.ts';
import type { DeliveryHandler } from '../../engine/handlers.ts';
import { classifyHttpStatus, classifyNetworkError } from '../webhook/errors.ts';
import type { OutboundPurchaseOrder } from '../x12/generate-850.ts';
import type { SupplierRestProfile } from './profile.ts';
import { SIGNATURE_HEADER, signBody } from './signature.ts';

/** Payload of `supplier_rest.send_po` (the delivery's endpoint is the profile id). */
export interface SendRestPurchaseOrderPayload {
  purchaseOrder: OutboundPurchaseOrder;
}

/**
 * `supplier_rest.send_po`: the purchase order as JSON (the OutboundPurchaseOrder fields, docs/supplier-rest.md)
 * POSTed to `<url>/purchase-orders`, signed (Carelane-Signature over the exact bytes) and carrying the delivery's
 * Idempotency-Key, so a retry after a lost answer is applied once by the supplier. 2xx = received; 409 naming the
 * idempotency key = already received; 400/422 = permanent; 408/429/5xx = transient; a timeout after sending is
 * ambiguous and settled by `lookup`: GET `<url>/purchase-orders/<poNumber>` (200 = the supplier has it).
 */
export function supplierRestSendPoHandler(profiles: readonly SupplierRestProfile[], options: { now?: () => Date } = {}): DeliveryHandler {
  const profileOf = (endpoint: string) => {
    const profile = profiles.find((p) => p.id === endpoint);
    if (!profile) throw permanentError(`supplier REST profile ${endpoint} is not configured`, { code: 'supplier_rest_unknown', where: { field: 'endpoint' } });
    return profile;
  };
  const orderOf = (payload: unknown): OutboundPurchaseOrder => {
    const order = (payload as Partial<SendRestPurchaseOrderPayload> | null)?.purchaseOrder;
    if (!order?.poNumber || !Array.isArray(order.lines) || order.lines.length === 0) throw permanentError('supplier_rest.send_po payload needs purchaseOrder with poNumber and lines', { code: 'supplier_rest_payload_invalid', where: { field: 'payload.purchaseOrder' } });
    return order;
  };
  return {
    action: 'supplier_rest.send_po',
    async run(delivery, { signal }) {
      const profile = profileOf(delivery.endpoint);
      const order = orderOf(delivery.payload);
      const body = JSON.stringify(order);
      const url = `${profile.url.replace(/\/+$/, '')}/purchase-orders`;
      const response = await request(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'idempotency-key': delivery.idempotencyKey,
          'x-correlation-id': delivery.correlationId,
          [SIGNATURE_HEADER]: signBody(profile.signingSecret, body, options.now?.() ?? new Date()),
        },
        body,
        signal: withTimeout(signal, profile.timeoutMs),
      });
      const text = await response.text().catch(() => '');
      const already = response.status === 409 && /idempot/i.test(text);
      if (!response.ok && !already) throw classifyHttpStatus(response.status, text.slice(0, 500), response.headers.get('retry-after'));
      return { stages: [{ stage: `supplier_rest.send_po to ${profile.id}`, detail: { status: response.status, poNumber: order.poNumber, duplicate: already || response.status === 200 } }] };
    },
    async lookup(delivery, { signal }) {
      const profile = profileOf(delivery.endpoint);
      const order = orderOf(delivery.payload);
      const url = `${profile.url.replace(/\/+$/, '')}/purchase-orders/${encodeURIComponent(order.poNumber)}`;
      const response = await request(url, { method: 'GET', headers: { [SIGNATURE_HEADER]: signBody(profile.signingSecret, '', options.now?.() ?? new Date()) }, signal: withTimeout(signal, profile.timeoutMs) });
      await response.arrayBuffer().catch(() => undefined);
      if (response.status === 200) return 'applied';
      if (response.status === 404) return 'not_applied';
      throw classifyHttpStatus(response.status, '', response.headers.get('retry-after'));
    },
  };
}

async function request(url: string, init: RequestInit & { signal: AbortSignal }): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (error) {
    // A refused connection certainly sent nothing; anything later may have (ambiguous).
    const code = (error as { cause?: { code?: string } }).cause?.code;
    throw classifyNetworkError(error, !(code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'UND_ERR_CONNECT_TIMEOUT'));
  }
}

const withTimeout = (signal: AbortSignal, timeoutMs: number | undefined): AbortSignal => AbortSignal.any([signal, AbortSignal.timeout(timeoutMs ?? 10_000)]);
