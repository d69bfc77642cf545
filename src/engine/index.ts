export { Engine, defaultNodeId, type EngineOptions } from './engine.ts';
export { HandlerRegistry, type DeliveryHandler, type HandlerContext, type HandlerResult, type StageRecord, type ClaimedDelivery, type NewDelivery, type SettledMessage, type SettlementHook } from './handlers.ts';
export { Ingest, type InboundMessage, type IngestOptions, type IngestResult } from './ingest.ts';
export { routeStep, type PayloadValidator } from './route-step.ts';
export { findRoute } from './router.ts';
export { backoffDelayMs, decideRetry, policyFor } from './retry-policy.ts';
export { enqueueDeliveries } from '../store/queue.ts';
