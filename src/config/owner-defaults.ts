import type { ExceptionOwnersConfig } from './schema.ts';

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
