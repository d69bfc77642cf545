import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../src/engine/scheduler.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { silentLog, waitFor } from './support/engine-harness.ts';

describe('scheduler with leader election', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase(embeddedTarget());
  });
  afterAll(async () => {
    await db.drop();
  });

  it('runs each tick of a job on one node only, and another node takes over when the leader stops', async () => {
    const runs: string[] = [];
    const make = (node: string) =>
      new Scheduler({ databaseUrl: db.url, pool: db.pool, node, log: silentLog, electionIntervalMs: 200 }).add({
        name: 'every-second',
        cron: '* * * * * *',
        run: async () => {
          runs.push(node);
        },
      });
    const a = make('a');
    const b = make('b');
    await a.start();
    await b.start();
    expect([a.isLeader, b.isLeader].filter(Boolean)).toHaveLength(1);
    const leader = a.isLeader ? a : b;
    const follower = a.isLeader ? b : a;
    await waitFor(() => runs.length >= 3 || undefined, 10_000, 'three ticks');
    expect(new Set(runs).size).toBe(1);

    await leader.stop();
    await waitFor(() => follower.isLeader || undefined, 5000, 'takeover');
    const before = runs.length;
    await waitFor(() => runs.length >= before + 2 || undefined, 10_000, 'ticks after takeover');
    await follower.stop();

    const { rows } = await db.pool.query<{ n: number; distinct_ticks: number }>(
      `select count(*)::int as n, count(distinct scheduled_for)::int as distinct_ticks from carelane.job_runs where job = 'every-second'`,
    );
    expect(rows[0]!.n).toBe(rows[0]!.distinct_ticks); // no tick ran twice
    expect(rows[0]!.n).toBe(runs.length);
  });

  it('refuses an invalid cron pattern when the job is added', () => {
    const scheduler = new Scheduler({ databaseUrl: db.url, pool: db.pool, node: 'x', log: silentLog });
    expect(() => scheduler.add({ name: 'bad', cron: 'every tuesday', run: async () => {} })).toThrow();
  });
});
