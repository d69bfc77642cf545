import type { DeliveryHandler } from '../engine/index.ts';
import type { OdooClientFor } from '../connectors/odoo/index.ts';
import type { FlowsConfig, SupplierChannelConfig } from '../config/schema.ts';
import type { PatientTokenizer } from '../governance/index.ts';
import { demandFlow } from './demand/demand-flow.ts';
import { releaseStep, rescheduleStep, reserveStep } from './demand/reservation-steps.ts';
import type { MasterDataLookup } from './master-data/lookup.ts';
import { noopFlow } from './noop.ts';
import type { OwnershipRules } from '../governance/ownership.ts';
import { referenceDataFlow } from './reference-data/reference-flow.ts';
import { placeOrderStep, requestStep } from './replenishment/replenishment-steps.ts';
import { sendOrderStep } from './replenishment/send-order.ts';
import { supplierCycleFlows } from './supplier/index.ts';
import { acceptVarianceStep, adjustStockStep, cancelPoLineStep, costPostStep, costRecordStep, invoiceMatchFlow, invoiceMatchStep } from './finance/index.ts';

export interface BusinessFlowDependencies {
  lookup: MasterDataLookup;
  tokenizer: PatientTokenizer | undefined;
  clientFor: OdooClientFor;
  flows: FlowsConfig;
  suppliers: readonly SupplierChannelConfig[];
  ownership: OwnershipRules;
}

/** The flows a route can name (`flow: <name>` → action `flow.<name>`). */
export const flows: DeliveryHandler[] = [noopFlow];

/**
 * Every handler of the business flows: the routed entry (`flow.demand`) and the steps it and its followers
 * enqueue (demand.*, replenishment.*). The composition root registers them with the engine.
 */
export function businessFlows(dependencies: BusinessFlowDependencies): DeliveryHandler[] {
  const { clientFor, flows: config } = dependencies;
  return [
    demandFlow(dependencies),
    reserveStep({ clientFor, flows: config }),
    releaseStep({ clientFor, flows: config }),
    rescheduleStep({ clientFor, flows: config }),
    requestStep({ clientFor, flows: config }),
    placeOrderStep({ clientFor, flows: config }),
    sendOrderStep(dependencies),
    referenceDataFlow(dependencies.ownership),
    ...supplierCycleFlows({ clientFor, flows: config }),
    invoiceMatchFlow(config),
    invoiceMatchStep(clientFor, config),
    acceptVarianceStep(clientFor),
    cancelPoLineStep(clientFor),
    adjustStockStep(clientFor, dependencies.ownership),
    costRecordStep(dependencies.lookup, config),
    costPostStep(clientFor, config),
  ];
}

export { releaseApprovedOrders } from './replenishment/send-order.ts';
export { reconcilePartialReservations } from './demand/reconcile.ts';
export { requestReorders } from './replenishment/orderpoints.ts';
export { raiseAcknowledgmentDelays } from './supplier/index.ts';
export type { MasterDataLookup } from './master-data/lookup.ts';
