import type pg from 'pg';
import { appendAudit } from '../../governance/audit.ts';
import { inTransaction } from '../../store/database.ts';
import { compareSchemas, type ChangeLevel, type JsonSchema } from '../compatibility.ts';
import type { CanonicalContract } from './contract.ts';

// Canonical contracts ship with the code, so the code is their authority: at start-up each shipped version is
// put into the contract registry (registry.ts) as it is, under its own semver, active. Versions of the same
// major it supersedes are retired, as the registry does for a compatible change; another major stays active,
// so v1 and v2 consumers run side by side. A version already registered is left alone (restarts, several
// nodes); one registered with a different schema is reported, never overwritten.

export interface SeedOutcome {
  activated: string[];
  unchanged: string[];
  /** `name@version: why`, e.g. the registry holds another schema under that version */
  conflicts: string[];
}

// registry.ts's proposal lock (CONTRACT_LOCK): seeding and proposals of one contract name never interleave
const CONTRACT_LOCK = 7_310_004;
const SEED_ACTOR = 'system:carelane';

type Semver = [number, number, number];
const semver = (version: string): Semver => {
  const match = /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
  if (!match) throw new Error(`contract version "${version}" is not MAJOR.MINOR.PATCH`);
  return [Number(match[1]), Number(match[2]), Number(match[3])];
};
const compare = (a: Semver, b: Semver) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
const plain = (contract: CanonicalContract): JsonSchema => JSON.parse(JSON.stringify(contract.schema)) as JsonSchema;

export async function seedCanonicalContracts(pool: pg.Pool, contracts: readonly CanonicalContract[]): Promise<SeedOutcome> {
  const outcome: SeedOutcome = { activated: [], unchanged: [], conflicts: [] };
  const ordered = [...contracts].sort((a, b) => a.name.localeCompare(b.name) || compare(semver(a.version), semver(b.version)));
  for (const contract of ordered) {
    const label = `${contract.name}@${contract.version}`;
    const [major, minor, patch] = semver(contract.version);
    const schema = plain(contract);
    await inTransaction(pool, async (tx) => {
      await tx.query('select pg_advisory_xact_lock($1, hashtext($2))', [CONTRACT_LOCK, contract.name]);
      const { rows } = await tx.query<{ kind: string; version: string; major: number; minor: number; patch: number; status: string; schema: JsonSchema }>(
        'select kind, version, major, minor, patch, status, schema from carelane.contract_versions where name = $1 order by major desc, minor desc, patch desc',
        [contract.name],
      );
      if (rows.some((row) => row.kind !== 'canonical')) return void outcome.conflicts.push(`${label}: "${contract.name}" is registered as a partner contract`);
      const same = rows.find((row) => row.version === contract.version);
      if (same) {
        if (compareSchemas(same.schema, schema).level === 'none') outcome.unchanged.push(label);
        else outcome.conflicts.push(`${label}: the registry holds a different schema under this version (${same.status})`);
        return;
      }
      const newerOfMajor = rows.find((row) => row.major === major && compare([row.major, row.minor, row.patch], [major, minor, patch]) > 0);
      if (newerOfMajor) return void outcome.conflicts.push(`${label}: ${contract.name}@${newerOfMajor.version} is newer in the same major`);
      const base = rows.find((row) => row.major === major && row.status === 'active');
      const level: ChangeLevel | 'initial' | 'none' = base ? compareSchemas(base.schema, schema).level : 'initial';
      if (level === 'major') return void outcome.conflicts.push(`${label}: breaking change against ${contract.name}@${base!.version}; it needs a new major version`);
      await tx.query(
        `insert into carelane.contract_versions (name, kind, version, major, minor, patch, schema, status, created_by, activated_at)
         values ($1, 'canonical', $2, $3, $4, $5, $6::jsonb, 'active', $7, now())`,
        [contract.name, contract.version, major, minor, patch, JSON.stringify(schema), SEED_ACTOR],
      );
      await tx.query(`update carelane.contract_versions set status = 'retired', retired_at = now() where name = $1 and major = $2 and status = 'active' and version <> $3`, [
        contract.name,
        major,
        contract.version,
      ]);
      await appendAudit(tx, {
        actor: SEED_ACTOR,
        action: 'contracts.seed',
        targetType: 'contract',
        targetId: label,
        reason: 'canonical contract shipped with Carelane',
        detail: { kind: 'canonical', level, baseVersion: base?.version ?? null },
      });
      outcome.activated.push(label);
    });
  }
  return outcome;
}
