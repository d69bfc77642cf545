// Roles and what each may do. Every API route and CLI action names the permission it needs; the server checks
// it, whatever a client shows. Replay and forced replay are separate permissions (DESIGN.md, issue 8).

export const PERMISSIONS = [
  'messages:read',
  'messages:read_payload',
  'messages:ingest',
  'exceptions:read',
  'exceptions:resolve',
  'replay:run',
  'replay:force',
  // edit-and-replay (issue 9): store a corrected copy of a message as a new message linked to the original;
  // separate from replay because the person changes what the sender sent
  'replay:edit',
  'config:read',
  'tokens:manage',
  'audit:read',
  // turning a patient token back into the identifier: admin only unless a deployment grants it (issue 8)
  'phi:reidentify',
  // contracts governance: integrators propose schema versions, only an admin approves a breaking one (issue 8)
  'contracts:read',
  'contracts:propose',
  'contracts:approve',
  // crosswalks and master data (issue 6): create, change, remove and import mappings; start a sync
  'mappings:write',
  // receiving against purchase orders (issue 7): POST /api/v1/receipts
  'receipts:write',
  // closing cost allocation periods (issue 7): a financial control, never undone (docs/finance.md)
  'costs:close',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const ROLES = ['admin', 'integrator', 'operator', 'auditor', 'viewer', 'system'] as const;
export type Role = (typeof ROLES)[number];

const MATRIX: Record<Role, readonly Permission[]> = {
  admin: PERMISSIONS,
  integrator: ['messages:read', 'messages:read_payload', 'messages:ingest', 'exceptions:read', 'exceptions:resolve', 'replay:run', 'replay:force', 'replay:edit', 'config:read', 'audit:read', 'contracts:read', 'contracts:propose', 'mappings:write', 'receipts:write'],
  operator: ['messages:read', 'exceptions:read', 'exceptions:resolve', 'replay:run', 'config:read', 'contracts:read', 'receipts:write'],
  auditor: ['messages:read', 'exceptions:read', 'config:read', 'audit:read', 'contracts:read'],
  viewer: ['messages:read', 'exceptions:read', 'contracts:read'],
  // a sending system: may deliver inbound messages and nothing else
  system: ['messages:ingest'],
};

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export function can(role: string, permission: Permission): boolean {
  return isRole(role) && MATRIX[role].includes(permission);
}
