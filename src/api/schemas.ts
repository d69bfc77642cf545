import { Type } from 'typebox';

// One TypeBox schema per route body and answer (CONVENTIONS.md: schemas are the contract); fastify validates
// with them and @fastify/swagger turns them into the OpenAPI document at /docs.

export const ErrorReply = Type.Object({ error: Type.String(), message: Type.String() });

export const IdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });

export const MessageStatus = Type.Enum(['received', 'processing', 'processed', 'rejected', 'failed']);

export const MessageQuery = Type.Object({
  source: Type.Optional(Type.String()),
  type: Type.Optional(Type.String({ description: 'message type, e.g. ADT^A01' })),
  status: Type.Optional(MessageStatus),
  correlationId: Type.Optional(Type.String()),
  externalId: Type.Optional(Type.String({ description: "the sender's message id, e.g. MSH-10" })),
  from: Type.Optional(Type.String({ format: 'date-time' })),
  to: Type.Optional(Type.String({ format: 'date-time' })),
  before: Type.Optional(Type.Integer({ minimum: 1, description: 'page: messages with an id below this' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })),
  q: Type.Optional(
    Type.String({
      minLength: 2,
      maxLength: 200,
      description: 'business key: PO number, MSH-10, FHIR id, GTIN, lot or correlation id (exact keys, linked transactions, step payloads; raw payloads too with messages:read_payload)',
    }),
  ),
});

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

export const MessageSummary = Type.Object({
  id: Type.Integer(),
  source: Type.String(),
  messageType: Type.String(),
  externalId: Nullable(Type.String()),
  correlationId: Type.String(),
  status: Type.String(),
  statusReason: Nullable(Type.String()),
  payloadSize: Type.Integer(),
  duplicateCount: Type.Integer(),
  receivedAt: Type.String({ format: 'date-time' }),
  acknowledgedAt: Nullable(Type.String({ format: 'date-time' })),
});

export const MessageDetail = Type.Object({
  ...MessageSummary.properties,
  contentType: Type.String(),
  payloadTruncated: Type.Boolean(),
  payload: Nullable(Type.String({ description: 'only with ?payload=true and the messages:read_payload permission, or ?masked=true (PHI masked)' })),
  payloadMasking: Type.Optional(Type.String({ description: 'with ?masked=true: hl7v2 | fhir-json | canonical-json | unknown-json (JSON of unknown shape: structure and structural keys only) | x12 | withheld (format not recognised: not shown)' })),
  ackPayload: Nullable(Type.String()),
  stages: Type.Array(Type.Object({ stage: Type.String(), outcome: Type.String(), detail: Type.Unknown(), at: Type.String({ format: 'date-time' }) })),
  deliveries: Type.Array(
    Type.Object({
      id: Type.Integer(),
      lane: Type.String(),
      action: Type.String(),
      endpoint: Type.String(),
      status: Type.String(),
      attempts: Type.Integer(),
      lastError: Nullable(Type.String()),
      createdAt: Type.String({ format: 'date-time' }),
      completedAt: Nullable(Type.String({ format: 'date-time' })),
      payload: Type.Optional(Type.Unknown({ description: "the step's canonical payload, with ?payload=true or ?masked=true" })),
    }),
  ),
  exceptions: Type.Array(Type.Object({ id: Type.Integer(), type: Type.String(), status: Type.String(), reason: Type.String(), createdAt: Type.String({ format: 'date-time' }) })),
});

export const ExceptionQuery = Type.Object({
  status: Type.Optional(Type.Enum(['open', 'resolved'])),
  type: Type.Optional(Type.String()),
  before: Type.Optional(Type.Integer({ minimum: 1 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })),
});

export const ExceptionSummary = Type.Object({
  id: Type.Integer(),
  type: Type.String(),
  classification: Type.String(),
  status: Type.String(),
  messageId: Nullable(Type.Integer()),
  deliveryId: Nullable(Type.Integer()),
  correlationId: Nullable(Type.String()),
  reason: Type.String(),
  attempts: Type.Integer(),
  lastError: Nullable(Type.String()),
  createdAt: Type.String({ format: 'date-time' }),
  resolvedAt: Nullable(Type.String({ format: 'date-time' })),
  resolvedBy: Nullable(Type.String()),
  resolutionAction: Nullable(Type.String()),
  resolutionNote: Nullable(Type.String()),
});

export const ExceptionWithSla = Type.Object({
  ...ExceptionSummary.properties,
  owner: Nullable(Type.Object({ business: Type.String(), technical: Type.String() })),
  slaMinutes: Nullable(Type.Integer()),
  slaDueAt: Nullable(Type.String({ format: 'date-time', description: 'created + the type’s SLA' })),
  breachedAt: Nullable(Type.String({ format: 'date-time', description: 'when the SLA check found it past its SLA (and alerted)' })),
  runbook: Nullable(Type.String()),
});

export const ResolveBody = Type.Object({
  action: Type.Enum(['replay', 'dismiss', 'cancel', 'remap_and_replay', 'accept_variance', 'cancel_po_line', 'adjust_stock'], {
    description: 'replay/remap_and_replay run the parked delivery again; accept_variance, cancel_po_line and adjust_stock are playbook actions on Odoo (docs/finance.md)',
  }),
  note: Type.String({ minLength: 1, description: 'why: kept in the audit trail' }),
});

export const ReplayBody = Type.Object({
  messageIds: Type.Optional(Type.Array(Type.Integer({ minimum: 1 }), { maxItems: 10_000 })),
  filter: Type.Optional(
    Type.Object({
      source: Type.Optional(Type.String()),
      type: Type.Optional(Type.String()),
      status: Type.Optional(MessageStatus),
      from: Type.Optional(Type.String({ format: 'date-time' })),
      to: Type.Optional(Type.String({ format: 'date-time' })),
      q: Type.Optional(Type.String({ minLength: 2, maxLength: 200, description: 'business-key search, as GET /api/v1/messages?q=' })),
    }),
  ),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
  dryRun: Type.Boolean({ default: true, description: 'true (the default) only reports what would happen' }),
  force: Type.Boolean({ default: false, description: 're-run messages whose effects were already delivered (needs replay:force)' }),
  reason: Type.String({ minLength: 1 }),
});

export const ReplayReply = Type.Object({
  replayId: Nullable(Type.Integer()),
  dryRun: Type.Boolean(),
  matched: Type.Integer(),
  requeued: Type.Integer(),
  refused: Type.Integer(),
  items: Type.Array(Type.Object({ messageId: Type.Integer(), decision: Type.String(), readyAt: Type.Optional(Type.String({ format: 'date-time' })) })),
});

export const InboundReply = Type.Object({
  messageId: Type.Integer(),
  correlationId: Type.String(),
  duplicate: Type.Boolean(),
  status: Type.String(),
});

export const TokenName = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$', description: 'a name for the token: the program or person it is for' });

export const CreateTokenBody = Type.Object({
  name: TokenName,
  role: Type.Enum(['admin', 'integrator', 'operator', 'auditor', 'viewer', 'system']),
  expiresAt: Type.Optional(Type.String({ format: 'date-time' })),
});

export const TokenSummary = Type.Object({
  name: Type.String(),
  role: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  expiresAt: Nullable(Type.String({ format: 'date-time' })),
  revokedAt: Nullable(Type.String({ format: 'date-time' })),
  lastUsedAt: Nullable(Type.String({ format: 'date-time' })),
});

export const CreatedToken = Type.Object({
  name: Type.String(),
  role: Type.String(),
  expiresAt: Nullable(Type.String({ format: 'date-time' })),
  token: Type.String({ description: 'shown once: only its hash is kept' }),
});

export const ReidentifyBody = Type.Object({
  token: Type.String({ pattern: '^ptk_', maxLength: 100, description: 'a patient token (ptk_<key id>_<mac>)' }),
  reason: Type.String({ minLength: 3, maxLength: 1000, description: 'why: kept in the audit trail' }),
});

export const ReidentifyReply = Type.Object({ token: Type.String(), identifier: Type.String() });

const JsonSchemaObject = Type.Record(Type.String(), Type.Unknown(), { description: 'a JSON Schema (e.g. generated from a TypeBox schema)' });

const SchemaChange = Type.Object({ path: Type.String(), level: Type.Enum(['patch', 'minor', 'major']), what: Type.String() });

export const ContractVersionSummary = Type.Object({
  name: Type.String(),
  kind: Type.Enum(['canonical', 'partner']),
  version: Type.String({ description: 'semver' }),
  status: Type.Enum(['proposed', 'active', 'retired']),
  schema: JsonSchemaObject,
  createdBy: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  activatedAt: Nullable(Type.String({ format: 'date-time' })),
  retiredAt: Nullable(Type.String({ format: 'date-time' })),
});

export const ChangeRequestSummary = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  version: Type.String(),
  baseVersion: Nullable(Type.String()),
  level: Type.String(),
  changes: Type.Array(SchemaChange),
  reason: Type.String(),
  status: Type.Enum(['pending', 'approved', 'rejected']),
  proposedBy: Type.String(),
  proposedAt: Type.String({ format: 'date-time' }),
  decidedBy: Nullable(Type.String()),
  decidedAt: Nullable(Type.String({ format: 'date-time' })),
  decisionNote: Nullable(Type.String()),
});

export const ProposeContractBody = Type.Object({
  kind: Type.Enum(['canonical', 'partner']),
  schema: JsonSchemaObject,
  reason: Type.String({ minLength: 3, maxLength: 2000, description: 'why: kept in the audit trail' }),
  baseVersion: Type.Optional(Type.String({ pattern: '^\\d+\\.\\d+\\.\\d+$', description: 'the active version the change is measured against; default the highest active one' })),
});

export const ProposalReply = Type.Object({
  name: Type.String(),
  version: Type.String(),
  status: Type.Enum(['proposed', 'active', 'retired']),
  level: Type.Enum(['initial', 'patch', 'minor', 'major']),
  changes: Type.Array(SchemaChange),
  changeRequestId: Nullable(Type.Integer()),
});

export const DecisionBody = Type.Object({ note: Type.String({ minLength: 3, maxLength: 2000, description: 'why: kept in the audit trail' }) });

export const EditReplayBody = Type.Object({
  payload: Type.String({ minLength: 1, maxLength: 10 * 1024 * 1024, description: 'the corrected message, as text' }),
  contentType: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: "default: the original's" })),
  reason: Type.String({ minLength: 3, maxLength: 2000, description: 'why: kept in the audit trail' }),
});

export const EditReplayReply = Type.Object({
  originalId: Type.Integer(),
  messageId: Type.Integer({ description: 'the new message holding the corrected payload' }),
  correlationId: Type.String(),
  status: Type.String(),
  routed: Type.Boolean({ description: 'a route matched: the new message is being processed' }),
  resolvedExceptions: Type.Array(Type.Integer(), { description: "the original's open exceptions, closed as superseded" }),
});
