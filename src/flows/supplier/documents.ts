import { permanentError } from '../../contracts/errors.ts';
import { parseX12, type CanonicalDocument, type PurchaseOrderAck, type ShipNotice } from '../../connectors/x12/index.ts';
import { CANONICAL_JSON } from '../../connectors/supplier-rest/index.ts';

// The loader every flow shares (src/store/messages.ts), under the names this module's callers use.
export { loadStoredMessage as loadMessage, type StoredMessage } from '../../store/messages.ts';
import type { StoredMessage } from '../../store/messages.ts';

/**
 * The canonical documents of a stored supplier message, whichever channel brought it: an X12 interchange
 * (source `x12:<partner>`, every transaction set mapped by the X12 connector) or a supplier REST event, stored
 * already as the canonical document (CANONICAL_JSON, src/connectors/supplier-rest/events.ts).
 */
export function canonicalDocuments(message: StoredMessage): CanonicalDocument[] {
  if (message.contentType === CANONICAL_JSON) {
    let document: CanonicalDocument;
    try {
      document = JSON.parse(message.payload.toString('utf8')) as CanonicalDocument;
    } catch (error) {
      throw permanentError(`stored canonical document is not JSON: ${(error as Error).message}`, { code: 'supplier_document_invalid', where: { field: 'payload' } });
    }
    return [document];
  }
  return parseX12(message.payload).transactions.map((t) => t.document);
}

export function acknowledgmentsOf(message: StoredMessage): PurchaseOrderAck[] {
  const acks = canonicalDocuments(message).flatMap((d) => (d.type === '855' ? [d.purchaseOrderAck] : []));
  if (acks.length === 0) throw permanentError(`${message.source} ${message.messageType} carries no purchase order acknowledgment (855)`, { code: 'supplier_document_unexpected', where: { segment: 'ST', field: 'ST01' } });
  return acks;
}

export function shipNoticesOf(message: StoredMessage): ShipNotice[] {
  const notices = canonicalDocuments(message).flatMap((d) => (d.type === '856' ? [d.shipNotice] : []));
  if (notices.length === 0) throw permanentError(`${message.source} ${message.messageType} carries no ship notice (856)`, { code: 'supplier_document_unexpected', where: { segment: 'ST', field: 'ST01' } });
  return notices;
}
