import { Counter, type Registry } from 'prom-client';
import type pg from 'pg';
import type { Logger } from '../observability/logger.ts';
import { appendAudit } from './audit.ts';

// Owners and SLAs (issue 8): each exception type names a business and a technical owner and an SLA. The SLA
// check marks every open exception past its type's SLA once (breached_at) and raises the alert three ways: a
// counter for alerting rules, a log line, and an audit entry, all in the transaction that marks it. None of
// them carries the exception's reason or error text, which may quote a payload (and so PHI): only ids, the
// type and the owners.

export interface ExceptionOwnership {
  business: string;
  technical: string;
  slaMinutes: number;
  runbook: string;
}

export interface SlaBreach {
  exceptionId: number;
  type: string;
  createdAt: Date;
}

export class SlaMonitor {
  private readonly pool: pg.Pool;
  private readonly owners: Readonly<Record<string, ExceptionOwnership>>;
  private readonly log: Logger;
  private readonly breaches: Counter<'type'>;

  constructor(options: { pool: pg.Pool; owners: Readonly<Record<string, ExceptionOwnership>>; registry: Registry; log: Logger }) {
    this.pool = options.pool;
    this.owners = options.owners;
    this.log = options.log.child({ component: 'sla' });
    const existing = options.registry.getSingleMetric('carelane_exception_sla_breaches_total');
    this.breaches =
      (existing as Counter<'type'> | undefined) ??
      new Counter({ name: 'carelane_exception_sla_breaches_total', help: 'Open exceptions that passed their SLA, by exception type', labelNames: ['type'] as const, registers: [options.registry] });
  }

  /** Marks and alerts every open exception past its SLA that was not alerted yet; returns them. */
  async check(): Promise<SlaBreach[]> {
    const found: SlaBreach[] = [];
    for (const [type, owner] of Object.entries(this.owners)) {
      const client = await this.pool.connect();
      try {
        await client.query('begin');
        const { rows } = await client.query<SlaBreach>(
          `update carelane.exceptions set breached_at = now()
           where id in (select id from carelane.exceptions
                        where status = 'open' and breached_at is null and type = $1 and created_at < now() - make_interval(mins => $2)
                        order by id limit 1000 for update skip locked)
           returning id::int as "exceptionId", type, created_at as "createdAt"`,
          [type, owner.slaMinutes],
        );
        for (const breach of rows) {
          await appendAudit(client, {
            actor: 'system:sla-check',
            action: 'exception.sla_breach',
            targetType: 'exception',
            targetId: String(breach.exceptionId),
            detail: { type, slaMinutes: owner.slaMinutes, business: owner.business, technical: owner.technical },
          });
        }
        await client.query('commit');
        for (const breach of rows) {
          this.breaches.inc({ type });
          this.log.warn(
            { exceptionId: breach.exceptionId, type, slaMinutes: owner.slaMinutes, businessOwner: owner.business, technicalOwner: owner.technical, runbook: owner.runbook },
            'exception past its SLA',
          );
        }
        found.push(...rows);
      } catch (error) {
        await client.query('rollback').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    }
    return found;
  }
}

/** The SLA check as a scheduler job (runs on the leader only). */
export function slaCheckJob(monitor: SlaMonitor, cron: string): { name: string; cron: string; run(): Promise<void> } {
  return { name: 'sla-check', cron, run: async () => void (await monitor.check()) };
}
