import type { ColumnType, Generated } from 'kysely';

// Row types of the carelane schema, for Kysely. Keep in step with migrations/*.sql.

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

export type MessageStatus = 'received' | 'processing' | 'processed' | 'rejected' | 'failed';
export type DeliveryStatus = 'pending' | 'running' | 'done' | 'exception' | 'cancelled';
export type FailureClass = 'transient' | 'ambiguous' | 'permanent' | 'business';

export interface MessagesTable {
  id: Generated<number>;
  source: string;
  message_type: string;
  external_id: string | null;
  dedupe_key: string;
  content_hash: string;
  correlation_id: string;
  status: MessageStatus;
  status_reason: string | null;
  content_type: string;
  payload: Buffer | null;
  payload_size: number;
  payload_truncated: boolean;
  ack_payload: string | null;
  duplicate_count: Generated<number>;
  last_duplicate_at: NullableTimestamp;
  received_at: Timestamp;
  updated_at: Timestamp;
}

export interface MessageStagesTable {
  id: Generated<number>;
  message_id: number;
  stage: string;
  outcome: 'ok' | 'error' | 'skipped';
  detail: unknown;
  at: Timestamp;
}

export interface DeliveriesTable {
  id: Generated<number>;
  message_id: number | null;
  correlation_id: string;
  lane: string;
  action: string;
  endpoint: string;
  ordering_key: string | null;
  idempotency_key: string;
  payload: unknown;
  status: DeliveryStatus;
  attempts: Generated<number>;
  needs_lookup: Generated<boolean>;
  run_after: Timestamp;
  created_at: Timestamp;
  claimed_at: NullableTimestamp;
  completed_at: NullableTimestamp;
  locked_by: string | null;
  lease_expires_at: NullableTimestamp;
  last_error: string | null;
  last_error_class: string | null;
  replay_of: number | null;
}

export interface EndpointsTable {
  name: string;
  state: 'closed' | 'open' | 'half_open';
  consecutive_failures: number;
  open_count: number;
  opened_at: NullableTimestamp;
  retry_at: NullableTimestamp;
  closed_at: NullableTimestamp;
  last_error: string | null;
  updated_at: Timestamp;
}

export interface ExceptionsTable {
  id: Generated<number>;
  type: string;
  classification: FailureClass;
  status: 'open' | 'resolved';
  message_id: number | null;
  delivery_id: number | null;
  correlation_id: string | null;
  reason: string;
  attempts: number;
  last_error: string | null;
  detail: unknown;
  created_at: Timestamp;
  resolved_at: NullableTimestamp;
  resolved_by: string | null;
  resolution_action: string | null;
  resolution_note: string | null;
}

export interface ReplaysTable {
  id: Generated<number>;
  requested_by: string;
  reason: string;
  filter: unknown;
  dry_run: boolean;
  forced: boolean;
  matched: number;
  requeued: number;
  refused: number;
  created_at: Timestamp;
}

export interface ApiTokensTable {
  id: Generated<number>;
  name: string;
  token_hash: string;
  role: string;
  created_at: Timestamp;
  expires_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  last_used_at: NullableTimestamp;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: Timestamp;
  actor: string;
  action: string;
  target_type: string | null;
  target_id: string | null;
  reason: string | null;
  detail: unknown;
  prev_hash: string;
  hash: string;
}

export interface JobRunsTable {
  job: string;
  scheduled_for: Timestamp;
  node: string;
  started_at: Timestamp;
  finished_at: NullableTimestamp;
  outcome: string | null;
  error: string | null;
}

export interface StoreSchema {
  'carelane.messages': MessagesTable;
  'carelane.message_stages': MessageStagesTable;
  'carelane.deliveries': DeliveriesTable;
  'carelane.endpoints': EndpointsTable;
  'carelane.exceptions': ExceptionsTable;
  'carelane.replays': ReplaysTable;
  'carelane.api_tokens': ApiTokensTable;
  'carelane.audit_log': AuditLogTable;
  'carelane.job_runs': JobRunsTable;
}
