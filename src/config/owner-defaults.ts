import type { ExceptionOwnersConfig } from './schema.ts';

// Owners and SLAs for the exception types of DESIGN.md ("Business exceptions"), used unless carelane.yaml
// names its own. The owners are roles, not people: a deployment replaces them with its teams.
const RUNBOOK = 'docs/operations.md#exceptions-and-replay';

export const DEFAULT_EXCEPTION_OWNERS: Readonly<Record<string, ExceptionOwnersConfig>> = {
  mapping_failure: { business: 'materials-management', technical: 'integration-team', slaMinutes: 240, runbook: RUNBOOK },
  stock_mismatch: { business: 'inventory-control', technical: 'integration-team', slaMinutes: 480, runbook: RUNBOOK },
  duplicate_order: { business: 'purchasing', technical: 'integration-team', slaMinutes: 60, runbook: RUNBOOK },
  supplier_delay: { business: 'purchasing', technical: 'integration-team', slaMinutes: 1440, runbook: RUNBOOK },
  price_variance: { business: 'accounts-payable', technical: 'integration-team', slaMinutes: 2880, runbook: RUNBOOK },
  quantity_variance: { business: 'receiving', technical: 'integration-team', slaMinutes: 1440, runbook: RUNBOOK },
  ownership_violation: { business: 'data-governance', technical: 'integration-team', slaMinutes: 240, runbook: RUNBOOK },
  contract_violation: { business: 'data-governance', technical: 'integration-team', slaMinutes: 240, runbook: RUNBOOK },
  delivery_failed: { business: 'operations', technical: 'integration-team', slaMinutes: 60, runbook: RUNBOOK },
};
