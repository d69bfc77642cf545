import { businessError, permanentError } from '../../contracts/errors.ts';
import type { Invoice } from '../../connectors/x12/index.ts';
import { BillGateway, many2oneId, type OdooClient, type OdooClientFor } from '../../connectors/odoo/index.ts';
import { toGtin14 } from '../../connectors/gs1/index.ts';
import type { FlowsConfig } from '../../config/schema.ts';
import type { DeliveryHandler, HandlerResult, NewDelivery, StageRecord } from '../../engine/handlers.ts';
import { findPurchaseOrderByName, linkTransactions, type PurchaseOrderRow } from '../../store/demands.ts';
import { payloadOf } from '../step-payload.ts';
import type { Queryable } from '../../store/database.ts';
import { canonicalDocuments, loadMessage } from '../supplier/documents.ts';
import { matchInvoice, toleranceFor, type MatchedLine, type MatchLineInput } from './three-way-match.ts';
import type { LineEvidence } from './store.ts';
import { recordedReceipts, saveInvoiceMatch } from './store.ts';

/** The payload of an `invoice.match` delivery: one vendor invoice against the purchase order it bills. */
export interface InvoiceMatchPayload {
  matchKey: string;
  /** idempotency key of the Odoo bill (its external id) */
  billKey: string;
  poKey: string;
  poName: string;
  odooOrderId: number;
  vendorId: number;
  odooConnection: string;
  /** the PO's lines as Carelane placed them: line n of the 850 is index n-1 */
  poLines: Array<{ productId: number; quantity: number; unitPrice: number }>;
  invoice: Invoice;
}

/**
 * `flow.invoice_match` (route the suppliers' X12_810 and SUPPLIER_810 messages to it): finds the purchase
 * order each invoice bills (BIG04 / poNumber = the Odoo PO number Carelane sent in the 850) and hands the
 * match to `invoice.match` on the PO's Odoo connection, in the transaction that completes this delivery. The
 * invoice's transaction is linked to the PO's, so the PO's timeline shows the invoice and its match.
 */
export function invoiceMatchFlow(flows: FlowsConfig): DeliveryHandler {
  return {
    action: 'flow.invoice_match',
    async run(delivery, context): Promise<HandlerResult> {
      if (delivery.messageId === null) throw permanentError('flow.invoice_match needs the message it was routed for', { code: 'flow_without_message' });
      const message = await loadMessage(context.pool, delivery.messageId);
      const invoices = canonicalDocuments(message).flatMap((d) => (d.type === '810' ? [d.invoice] : []));
      if (invoices.length === 0) return { stages: [{ stage: `${message.messageType}: no invoice in it`, outcome: 'skipped' }] };
      const stages: StageRecord[] = [];
      const next: NewDelivery[] = [];
      const poCorrelations: string[] = [];
      for (const invoice of invoices) {
        if (!invoice.poNumber) throw permanentError(`invoice ${invoice.invoiceNumber} names no purchase order`, { code: 'invoice_without_po', where: { segment: 'BIG', field: 'BIG04' } });
        const po = await findOrder(context.pool, invoice.poNumber, invoice.invoiceNumber);
        if (!po || po.odooOrderId === null || po.name === null) {
          throw permanentError(`invoice ${invoice.invoiceNumber} bills ${invoice.poNumber}, which is not a purchase order Carelane placed`, { code: 'invoice_po_unknown', where: { segment: 'BIG', field: 'BIG04' } });
        }
        const matchKey = `invoice:${po.odooConnection}:${po.vendorId}:${invoice.invoiceNumber}`;
        const payload: InvoiceMatchPayload = {
          matchKey,
          billKey: `bill:${po.odooConnection}:${po.vendorId}:${invoice.invoiceNumber}`,
          poKey: po.poKey,
          poName: po.name,
          odooOrderId: po.odooOrderId,
          vendorId: po.vendorId,
          odooConnection: po.odooConnection,
          poLines: po.lines,
          invoice,
        };
        poCorrelations.push(po.correlationId);
        stages.push({ stage: `invoice ${invoice.invoiceNumber} bills ${po.name}: ${invoice.lines.length} line(s), total ${invoice.totalAmount}`, outcome: 'ok' });
        next.push({
          lane: flows.invoiceMatch.lane,
          action: 'invoice.match',
          endpoint: po.odooConnection,
          idempotencyKey: `invoice.match:${matchKey}`,
          correlationId: delivery.correlationId,
          messageId: delivery.messageId,
          orderingKey: `po:${po.poKey}`,
          payload,
        });
      }
      return { stages, next, inTransaction: async (tx) => void (await Promise.all(poCorrelations.map((id) => linkTransactions(tx, id, [delivery.correlationId], 'invoice')))) };
    },
  };
}

/**
 * The order an invoice bills: by Carelane's PO key, else by Odoo's PO number (findPurchaseOrderByName). A PO
 * number on more than one Odoo connection is refused rather than billed against whichever order came first.
 */
async function findOrder(db: Queryable, poNumber: string, invoiceNumber: string): Promise<PurchaseOrderRow | undefined> {
  const found = await findPurchaseOrderByName(db, poNumber);
  if (found && found.connections.length > 1) {
    throw permanentError(`invoice ${invoiceNumber} bills ${poNumber}, a PO number on more than one Odoo connection (${found.connections.join(', ')}): cannot tell which order it bills`, {
      code: 'invoice_po_ambiguous',
      where: { segment: 'BIG', field: 'BIG04' },
    });
  }
  return found?.order;
}

/**
 * `invoice.match` (endpoint = the Odoo connection): reads the PO lines (ordered, received, billed, price), the
 * received quantities, computes the 3-way match with the vendor's tolerances, and records the bill in Odoo as a
 * draft on the PO lines (BillGateway: external id, else vendor + invoice number, so never twice). Within
 * tolerance the bill is posted; outside, it stays a draft and the delivery parks as `price_variance` or
 * `quantity_variance` with the three figures per line (accept_variance posts it; a replay matches again, e.g.
 * once the rest was received). The match is stored either way.
 */
export function invoiceMatchStep(clientFor: OdooClientFor, flows: FlowsConfig): DeliveryHandler {
  return {
    action: 'invoice.match',
    async run(delivery, context): Promise<HandlerResult> {
      const payload = payloadOf<InvoiceMatchPayload>(delivery.payload, 'invoice.match', ['matchKey', 'billKey', 'poKey', 'poName', 'odooOrderId', 'vendorId', 'odooConnection', 'poLines', 'invoice']);
      const client = (await clientFor(delivery.endpoint)).withSignal(context.signal);
      const bills = new BillGateway(client);
      const [vendor] = await client.read('res.partner', [payload.vendorId], ['ref']);
      const vendorRef = typeof vendor?.ref === 'string' && vendor.ref ? vendor.ref : undefined;
      const tolerance = toleranceFor(vendorRef, flows.invoiceMatch.tolerance, flows.invoiceMatch.vendors);
      const inputs = await matchInputs(client, context.pool, payload, await bills.findByKey(payload.billKey));
      const result = matchInvoice(inputs, tolerance);
      const billable = result.lines.filter((line) => line.purchaseLineId !== undefined && line.productId !== undefined);
      let billId: number | undefined;
      let billState: string | undefined;
      if (billable.length > 0) {
        ({ billId } = await bills.createDraft({
          key: payload.billKey,
          vendorId: payload.vendorId,
          vendorInvoiceNumber: payload.invoice.invoiceNumber,
          invoiceDate: payload.invoice.invoiceDate,
          origin: payload.poName,
          lines: billable.map((line) => ({ purchaseLineId: line.purchaseLineId!, productId: line.productId!, quantity: line.invoicedQuantity, priceUnit: Number(line.invoicedPrice) })),
        }));
        if (result.outcome === 'matched') await bills.post(billId);
        billState = await bills.state(billId);
      }
      const record = {
        matchKey: payload.matchKey,
        correlationId: delivery.correlationId,
        messageId: delivery.messageId,
        poKey: payload.poKey,
        poName: payload.poName,
        odooConnection: payload.odooConnection,
        vendorId: payload.vendorId,
        invoiceNumber: payload.invoice.invoiceNumber,
        invoiceDate: payload.invoice.invoiceDate,
        billId,
        billState,
        outcome: result.outcome,
        lines: result.lines.map(evidence),
        tolerance,
      };
      if (result.outcome !== 'matched') {
        // Stored before parking: the exception's evidence and the API show the same figures.
        await saveInvoiceMatch(context.pool, record);
        const off = result.lines.filter((line) => !line.verdicts.includes('ok'));
        const what = result.outcome === 'price_variance' ? 'price' : 'quantity';
        throw businessError(result.outcome, `invoice ${payload.invoice.invoiceNumber} for ${payload.poName}: ${what} outside tolerance on ${off.length} line(s); bill ${billId ?? '(none)'} left in draft`, {
          code: 'invoice_variance',
          detail: {
            matchKey: payload.matchKey,
            odooConnection: payload.odooConnection,
            poName: payload.poName,
            invoiceNumber: payload.invoice.invoiceNumber,
            vendorId: payload.vendorId,
            billId: billId ?? null,
            tolerance,
            lines: record.lines,
          },
        });
      }
      return {
        stages: [{ stage: `invoice ${payload.invoice.invoiceNumber} matches ${payload.poName} within tolerance: bill ${billId} ${billState}`, outcome: 'ok', detail: { lines: record.lines } }],
        inTransaction: (tx) => saveInvoiceMatch(tx, record),
      };
    },
  };
}

/** The three figures per line a person needs to decide: the order, the receipt, the invoice. */
export function evidence(line: MatchedLine): LineEvidence {
  return {
    line: line.lineNumber,
    productId: line.productId ?? null,
    purchaseLineId: line.purchaseLineId ?? null,
    ordered: line.orderedQuantity,
    poPrice: line.poPrice,
    received: line.receivedQuantity,
    previouslyInvoiced: line.previouslyInvoiced,
    invoiced: line.invoicedQuantity,
    invoicedPrice: line.invoicedPrice,
    priceDifference: line.priceDifference,
    quantityOverReceived: line.quantityOverReceived,
    verdicts: line.verdicts,
  };
}

/**
 * The figures of each invoice line. Invoice line n is PO line n (the 850 numbered them, IT101 echoes PO101);
 * a line whose number does not fit is found by its GTIN among the PO's products. Quantities billed earlier
 * exclude this invoice's own bill (a replay must not count itself).
 */
async function matchInputs(client: OdooClient, db: Queryable, payload: InvoiceMatchPayload, existingBillId: number | undefined): Promise<MatchLineInput[]> {
  const rows = await client.searchRead('purchase.order.line', [['order_id', '=', payload.odooOrderId]], { fields: ['product_id', 'product_qty', 'price_unit', 'qty_received', 'qty_invoiced'], order: 'id' });
  const poLines = rows.map((row) => ({ id: row.id, productId: many2oneId(row.product_id), ordered: Number(row.product_qty ?? 0), price: Number(row.price_unit ?? 0), received: Number(row.qty_received ?? 0), invoiced: Number(row.qty_invoiced ?? 0) }));
  const ownBilled = new Map<number, number>();
  if (existingBillId !== undefined) {
    for (const line of (await new BillGateway(client).read(existingBillId)).lines) {
      if (line.purchaseLineId !== undefined) ownBilled.set(line.purchaseLineId, (ownBilled.get(line.purchaseLineId) ?? 0) + line.quantity);
    }
  }
  const recorded = await recordedReceipts(db, payload.poKey);
  let barcodes: Map<string, number> | undefined;
  const byGtin = async (gtin: string | undefined): Promise<number | undefined> => {
    if (!gtin) return undefined;
    if (!barcodes) {
      const ids = [...new Set(poLines.map((l) => l.productId).filter((id): id is number => id !== undefined))];
      const products = await client.read('product.product', ids, ['barcode']);
      barcodes = new Map(products.flatMap((p) => (typeof p.barcode === 'string' && p.barcode ? [[safeGtin14(p.barcode), p.id] as [string, number]] : [])));
    }
    return barcodes.get(safeGtin14(gtin));
  };
  const inputs: MatchLineInput[] = [];
  for (const [index, line] of payload.invoice.lines.entries()) {
    const lineNumber = line.lineNumber ?? String(index + 1);
    const placed = payload.poLines[Number(lineNumber) - 1];
    const productId = placed?.productId ?? (await byGtin(line.product.gtin));
    const poLine = poLines.find((l) => l.productId === productId);
    inputs.push({
      lineNumber,
      productId,
      purchaseLineId: poLine?.id,
      orderedQuantity: poLine?.ordered ?? 0,
      poPrice: poLine?.price ?? 0,
      receivedQuantity: poLine ? (recorded?.get(poLine.id) ?? poLine.received) : 0,
      previouslyInvoiced: poLine ? Math.max(0, poLine.invoiced - (ownBilled.get(poLine.id) ?? 0)) : 0,
      invoicedQuantity: line.quantity,
      invoicedPrice: line.unitPrice,
    });
  }
  return inputs;
}

const safeGtin14 = (code: string): string => toGtin14(code) ?? code;
