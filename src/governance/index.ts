export { appendAudit, verifyAuditChain, type AuditEntry, type AuditVerification } from './audit.ts';
export { authenticate, createToken, generateToken, hashToken, listTokens, revokeToken, seedAdminToken, type TokenIdentity, type TokenListing } from './tokens.ts';
export { can, isRole, PERMISSIONS, ROLES, type Permission, type Role } from './rbac.ts';
export { PatientTokenizer, parseToken, reidentify, UnknownTokenError, type ReidentifyRequest, type TokenizationKey } from './tokenization.ts';
export { discoverOidc, InvalidJwtError, looksLikeJwt, OidcVerifier, type OidcDiscovery, type OidcIdentity, type OidcSettings } from './oidc.ts';
export { OidcLogin, OidcLoginError, type LoginOptions, type OidcLoginSettings, type SignedIn } from './oidc-login.ts';
export { purgeExpiredMessages, type RetentionPolicy, type PurgeResult } from './retention.ts';
export { checkSignatureHeaders, claimSignature, signatureMatches, signRequest, SIGNATURE_HEADERS, type SignatureProblem, type SigningKey } from './request-signing.ts';
export { SlaMonitor, slaCheckJob, type ExceptionOwnership, type SlaBreach } from './sla.ts';
