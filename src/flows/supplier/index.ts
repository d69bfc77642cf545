import type { DeliveryHandler } from '../../engine/handlers.ts';
import type { OdooClientFor } from '../../connectors/odoo/index.ts';
import type { FlowsConfig } from '../../config/schema.ts';
import { applyAckStep, supplierAckFlow } from './acknowledgment.ts';
import { receiptFlow, receiveStep } from './receipt.ts';
import { expectLotsStep, shipNoticeFlow } from './ship-notice.ts';

/**
 * The supplier cycle up to the receipt (issue 7): routed entries `flow.supplier_ack`, `flow.ship_notice`,
 * `flow.receipt`, and their Odoo steps `supplier.apply_ack`, `supplier.expect_lots`, `supplier.receive`.
 */
export function supplierCycleFlows(dependencies: { clientFor: OdooClientFor; flows: FlowsConfig }): DeliveryHandler[] {
  return [supplierAckFlow(dependencies), applyAckStep(dependencies), shipNoticeFlow(dependencies), expectLotsStep(dependencies), receiptFlow(dependencies), receiveStep(dependencies)];
}

export { raiseAcknowledgmentDelays, type AcknowledgmentDelay } from './ack-delays.ts';
export { readReceiptDocument, RECEIPT_MESSAGE_TYPE, type ReceiptDocument } from './receipt-document.ts';
export { receiptBatchKey } from './receipt.ts';
export { findReceipt } from './store.ts';
