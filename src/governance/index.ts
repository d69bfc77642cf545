export { appendAudit, verifyAuditChain, type AuditEntry, type AuditVerification } from './audit.ts';
export { authenticate, createToken, generateToken, hashToken, revokeToken, seedAdminToken, type TokenIdentity } from './tokens.ts';
export { can, isRole, PERMISSIONS, ROLES, type Permission, type Role } from './rbac.ts';
