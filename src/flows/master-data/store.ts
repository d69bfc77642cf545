import type pg from 'pg';
import { appendAudit } from '../../governance/audit.ts';
import { inTransaction, type Queryable } from '../../store/database.ts';
import { KIND_SPECS, keyColumns, naturalKey, type CrosswalkKind, type KindSpec, type MappingByKind, type Versioned } from './kinds.ts';

// The versioned crosswalk store (migration 008). A save closes the current version of the mapping's key and
// inserts the next one; a removal closes it. Both are audited in their transaction with the before and after.
// Saving values identical to the current version changes nothing (a re-imported file is a no-op).

export type Change = 'created' | 'updated' | 'unchanged' | 'removed';

export interface SavedMapping<K extends CrosswalkKind = CrosswalkKind> {
  change: Change;
  mapping: Versioned<MappingByKind[K]>;
  /** the version it replaced, for created: undefined */
  before?: Versioned<MappingByKind[K]> | undefined;
}

export interface SaveOptions {
  actor: string;
  /** why, kept in the audit trail (e.g. "CSV import items.csv") */
  reason?: string;
  /** one audit entry for the whole batch (CSV import), instead of one per mapping */
  auditAs?: { action: string; targetId: string };
}

/** The columns of a version as a mapping's properties; `alias` qualifies them in a join. */
const selectList = (spec: KindSpec, alias = ''): string => {
  const at = alias ? `${alias}.` : '';
  return [
    `${at}id::int as id`,
    ...spec.columns.map((column) => `${at}${column.column} as "${column.field}"`),
    `${at}version as version`,
    `${at}valid_from as "validFrom"`,
    `${at}valid_to as "validTo"`,
    `${at}created_by as "createdBy"`,
    `${at}ended_by as "endedBy"`,
  ].join(', ');
};

/** The values as stored: absent optional fields are null, so "unchanged" compares like with like. */
function normalised(spec: KindSpec, mapping: Record<string, unknown>): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const column of spec.columns) {
    const value = mapping[column.field];
    values[column.field] = value === undefined || value === '' ? (column.key ? '' : null) : value;
  }
  return values;
}

const sameValues = (spec: KindSpec, a: Record<string, unknown>, b: Record<string, unknown>): boolean =>
  spec.columns.every((column) => JSON.stringify(a[column.field] ?? null) === JSON.stringify(b[column.field] ?? null));

const plainMapping = (spec: KindSpec, row: object): Record<string, unknown> => Object.fromEntries(spec.columns.map((column) => [column.field, (row as Record<string, unknown>)[column.field] ?? null]));

/** Saves mappings of one kind in one transaction: all of them or none. */
export async function saveMappings<K extends CrosswalkKind>(pool: pg.Pool, kind: K, mappings: Array<MappingByKind[K]>, options: SaveOptions): Promise<Array<SavedMapping<K>>> {
  const spec = KIND_SPECS[kind];
  return inTransaction(pool, async (tx) => {
    const saved: Array<SavedMapping<K>> = [];
    for (const mapping of mappings) saved.push(await saveOne(tx, spec, mapping as unknown as Record<string, unknown>, options.actor));
    const changed = saved.filter((entry) => entry.change !== 'unchanged');
    if (changed.length === 0) return saved;
    const audit = (entry: SavedMapping<K>) => ({
      key: naturalKey(spec, entry.mapping),
      change: entry.change,
      before: entry.before ? plainMapping(spec, entry.before) : null,
      after: plainMapping(spec, entry.mapping),
      version: entry.mapping.version,
    });
    if (options.auditAs) {
      await appendAudit(tx, { actor: options.actor, action: options.auditAs.action, targetType: `crosswalk.${kind}`, targetId: options.auditAs.targetId, ...(options.reason ? { reason: options.reason } : {}), detail: { kind, changes: changed.map(audit) } });
    } else {
      for (const entry of changed) {
        await appendAudit(tx, { actor: options.actor, action: `crosswalk.${entry.change === 'created' ? 'create' : 'update'}`, targetType: `crosswalk.${kind}`, targetId: naturalKey(spec, entry.mapping), ...(options.reason ? { reason: options.reason } : {}), detail: audit(entry) });
      }
    }
    return saved;
  });
}

async function saveOne<K extends CrosswalkKind>(tx: pg.PoolClient, spec: KindSpec, mapping: Record<string, unknown>, actor: string): Promise<SavedMapping<K>> {
  const values = normalised(spec, mapping);
  const keys = keyColumns(spec);
  const { rows } = await tx.query(
    `select ${selectList(spec)} from ${spec.table} where ${keys.map((column, i) => `${column.column} = $${i + 1}`).join(' and ')} and valid_to is null for update`,
    keys.map((column) => values[column.field]),
  );
  const current = rows[0] as Versioned<MappingByKind[K]> | undefined;
  if (current && sameValues(spec, values, current as unknown as Record<string, unknown>)) return { change: 'unchanged', mapping: current, before: current };
  if (current) await tx.query(`update ${spec.table} set valid_to = now(), ended_by = $2 where id = $1`, [current.id, actor]);
  const columns = spec.columns.map((column) => column.column);
  const placeholders = spec.columns.map((column, i) => `$${i + 1}${column.type === 'jsonb' ? '::jsonb' : ''}`);
  const parameters = spec.columns.map((column) => (column.type === 'jsonb' ? JSON.stringify(values[column.field]) : values[column.field]));
  const inserted = await tx.query(
    `insert into ${spec.table} (${columns.join(', ')}, version, created_by) values (${placeholders.join(', ')}, $${columns.length + 1}, $${columns.length + 2})
     returning ${selectList(spec)}`,
    [...parameters, (current?.version ?? 0) + 1, actor],
  );
  return { change: current ? 'updated' : 'created', mapping: inserted.rows[0] as Versioned<MappingByKind[K]>, before: current };
}

/** Ends the current version with this id (the mapping no longer applies); undefined when there is none. */
export async function removeMapping<K extends CrosswalkKind>(pool: pg.Pool, kind: K, id: number, options: SaveOptions): Promise<Versioned<MappingByKind[K]> | undefined> {
  const spec = KIND_SPECS[kind];
  return inTransaction(pool, async (tx) => {
    const { rows } = await tx.query(`update ${spec.table} set valid_to = now(), ended_by = $2 where id = $1 and valid_to is null returning ${selectList(spec)}`, [id, options.actor]);
    const removed = rows[0] as Versioned<MappingByKind[K]> | undefined;
    if (!removed) return undefined;
    await appendAudit(tx, {
      actor: options.actor,
      action: 'crosswalk.remove',
      targetType: `crosswalk.${kind}`,
      targetId: naturalKey(spec, removed),
      ...(options.reason ? { reason: options.reason } : {}),
      detail: { key: naturalKey(spec, removed), change: 'removed', before: plainMapping(spec, removed), after: null, version: removed.version },
    });
    return removed;
  });
}

export interface ListFilter {
  /** only mappings whose key columns start with these values, e.g. { ehrSystem: 'http://loinc.org' } */
  match?: Record<string, string | undefined>;
  /** page: ids below this */
  before?: number | undefined;
  limit?: number | undefined;
}

/** Current mappings of a kind, newest first. */
export async function listMappings<K extends CrosswalkKind>(db: Queryable, kind: K, filter: ListFilter = {}): Promise<Array<Versioned<MappingByKind[K]>>> {
  const spec = KIND_SPECS[kind];
  const conditions = ['valid_to is null'];
  const parameters: unknown[] = [];
  for (const column of spec.columns) {
    const value = filter.match?.[column.field];
    if (value === undefined || column.type !== 'text') continue;
    parameters.push(value);
    conditions.push(`${column.column} = $${parameters.length}`);
  }
  if (filter.before) {
    parameters.push(filter.before);
    conditions.push(`id < $${parameters.length}`);
  }
  parameters.push(filter.limit ?? 100);
  const { rows } = await db.query(`select ${selectList(spec)} from ${spec.table} where ${conditions.join(' and ')} order by id desc limit $${parameters.length}`, parameters);
  return rows as Array<Versioned<MappingByKind[K]>>;
}

/** One version by id, current or not. */
export async function getMapping<K extends CrosswalkKind>(db: Queryable, kind: K, id: number): Promise<Versioned<MappingByKind[K]> | undefined> {
  const spec = KIND_SPECS[kind];
  const { rows } = await db.query(`select ${selectList(spec)} from ${spec.table} where id = $1`, [id]);
  return rows[0] as Versioned<MappingByKind[K]> | undefined;
}

/** Every version of the key the version `id` belongs to, oldest first; empty when the id is unknown. */
export async function mappingHistory<K extends CrosswalkKind>(db: Queryable, kind: K, id: number): Promise<Array<Versioned<MappingByKind[K]>>> {
  const spec = KIND_SPECS[kind];
  const join = keyColumns(spec)
    .map((column) => `h.${column.column} = v.${column.column}`)
    .join(' and ');
  const { rows } = await db.query(
    `select ${selectList(spec, 'h')} from ${spec.table} v join ${spec.table} h on ${join} where v.id = $1 order by h.version`,
    [id],
  );
  return rows as Array<Versioned<MappingByKind[K]>>;
}
