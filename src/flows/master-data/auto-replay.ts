import type pg from 'pg';
import { ExceptionNotOpenError, resolveException } from '../../engine/exceptions.ts';
import { PgMasterDataLookup, unmappedKey } from './crosswalks.ts';
import type { UnmappedValue } from './lookup.ts';

// Messages parked for a missing mapping replay themselves once it exists (DESIGN.md "Business exceptions").
// A flow parks with mappingFailure(unmapped), so each open mapping_failure names its values in
// detail.unmapped; a new or changed mapping finds the exceptions naming its value by jsonb containment, and
// replays those whose values are now *all* mapped (one still missing would only park the message again).

export const AUTO_REPLAY_ACTOR = 'system:crosswalks';

export interface AutoReplayOutcome {
  /** exceptions resolved with a replay */
  replayed: number[];
  /** exceptions naming a changed value that still wait for another mapping */
  waiting: number[];
}

/** The value as a containment probe: site only for procedures (cards are per site). */
const probe = (value: UnmappedValue): string =>
  JSON.stringify([{ kind: value.kind, system: value.system, code: value.code, ...(value.kind === 'procedure' && value.site !== undefined ? { site: value.site } : {}) }]);

const describe = (value: UnmappedValue): string => `${value.kind} ${value.system ? `${value.system}|` : ''}${value.code}${value.kind === 'procedure' && value.site ? ` at ${value.site}` : ''}`;

/**
 * Replays the open mapping_failure exceptions that `mapped` (values whose mapping was just added or changed,
 * after its commit) completes. `source` says where the mapping came from, for the resolution note.
 */
export async function replayMappingFailures(pool: pg.Pool, mapped: UnmappedValue[], source: string, pageSize = 1000): Promise<AutoReplayOutcome> {
  const outcome: AutoReplayOutcome = { replayed: [], waiting: [] };
  if (mapped.length === 0) return outcome;
  const probes = [...new Set(mapped.map(probe))];
  const lookup = new PgMasterDataLookup(pool);
  const changed = new Map(mapped.map((value) => [unmappedKey(value), value]));
  // Page by id (oldest first): every open exception naming a value is seen once, however many there are.
  let afterId = 0;
  for (;;) {
    const { rows } = await pool.query<{ id: number; unmapped: UnmappedValue[] }>(
      `select id::int as id, detail -> 'unmapped' as unmapped from carelane.exceptions
       where status = 'open' and type = 'mapping_failure' and detail -> 'unmapped' @> any ($1::jsonb[]) and id > $3
       order by id limit $2`,
      [probes, pageSize, afterId],
    );
    if (rows.length === 0) break;
    const nowMapped = await lookup.mappedValues(rows.flatMap((row) => (Array.isArray(row.unmapped) ? row.unmapped : [])));
    for (const row of rows) {
      const values = Array.isArray(row.unmapped) ? row.unmapped : [];
      if (!values.every((value) => nowMapped.has(unmappedKey(value)))) {
        outcome.waiting.push(row.id);
        continue;
      }
      const by = values.filter((value) => changed.has(unmappedKey(value))).map(describe);
      try {
        await resolveException(pool, row.id, { action: 'replay', actor: AUTO_REPLAY_ACTOR, note: `mapping now present for ${by.join(', ')} (${source})` });
        outcome.replayed.push(row.id);
      } catch (error) {
        // resolved meanwhile by a person or another node: nothing left to do
        if (!(error instanceof ExceptionNotOpenError)) throw error;
      }
    }
    if (rows.length < pageSize) break;
    afterId = rows[rows.length - 1]!.id;
  }
  return outcome;
}
