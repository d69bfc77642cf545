// Finance and control flows (issue 7, docs/finance.md): 3-way invoice match, playbooks, reconciliation, milestones.
export { invoiceMatchFlow, invoiceMatchStep, type InvoiceMatchPayload } from './invoice-match.ts';
export { acceptVarianceStep, cancelPoLineStep, adjustStockStep, type PlaybookPayload } from './playbooks.ts';
export { matchInvoice, toleranceFor, type MatchLineInput, type MatchResult, type MatchedLine } from './three-way-match.ts';
export { listInvoiceMatches, type InvoiceMatchView } from './store.ts';
export { recordSnapshot, reconcileStock, snapshotLinesFromAdvice, type SnapshotLine, type ReconcileResult } from './reconcile-stock.ts';
export { reconcileLatestSnapshots, siteOnHand, stockReconciliationJob, type ReconcileFailure, type ScheduledReconciliation } from './scheduled.ts';
export { costRecordStep, costRecordDelivery, type CostRecordPayload } from './cost-record.ts';
export { closeCostPeriods, type CostEntryPayload, type CutoffResult } from './cost-cutoff.ts';
export { costPostStep, costDistribution, type CostLine } from './cost-post.ts';
export { costPeriods, type CostPeriodView } from './cost-report.ts';
export { dayIn } from './cost-periods.ts';
