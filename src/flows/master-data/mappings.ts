import type pg from 'pg';
import { replayMappingFailures, type AutoReplayOutcome } from './auto-replay.ts';
import { mappingsFromCsv } from './csv.ts';
import { KIND_SPECS, type CrosswalkKind, type MappingByKind } from './kinds.ts';
import type { UnmappedValue } from './lookup.ts';
import { removeMapping, saveMappings, type Change, type SavedMapping, type SaveOptions } from './store.ts';

// The one door every change of a crosswalk goes through (API, CSV import, CLI, master-data sync): save the
// versions, audited, and once they are committed replay the messages parked for the values they map.

export interface AppliedMappings<K extends CrosswalkKind = CrosswalkKind> {
  saved: Array<SavedMapping<K>>;
  counts: Record<Change, number>;
  autoReplay: AutoReplayOutcome;
}

export async function applyMappings<K extends CrosswalkKind>(pool: pg.Pool, kind: K, mappings: Array<MappingByKind[K]>, options: SaveOptions & { source: string }): Promise<AppliedMappings<K>> {
  const saved = await saveMappings(pool, kind, mappings, options);
  const counts: Record<Change, number> = { created: 0, updated: 0, unchanged: 0, removed: 0 };
  for (const entry of saved) counts[entry.change]++;
  const spec = KIND_SPECS[kind];
  const nowMapped = saved
    .filter((entry) => entry.change === 'created' || entry.change === 'updated')
    .map((entry) => spec.unmappedValue(entry.mapping))
    .filter((value): value is UnmappedValue => value !== undefined);
  const autoReplay = await replayMappingFailures(pool, nowMapped, options.source);
  return { saved, counts, autoReplay };
}

/** A whole CSV file of one kind: checked first, then saved in one transaction (all rows or none). */
export async function importCsv<K extends CrosswalkKind>(pool: pg.Pool, kind: K, text: string, options: { actor: string; fileName: string }): Promise<AppliedMappings<K>> {
  const mappings = mappingsFromCsv(kind, text);
  return applyMappings(pool, kind, mappings, {
    actor: options.actor,
    reason: `CSV import of ${options.fileName}`,
    auditAs: { action: 'crosswalk.import', targetId: options.fileName },
    source: `CSV import ${options.fileName} by ${options.actor}`,
  });
}

export { removeMapping };
