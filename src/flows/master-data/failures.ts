import type { Queryable } from '../../store/database.ts';
import type { UnmappedValue } from './lookup.ts';

// The mapping-failure queue as people work it: one line per unmapped value (not per message), with how many
// open exceptions wait for it, since when, and a few of the messages — so the mapping that unblocks the most
// is added first (DESIGN.md: mapping_failure aggregated by unmapped value).

export interface MappingFailureGroup {
  value: UnmappedValue;
  openExceptions: number;
  oldestAt: Date;
  newestAt: Date;
  exampleMessageIds: number[];
}

export async function mappingFailureSummary(db: Queryable, filter: { kind?: string | undefined; limit?: number | undefined } = {}): Promise<MappingFailureGroup[]> {
  const { rows } = await db.query<{ kind: string; system: string; code: string; site: string | null; open: number; oldest: Date; newest: Date; messages: number[] | null }>(
    `select value ->> 'kind' as kind, coalesce(value ->> 'system', '') as system, value ->> 'code' as code, value ->> 'site' as site,
            count(distinct e.id)::int as open, min(e.created_at) as oldest, max(e.created_at) as newest,
            (array_agg(distinct e.message_id) filter (where e.message_id is not null))[1:5] as messages
     from carelane.exceptions e cross join lateral jsonb_array_elements(case when jsonb_typeof(e.detail -> 'unmapped') = 'array' then e.detail -> 'unmapped' else '[]'::jsonb end) as value
     where e.status = 'open' and e.type = 'mapping_failure' and ($1::text is null or value ->> 'kind' = $1)
     group by 1, 2, 3, 4 order by open desc, oldest limit $2`,
    [filter.kind ?? null, filter.limit ?? 200],
  );
  return rows.map((row) => ({
    value: { kind: row.kind as UnmappedValue['kind'], system: row.system, code: row.code, ...(row.site ? { site: row.site } : {}) },
    openExceptions: row.open,
    oldestAt: row.oldest,
    newestAt: row.newest,
    exampleMessageIds: (row.messages ?? []).map(Number),
  }));
}
