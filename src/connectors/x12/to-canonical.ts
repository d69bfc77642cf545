import { permanentError } from '../../contracts/errors.ts';
import type { CanonicalDocument } from './canonical.ts';
import { allIssues, readX12, type FunctionalGroup, type Interchange, type TransactionSet, type X12Document } from './envelope.ts';
import { issueToError } from './issues.ts';
import { mapInventoryAdvice } from './map-inventory-advice.ts';
import { mapInvoice } from './map-invoice.ts';
import { mapPurchaseOrder, mapPurchaseOrderAck } from './map-purchase-order.ts';
import { mapShipNotice } from './map-ship-notice.ts';

/** The transaction sets Carelane maps to canonical documents. */
export const SUPPORTED_TRANSACTION_SETS = ['850', '855', '856', '810', '846'] as const;

/**
 * One transaction set to its canonical document. Refuses (permanent CarelaneError naming segment, element,
 * line and position) a set with syntax issues or one Carelane does not map.
 */
export function toCanonical(transaction: TransactionSet): CanonicalDocument {
  const issue = transaction.issues[0];
  if (issue) throw issueToError(issue);
  switch (transaction.type) {
    case '850':
      return { type: '850', purchaseOrder: mapPurchaseOrder(transaction) };
    case '855':
      return { type: '855', purchaseOrderAck: mapPurchaseOrderAck(transaction) };
    case '856':
      return { type: '856', shipNotice: mapShipNotice(transaction) };
    case '810':
      return { type: '810', invoice: mapInvoice(transaction) };
    case '846':
      return { type: '846', inventoryAdvice: mapInventoryAdvice(transaction) };
    default:
      throw permanentError(`transaction set ${transaction.type} is not mapped by Carelane`, { code: 'x12_transaction_unsupported', where: { segment: 'ST', field: 'ST01', line: transaction.segments[0]!.line, position: 1 } });
  }
}

export interface ParsedTransaction {
  interchange: Interchange;
  group: FunctionalGroup;
  transaction: TransactionSet;
  document: CanonicalDocument;
}

/**
 * Strict one-call parse: reads the input, refuses it at the first issue of any level (envelope first), and
 * maps every transaction set. Use readX12 + buildFunctionalAck to answer a partner instead of refusing.
 */
export function parseX12(input: string | Uint8Array): { document: X12Document; transactions: ParsedTransaction[] } {
  const document = readX12(input);
  const issue = allIssues(document)[0];
  if (issue) throw issueToError(issue);
  const transactions = document.interchanges.flatMap((interchange) =>
    interchange.groups.flatMap((group) => group.transactions.map((transaction) => ({ interchange, group, transaction, document: toCanonical(transaction) }))),
  );
  return { document, transactions };
}
