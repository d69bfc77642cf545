import pg from 'pg';
import { createScratchDatabase, round, type BenchServer } from './support.ts';

export interface RateRun {
  clients: number;
  count: number;
  seconds: number;
  perSecond: number;
}

/**
 * The ceiling for "persist, then acknowledge": one autocommitted single-row insert of the same payload per
 * message, from `clients` connections at once, with nothing else around it. Each commit waits for its WAL
 * flush exactly as the ingest's does, so the ratio shows what the listener adds on top of the commit.
 */
export async function runRawInsert(server: BenchServer, payloads: (n: number) => Buffer, count: number, clients: number, keep: boolean): Promise<RateRun> {
  const scratch = await createScratchDatabase(server, `raw_c${clients}`);
  const connections = Array.from({ length: clients }, () => new pg.Client({ connectionString: scratch.url, application_name: 'raw-insert-bench' }));
  try {
    await Promise.all(connections.map((c) => c.connect()));
    await connections[0]!.query('create table bench_raw (id bigserial primary key, payload bytea not null)');
    const perClient = Math.ceil(count / clients);
    const started = performance.now();
    await Promise.all(
      connections.map(async (client, c) => {
        for (let i = 0; i < perClient; i++) {
          await client.query('insert into bench_raw (payload) values ($1)', [payloads(c * perClient + i)]);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    return { clients, count: perClient * clients, seconds: round(seconds, 3), perSecond: round((perClient * clients) / seconds, 1) };
  } finally {
    await Promise.all(connections.map((c) => c.end().catch(() => {})));
    if (!keep) await scratch.drop();
  }
}
