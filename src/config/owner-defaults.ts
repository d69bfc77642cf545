import type { ExceptionOwnersConfig, OwnersConfig } from './schema.ts';

// Owners and SLAs for the exception types of DESIGN.md ("Business exceptions"), used unless carelane.yaml
// names its own. The owners are roles, not people: a deployment replaces them with its teams.
const RUNBOOK = 'docs/operations.md#exceptions-and-replay';
// The types with playbook actions on Odoo (accept_variance, cancel_po_line, adjust_stock): docs/finance.md.
const PLAYBOOKS = 'docs/finance.md#playbooks';

export const DEFAULT_EXCEPTION_OWNERS: Readonly<Record<string, ExceptionOwnersConfig>> = {
  mapping_failure: { business: 'materials-management', technical: 'integration-team', slaMinutes: 240, runbook: RUNBOOK },
  stock_mismatch: { business: 'inventory-control', technical: 'integration-team', slaMinutes: 480, runbook: PLAYBOOKS },
  duplicate_order: { business: 'purchasing', technical: 'integration-team', slaMinutes: 60, runbook: RUNBOOK },
  supplier_delay: { business: 'purchasing', technical: 'integration-team', slaMinutes: 1440, runbook: PLAYBOOKS },
  price_variance: { business: 'accounts-payable', technical: 'integration-team', slaMinutes: 2880, runbook: PLAYBOOKS },
  quantity_variance: { business: 'receiving', technical: 'integration-team', slaMinutes: 1440, runbook: PLAYBOOKS },
  ownership_violation: { business: 'data-governance', technical: 'integration-team', slaMinutes: 240, runbook: RUNBOOK },
  contract_violation: { business: 'data-governance', technical: 'integration-team', slaMinutes: 240, runbook: RUNBOOK },
  delivery_failed: { business: 'operations', technical: 'integration-team', slaMinutes: 60, runbook: RUNBOOK },
};

// Owners of the built-in flows (issue 8: each flow names a business and a technical owner), keyed like their
// sections under `flows:` (plus referenceData, the routed master/reference data flow). carelane.yaml
// `owners.flows.<flow>` replaces a flow's pair; flows it does not name keep these.
export const DEFAULT_FLOW_OWNERS: Readonly<Record<string, OwnersConfig['flows'][string]>> = {
  demand: { business: 'materials-management', technical: 'integration-team' },
  replenishment: { business: 'purchasing', technical: 'integration-team' },
  supplier: { business: 'purchasing', technical: 'integration-team' },
  invoiceMatch: { business: 'accounts-payable', technical: 'integration-team' },
  costAllocation: { business: 'cost-accounting', technical: 'integration-team' },
  reconciliation: { business: 'inventory-control', technical: 'integration-team' },
  milestones: { business: 'purchasing', technical: 'integration-team' },
  referenceData: { business: 'data-governance', technical: 'integration-team' },
};
