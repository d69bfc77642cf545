import pg from 'pg';
import { Cron } from 'croner';
import type { Logger } from '../observability/logger.ts';
import { purgeExpiredMessages, type RetentionPolicy } from '../governance/retention.ts';

// Any fixed number, the same in every process.
const LEADER_LOCK = 7_310_003;

export interface ScheduledJob {
  name: string;
  cron: string;
  run(): Promise<void>;
}

/**
 * Runs batch jobs on cron schedules on exactly one node. The leader is whichever process holds a session-level
 * advisory lock on its own connection: if it dies, PostgreSQL releases the lock with its connection and
 * another node takes over within `electionIntervalMs`. Each tick is also recorded in job_runs under a
 * primary key (job, scheduled_for), so even a leadership change mid-tick can't run a tick twice.
 */
export class Scheduler {
  private readonly databaseUrl: string;
  private readonly pool: pg.Pool;
  private readonly node: string;
  private readonly log: Logger;
  private readonly electionIntervalMs: number;
  private readonly jobs: ScheduledJob[] = [];
  private readonly crons: Cron[] = [];
  private lockClient: pg.Client | undefined;
  private electionTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(options: { databaseUrl: string; pool: pg.Pool; node: string; log: Logger; electionIntervalMs?: number }) {
    this.databaseUrl = options.databaseUrl;
    this.pool = options.pool;
    this.node = options.node;
    this.log = options.log.child({ component: 'scheduler' });
    this.electionIntervalMs = options.electionIntervalMs ?? 5000;
  }

  add(job: ScheduledJob): this {
    // Validates the pattern now, so a bad cron fails at start-up rather than silently never running.
    new Cron(job.cron, { paused: true });
    this.jobs.push(job);
    return this;
  }

  get isLeader(): boolean {
    return this.lockClient !== undefined;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.elect();
    this.electionTimer = setInterval(() => void this.elect(), this.electionIntervalMs);
    this.electionTimer.unref();
    for (const job of this.jobs) {
      this.crons.push(new Cron(job.cron, { protect: true, unref: true }, (self: Cron) => void this.tick(job, self)));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.electionTimer);
    for (const cron of this.crons.splice(0)) cron.stop();
    const client = this.lockClient;
    this.lockClient = undefined;
    await client?.end().catch(() => {});
  }

  private async elect(): Promise<void> {
    if (this.stopped || this.lockClient) return;
    const client = new pg.Client({ connectionString: this.databaseUrl, application_name: 'carelane-scheduler' });
    // Listening from the start: a connection lost while connecting must not become an unhandled 'error' event.
    client.on('error', () => {
      if (this.lockClient !== client) return;
      this.log.warn('lost the scheduler leadership connection');
      this.lockClient = undefined;
    });
    try {
      await client.connect();
      const { rows } = await client.query<{ locked: boolean }>('select pg_try_advisory_lock($1) as locked', [LEADER_LOCK]);
      if (!rows[0]?.locked || this.stopped) {
        await client.end();
        return;
      }
      this.lockClient = client;
      this.log.info({ node: this.node }, 'this node is now the scheduler leader');
    } catch (error) {
      await client.end().catch(() => {});
      this.log.warn({ err: (error as Error).message }, 'scheduler election failed; will retry');
    }
  }

  private async tick(job: ScheduledJob, cron: Cron): Promise<void> {
    if (!this.isLeader || this.stopped) return;
    const scheduledFor = new Date(Math.floor((cron.currentRun()?.getTime() ?? Date.now()) / 1000) * 1000);
    try {
      const { rowCount } = await this.pool.query(
        'insert into carelane.job_runs (job, scheduled_for, node) values ($1, $2, $3) on conflict do nothing',
        [job.name, scheduledFor, this.node],
      );
      if (rowCount !== 1) return;
      let outcome = 'ok';
      let error: string | null = null;
      try {
        await job.run();
      } catch (failure) {
        outcome = 'failed';
        error = (failure as Error).message;
        this.log.error({ job: job.name, err: error }, 'scheduled job failed');
      }
      await this.pool.query('update carelane.job_runs set finished_at = now(), outcome = $3, error = $4 where job = $1 and scheduled_for = $2', [
        job.name,
        scheduledFor,
        outcome,
        error,
      ]);
    } catch (failure) {
      this.log.warn({ job: job.name, err: (failure as Error).message }, 'could not record a scheduled tick');
    }
  }
}

/** Purges completed deliveries past their retention, in batches so it never holds long locks. */
export function housekeepingJob(pool: pg.Pool, cron: string, doneRetentionDays: number): ScheduledJob {
  return {
    name: 'housekeeping',
    cron,
    async run() {
      for (;;) {
        const { rowCount } = await pool.query(
          `delete from carelane.deliveries where id in (
             select id from carelane.deliveries
             where status in ('done', 'cancelled') and completed_at < now() - make_interval(days => $1)
             limit 5000)`,
          [doneRetentionDays],
        );
        if ((rowCount ?? 0) < 5000) return;
      }
    },
  };
}

/** Applies the retention policy (governance/retention.ts): erases old payloads, deletes old messages. */
export function retentionJob(pool: pg.Pool, cron: string, policy: RetentionPolicy, log: Logger): ScheduledJob {
  return {
    name: 'retention',
    cron,
    async run() {
      const result = await purgeExpiredMessages(pool, policy);
      if (result.payloadsErased || result.messagesDeleted) log.info({ job: 'retention', ...result }, 'retention purge finished');
    },
  };
}
