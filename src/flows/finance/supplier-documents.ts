import { permanentError } from '../../contracts/errors.ts';
import { parseX12, type CanonicalDocument } from '../../connectors/x12/index.ts';
import type { Queryable } from '../../store/database.ts';

export interface StoredSupplierMessage {
  source: string;
  messageType: string;
  contentType: string;
  payload: Buffer;
  correlationId: string;
}

/**
 * A stored supplier message (X12 interchange from the X12 listener, or the canonical JSON the supplier REST
 * listener stored) as its canonical documents (src/connectors/x12/canonical.ts): the same shape either way.
 */
export function supplierDocuments(message: StoredSupplierMessage): CanonicalDocument[] {
  if (message.contentType.startsWith('application/edi-x12')) return parseX12(message.payload).transactions.map((t) => t.document);
  try {
    return [JSON.parse(message.payload.toString('utf8')) as CanonicalDocument];
  } catch (error) {
    throw permanentError(`the stored supplier document is not JSON: ${(error as Error).message}`, { code: 'supplier_document_invalid', where: { field: 'payload' } });
  }
}

export async function loadSupplierMessage(db: Queryable, id: number): Promise<StoredSupplierMessage> {
  const { rows } = await db.query<{ source: string; message_type: string; content_type: string; payload: Buffer | null; correlation_id: string }>(
    'select source, message_type, content_type, payload, correlation_id from carelane.messages where id = $1',
    [id],
  );
  const row = rows[0];
  if (!row) throw permanentError(`message ${id} does not exist`, { code: 'message_missing' });
  if (!row.payload) throw permanentError('the payload was purged by retention; it cannot be processed again', { code: 'payload_purged' });
  return { source: row.source, messageType: row.message_type, contentType: row.content_type, payload: row.payload, correlationId: row.correlation_id };
}
