import type pg from 'pg';
import { appendAudit } from '../governance/audit.ts';
import { inTransaction, type Queryable } from '../store/database.ts';
import { compareSchemas, type ChangeLevel, type JsonSchema, type SchemaChange } from './compatibility.ts';

// The registry of contract versions (canonical and partner schemas, issue 8). A compatible change (patch,
// minor) activates at once and retires the older versions of the same major, which it can stand in for. A
// breaking change becomes version N+1.0.0 in status `proposed` with a change request; it activates only when
// an admin approves it, and then both majors stay active so consumers can move over at their pace.
// Approval is four-eyes: the approver must be someone other than the proposer (see approvalRefusal).
// Every activation, proposal and decision is in the audit chain, in the transaction that makes it; a refused
// self-approval is audited too.

export type ContractKind = 'canonical' | 'partner';
export type ContractStatus = 'proposed' | 'active' | 'retired';

export interface ContractVersion {
  name: string;
  kind: ContractKind;
  version: string;
  status: ContractStatus;
  schema: JsonSchema;
  createdBy: string;
  createdAt: Date;
  activatedAt: Date | null;
  retiredAt: Date | null;
}

export interface ChangeRequest {
  id: number;
  name: string;
  version: string;
  baseVersion: string | null;
  level: ChangeLevel;
  changes: SchemaChange[];
  reason: string;
  status: 'pending' | 'approved' | 'rejected';
  proposedBy: string;
  proposedAt: Date;
  decidedBy: string | null;
  decidedAt: Date | null;
  decisionNote: string | null;
}

export interface Proposal {
  name: string;
  kind: ContractKind;
  schema: JsonSchema;
  reason: string;
  actor: string;
  /** the active version the change is measured against; default the highest active version */
  baseVersion?: string | undefined;
}

export interface ProposalOutcome {
  name: string;
  version: string;
  status: ContractStatus;
  level: ChangeLevel | 'initial';
  changes: SchemaChange[];
  /** set when the change is breaking and waits for an admin */
  changeRequestId: number | null;
}

export class ContractError extends Error {
  readonly code: 'no_change' | 'not_found' | 'conflict' | 'four_eyes';
  constructor(code: ContractError['code'], message: string) {
    super(message);
    this.name = 'ContractError';
    this.code = code;
  }
}

interface VersionRow {
  kind: ContractKind;
  version: string;
  major: number;
  minor: number;
  patch: number;
  status: ContractStatus;
  schema: JsonSchema;
}

// Any fixed number: serialises proposals per contract name (the second key), so two cannot take one version.
const CONTRACT_LOCK = 7_310_004;

export async function proposeContractVersion(pool: pg.Pool, proposal: Proposal): Promise<ProposalOutcome> {
  return inTransaction(pool, async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1, hashtext($2))', [CONTRACT_LOCK, proposal.name]);
    const { rows } = await tx.query<VersionRow>(
      'select kind, version, major, minor, patch, status, schema from carelane.contract_versions where name = $1 order by major desc, minor desc, patch desc',
      [proposal.name],
    );
    if (rows.length === 0) {
      await insertVersion(tx, proposal, [1, 0, 0], 'active');
      await appendAudit(tx, { actor: proposal.actor, action: 'contract.activate', targetType: 'contract', targetId: `${proposal.name}@1.0.0`, reason: proposal.reason, detail: { kind: proposal.kind, level: 'initial' } });
      return { name: proposal.name, version: '1.0.0', status: 'active', level: 'initial', changes: [], changeRequestId: null };
    }
    if (rows[0]!.kind !== proposal.kind) throw new ContractError('conflict', `contract "${proposal.name}" is a ${rows[0]!.kind} contract, not ${proposal.kind}`);
    const base = proposal.baseVersion ? rows.find((row) => row.version === proposal.baseVersion && row.status === 'active') : rows.find((row) => row.status === 'active');
    if (!base) throw new ContractError('conflict', proposal.baseVersion ? `version ${proposal.baseVersion} of "${proposal.name}" is not active` : `contract "${proposal.name}" has no active version`);
    const { level, changes } = compareSchemas(base.schema, proposal.schema);
    if (level === 'none') throw new ContractError('no_change', `the schema is the same as ${proposal.name}@${base.version}`);

    if (level !== 'major') {
      // numbered after the newest version of the base's major, so an older base cannot reuse a taken number
      const latest = rows.find((row) => row.major === base.major)!;
      const next: Semver = level === 'minor' ? [base.major, latest.minor + 1, 0] : [base.major, latest.minor, latest.patch + 1];
      const version = await insertVersion(tx, proposal, next, 'active');
      await tx.query(
        `update carelane.contract_versions set status = 'retired', retired_at = now()
         where name = $1 and major = $2 and status = 'active' and version <> $3`,
        [proposal.name, base.major, version],
      );
      await appendAudit(tx, { actor: proposal.actor, action: 'contract.activate', targetType: 'contract', targetId: `${proposal.name}@${version}`, reason: proposal.reason, detail: { level, baseVersion: base.version, changes } });
      return { name: proposal.name, version, status: 'active', level, changes, changeRequestId: null };
    }

    const pending = await tx.query(`select id from carelane.contract_change_requests where name = $1 and status = 'pending'`, [proposal.name]);
    if (pending.rowCount) throw new ContractError('conflict', `contract "${proposal.name}" already has a pending breaking change (change request ${pending.rows[0].id})`);
    const version = await insertVersion(tx, proposal, [rows[0]!.major + 1, 0, 0], 'proposed');
    const request = await tx.query<{ id: number }>(
      `insert into carelane.contract_change_requests (name, version, base_version, level, changes, reason, status, proposed_by)
       values ($1, $2, $3, 'major', $4::jsonb, $5, 'pending', $6) returning id::int as id`,
      [proposal.name, version, base.version, JSON.stringify(changes), proposal.reason, proposal.actor],
    );
    const changeRequestId = request.rows[0]!.id;
    await appendAudit(tx, { actor: proposal.actor, action: 'contract.propose', targetType: 'contract_change_request', targetId: String(changeRequestId), reason: proposal.reason, detail: { contract: proposal.name, version, baseVersion: base.version, changes } });
    return { name: proposal.name, version, status: 'proposed', level, changes, changeRequestId };
  });
}

export interface Decision {
  approve: boolean;
  note: string;
  actor: string;
}

/**
 * Approves (the version activates beside the older majors) or rejects (the version is retired unused).
 * The proposer may reject (withdraw) their own change but not approve it: a refused approval is committed to
 * the audit chain as `contract.approve_refused` and then thrown as a `four_eyes` ContractError.
 */
export async function decideChangeRequest(pool: pg.Pool, id: number, decision: Decision): Promise<ChangeRequest> {
  const outcome = await inTransaction(pool, async (tx): Promise<ChangeRequest | { refused: string }> => {
    const { rows } = await tx.query<{ name: string; version: string; status: string; proposed_by: string }>(
      'select name, version, status, proposed_by from carelane.contract_change_requests where id = $1 for update',
      [id],
    );
    const request = rows[0];
    if (!request) throw new ContractError('not_found', `change request ${id} does not exist`);
    if (request.status !== 'pending') throw new ContractError('conflict', `change request ${id} is already ${request.status}`);
    const refusal = decision.approve ? await approvalRefusal(tx, request.proposed_by, decision.actor) : undefined;
    if (refusal) {
      await appendAudit(tx, {
        actor: decision.actor,
        action: 'contract.approve_refused',
        targetType: 'contract_change_request',
        targetId: String(id),
        reason: decision.note,
        detail: { contract: request.name, version: request.version, proposedBy: request.proposed_by, refusal },
      });
      return { refused: `change request ${id} needs a second person: ${refusal}` };
    }
    await tx.query(
      `update carelane.contract_change_requests set status = $2, decided_by = $3, decided_at = now(), decision_note = $4 where id = $1`,
      [id, decision.approve ? 'approved' : 'rejected', decision.actor, decision.note],
    );
    await tx.query(
      decision.approve
        ? `update carelane.contract_versions set status = 'active', activated_at = now() where name = $1 and version = $2`
        : `update carelane.contract_versions set status = 'retired', retired_at = now() where name = $1 and version = $2`,
      [request.name, request.version],
    );
    await appendAudit(tx, {
      actor: decision.actor,
      action: decision.approve ? 'contract.approve' : 'contract.reject',
      targetType: 'contract_change_request',
      targetId: String(id),
      reason: decision.note,
      detail: { contract: request.name, version: request.version, proposedBy: request.proposed_by },
    });
    return (await listChangeRequests(tx, { id }))[0]!;
  });
  if ('refused' in outcome) throw new ContractError('four_eyes', outcome.refused);
  return outcome;
}

/**
 * Why `approver` may not approve what `proposer` proposed, or undefined if they are independent. Identities
 * are compared as the audit trail names them (token:<name>, oidc:<sub>, cert:<name>, cli:<user>). Beyond the
 * same identity, an API token the proposer issued (token.create in the audit trail; revoked names are never
 * reused) does not count as a second person either: otherwise an admin could mint a token and approve with it.
 */
async function approvalRefusal(tx: pg.PoolClient, proposer: string, approver: string): Promise<string | undefined> {
  if (approver === proposer) return `${approver} proposed it and cannot also approve it`;
  const tokenName = /^token:(.+)$/.exec(approver)?.[1];
  if (tokenName === undefined) return undefined;
  const issued = await tx.query(
    `select 1 from carelane.audit_log where action = 'token.create' and target_type = 'api_token' and target_id = $1 and actor = $2 limit 1`,
    [tokenName, proposer],
  );
  return issued.rowCount ? `the approving token ${approver} was issued by the proposer ${proposer}` : undefined;
}

export async function listContractVersions(db: Queryable, filter: { name?: string | undefined; status?: ContractStatus | undefined } = {}): Promise<ContractVersion[]> {
  const { rows } = await db.query<ContractVersion>(
    `select name, kind, version, status, schema, created_by as "createdBy", created_at as "createdAt", activated_at as "activatedAt", retired_at as "retiredAt"
     from carelane.contract_versions where ($1::text is null or name = $1) and ($2::text is null or status = $2)
     order by name, major desc, minor desc, patch desc`,
    [filter.name ?? null, filter.status ?? null],
  );
  return rows;
}

export async function listChangeRequests(db: Queryable, filter: { id?: number; status?: ChangeRequest['status'] | undefined } = {}): Promise<ChangeRequest[]> {
  const { rows } = await db.query<ChangeRequest>(
    `select id::int as id, name, version, base_version as "baseVersion", level, changes, reason, status, proposed_by as "proposedBy", proposed_at as "proposedAt",
            decided_by as "decidedBy", decided_at as "decidedAt", decision_note as "decisionNote"
     from carelane.contract_change_requests where ($1::bigint is null or id = $1) and ($2::text is null or status = $2) order by id desc limit 500`,
    [filter.id ?? null, filter.status ?? null],
  );
  return rows;
}

type Semver = [number, number, number];

async function insertVersion(tx: pg.PoolClient, proposal: Proposal, [major, minor, patch]: Semver, status: ContractStatus): Promise<string> {
  const version = `${major}.${minor}.${patch}`;
  await tx.query(
    `insert into carelane.contract_versions (name, kind, version, major, minor, patch, schema, status, created_by, activated_at)
     values ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, case when $8 = 'active' then now() end)`,
    // a JSON round trip drops TypeBox's symbol-keyed metadata: only the JSON Schema is stored
    [proposal.name, proposal.kind, version, major, minor, patch, JSON.stringify(proposal.schema), status, proposal.actor],
  );
  return version;
}
