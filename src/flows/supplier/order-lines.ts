import { permanentError } from '../../contracts/errors.ts';
import type { ProductIds } from '../../connectors/x12/index.ts';
import type { OutboundPurchaseOrder } from '../../connectors/x12/generate-850.ts';
import { toGtin14 } from '../../connectors/gs1/index.ts';
import type { Queryable } from '../../store/database.ts';
import { findPurchaseOrderByName, type PurchaseOrderRow } from '../../store/demands.ts';

/**
 * A purchase order line as the supplier saw it: the line number, quantity and identifiers of the 850 (or REST
 * order) Carelane sent, next to the Odoo product it stands for. Supplier documents name lines by these, so
 * this is how an 855 line, an 856 item or a GS1 scan finds its PO line without asking Odoo.
 */
export interface SentLine {
  lineNumber: string;
  productId: number;
  quantity: number;
  unitPrice: number;
  gtin?: string;
  vendorPartNumber?: string;
  buyerPartNumber?: string;
}

export interface SentOrder {
  order: PurchaseOrderRow & { name: string; odooOrderId: number };
  lines: SentLine[];
  /** the channel delivery that sent it: `x12.<partner>` or the REST endpoint; undefined when never sent */
  channelEndpoint: string | undefined;
  sentAt: Date | undefined;
}

/**
 * The purchase order a supplier document names (by PO number = the Odoo PO name, BEG03/BAK03/PRF01), with the
 * lines as sent. The sent order comes from the send delivery's payload (x12.send_850 / supplier_rest.send_po),
 * whose lines are the PO's lines in the same order (replenishment/send-order.ts).
 *
 * `source` is the document's message source: a supplier's (x12:<partner>, supplier_rest:<id>) narrows a PO
 * number held on several Odoo connections to the orders sent to that supplier. A number that still names orders
 * on more than one connection is refused (`po_ambiguous`) rather than applied to whichever order came last.
 */
export async function findSentOrder(db: Queryable, poNumber: string, where: { field: string; segment?: string }, source?: string): Promise<SentOrder> {
  const named = await findPurchaseOrderByName(db, poNumber, { sentVia: source });
  if (named && named.connections.length > 1) {
    throw permanentError(
      `purchase order ${poNumber} names orders on more than one Odoo connection (${named.connections.join(', ')})${source ? ` that ${source} could be answering` : ''}: cannot tell which order the document is about; nothing applied`,
      { code: 'po_ambiguous', where, detail: { po: poNumber, connections: named.connections, ...(source ? { source } : {}) } },
    );
  }
  const found = named?.order;
  if (!found || found.odooOrderId === null || found.name === null) {
    throw permanentError(`purchase order ${poNumber} is not one Carelane placed (carelane.purchase_orders): the document cannot be applied`, { code: 'po_unknown', where });
  }
  const order = { ...found, odooOrderId: found.odooOrderId, name: found.name };
  const { rows: sends } = await db.query<{ endpoint: string; payload: { purchaseOrder?: OutboundPurchaseOrder }; completed_at: Date | null; status: string }>(
    `select endpoint, payload, completed_at, status from carelane.deliveries where idempotency_key = any($1::text[]) order by id limit 1`,
    [[`x12.send_850:${order.poKey}`, `supplier_rest.send_po:${order.poKey}`]],
  );
  const send = sends[0];
  const sentLines = send?.payload.purchaseOrder?.lines ?? [];
  const lines = order.lines.map((line, index): SentLine => {
    const sent = sentLines[index];
    const gtin = sent?.gtin ? toGtin14(sent.gtin) : undefined;
    return {
      lineNumber: sent?.lineNumber ?? String(index + 1),
      productId: line.productId,
      quantity: line.quantity,
      unitPrice: line.unitPrice,
      ...(gtin ? { gtin } : {}),
      ...(sent?.vendorPartNumber ? { vendorPartNumber: sent.vendorPartNumber } : {}),
      ...(sent?.buyerPartNumber ? { buyerPartNumber: sent.buyerPartNumber } : {}),
    };
  });
  return { order, lines, channelEndpoint: send?.endpoint, sentAt: send?.status === 'done' && send.completed_at ? send.completed_at : undefined };
}

/**
 * The PO line a supplier line names. Product identifiers first (GTIN, then the supplier's own item number,
 * then our item code), because suppliers renumber lines more often than they change item numbers; the line
 * number last, and only when the line carries no identifier that contradicts it.
 */
export function matchLine(lines: readonly SentLine[], named: { lineNumber?: string | undefined; product?: Partial<ProductIds> | undefined; gtin?: string | undefined }): SentLine | undefined {
  const gtin = named.gtin ?? named.product?.gtin;
  const normalized = gtin ? toGtin14(gtin) : undefined;
  if (normalized) {
    const byGtin = lines.find((l) => l.gtin === normalized);
    if (byGtin) return byGtin;
  }
  const vendorPart = named.product?.vendorPartNumber;
  if (vendorPart) {
    const byVendor = lines.find((l) => l.vendorPartNumber === vendorPart);
    if (byVendor) return byVendor;
  }
  const buyerPart = named.product?.buyerPartNumber;
  if (buyerPart) {
    const byBuyer = lines.find((l) => l.buyerPartNumber === buyerPart);
    if (byBuyer) return byBuyer;
  }
  if (named.lineNumber === undefined) return undefined;
  const byNumber = lines.find((l) => l.lineNumber === named.lineNumber);
  if (!byNumber) return undefined;
  // A GTIN we know for that line but a different one on the document: a different item, not this line.
  if (normalized && byNumber.gtin && byNumber.gtin !== normalized) return undefined;
  return byNumber;
}
