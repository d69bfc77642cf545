import { STANDARD_PRIORITY, withWorkPriority } from '../observability/work-priority.ts';
import pg from 'pg';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { CarelaneConfig, LaneConfig } from '../config/index.ts';
import { CarelaneError, classify, describeLocation, permanentError } from '../contracts/errors.ts';
import { inTransaction } from '../store/database.ts';
import {
  DELIVERY_CHANNEL,
  claimDeliveries,
  claimProbe,
  closeIdleEndpoint,
  enqueueDeliveries,
  extendLeases,
  markDone,
  moveToException,
  reapExpiredLeases,
  recordEndpointFailure,
  recordEndpointSuccess,
  recordStage,
  reschedule,
  settleMessage,
  takeDueProbes,
  type ClaimedDelivery,
} from '../store/queue.ts';
import type { Logger } from '../observability/logger.ts';
import { metricMessageType, type Metrics } from '../observability/metrics.ts';
import type { HandlerRegistry, HandlerResult, SettlementHook } from './handlers.ts';
import { decideRetry, policyFor } from './retry-policy.ts';
import { DrainLimiter } from './drain-limiter.ts';
import { CompletionBatcher } from './completion-batcher.ts';

export interface EngineOptions {
  config: CarelaneConfig;
  pool: pg.Pool;
  /** a dedicated connection string for LISTEN (a pooled client can't hold a LISTEN) */
  databaseUrl: string;
  registry: HandlerRegistry;
  log: Logger;
  metrics?: Metrics;
  /** lanes to run workers for; default all configured lanes */
  lanes?: string[];
  /** called in the transaction that settles a message (processed or failed) */
  onSettled?: SettlementHook;
}

class LeaseLostError extends Error {}

export function defaultNodeId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

/**
 * Runs deliveries: one worker loop per lane, each with its own concurrency, so a flood on one lane never
 * takes the slots of another. Work is claimed from PostgreSQL, so any number of engines can share a database.
 */
export class Engine {
  readonly nodeId: string;
  private readonly options: EngineOptions;
  private readonly lanes: LaneWorker[];
  private readonly running = new Map<number, AbortController>();
  /** every delivery this node has claimed and not finished, running or waiting in a lane's prefetch */
  private readonly held = new Set<number>();
  private readonly drain = new DrainLimiter();
  private readonly batcher: CompletionBatcher;
  private readonly timers: NodeJS.Timeout[] = [];
  private listener: pg.Client | undefined;
  private stopped = true;
  private readonly log: Logger;

  constructor(options: EngineOptions) {
    this.options = options;
    this.nodeId = options.config.engine.nodeId ?? defaultNodeId();
    this.log = options.log.child({ node: this.nodeId });
    this.batcher = new CompletionBatcher(options.pool, this.nodeId);
    const names = options.lanes ?? Object.keys(options.config.engine.lanes);
    this.lanes = names
      .map((name) => {
        const lane = options.config.engine.lanes[name];
        if (!lane) throw new Error(`lane "${name}" is not configured`);
        return new LaneWorker(name, lane, this);
      })
      .sort((a, b) => b.settings.priority - a.settings.priority);
  }

  get isRunning(): boolean {
    return !this.stopped;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.listen();
    const { engine } = this.options.config;
    this.every(engine.pollIntervalMs, () => this.wakeAll());
    this.every(Math.max(500, Math.floor(engine.leaseMs / 3)), () => this.heartbeat());
    this.every(engine.reaperIntervalMs, () => this.reap());
    this.every(Math.min(1000, engine.pollIntervalMs), () => this.probeRecoveredEndpoints());
    this.wakeAll();
    this.log.info({ lanes: this.lanes.map((l) => l.name) }, 'engine started');
  }

  /** Stops claiming, lets running deliveries finish for up to `graceMs`, then aborts the rest. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    // A claim may be on its way back: let it land, then give back whatever was claimed but not started.
    await Promise.all(this.lanes.map((lane) => lane.idle()));
    await Promise.all(this.lanes.map((lane) => lane.returnBuffered()));
    const deadline = Date.now() + graceMs;
    while (this.inFlight() > 0 && Date.now() < deadline) await sleep(20);
    for (const controller of this.running.values()) controller.abort(new Error('engine stopping'));
    while (this.inFlight() > 0 && Date.now() < deadline + 2000) await sleep(20);
    await this.listener?.end().catch(() => {});
    this.listener = undefined;
    this.log.info('engine stopped');
  }

  inFlight(): number {
    return this.running.size;
  }

  wakeAll(): void {
    for (const lane of this.lanes) lane.wake();
  }

  wakeLane(name: string): void {
    this.lanes.find((l) => l.name === name)?.wake();
  }

  /**
   * Called by a lane worker for each delivery it claimed. Never throws. `onAttemptOver` is called when the
   * handler has finished, before its outcome is written, so the lane can start its next claim while this
   * delivery's completion is being committed.
   */
  async execute(delivery: ClaimedDelivery, onAttemptOver: () => void = () => {}): Promise<void> {
    const { config, registry, pool, metrics } = this.options;
    const policy = policyFor(config, delivery.endpoint);
    const log = this.log.child({ correlationId: delivery.correlationId, deliveryId: delivery.id, action: delivery.action });
    const controller = new AbortController();
    this.running.set(delivery.id, controller);
    const started = performance.now();
    try {
      const wait = this.drain.take(delivery.endpoint, delivery.endpointClosedAt, policy.circuit.drainRatePerSecond, policy.circuit.drainWindowMs);
      if (wait > 0) {
        // Not an attempt: the endpoint is draining its backlog at the configured rate.
        await reschedule(pool, delivery.id, this.nodeId, new Date(Date.now() + wait), undefined, true);
        return;
      }
      const handler = registry.get(delivery.action);
      if (!handler) throw permanentError(`no handler is registered for action "${delivery.action}"`, { code: 'no_handler' });
      const context = { pool, log, signal: controller.signal };
      const attempt = async (): Promise<HandlerResult> => {
        if (delivery.needsLookup && handler.lookup && (await handler.lookup(delivery, context)) === 'applied') {
          return { stages: [{ stage: `${delivery.action}: found already applied at the peer; not sent again` }] };
        }
        return (await handler.run(delivery, context)) ?? {};
      };
      let result: HandlerResult;
      try {
        // Peers shared between lanes (the Odoo limiter) serve calls by this lane's priority.
        const priority = this.options.config.engine.lanes[delivery.lane]?.priority ?? STANDARD_PRIORITY;
        result = await withDeadline(withWorkPriority(priority, attempt), controller, policy.timeoutMs, delivery);
      } finally {
        onAttemptOver();
      }
      metrics?.attemptDuration.observe({ lane: delivery.lane, endpoint: delivery.endpoint }, (performance.now() - started) / 1000);
      try {
        await this.complete(delivery, result);
      } catch (error) {
        if (!isDatabaseUnavailable(error)) throw error;
        // The effect happened but its completion was not recorded. Leave the lease to expire: the delivery is then
        // taken over and looked up before anything is sent again, never parked as if it had failed.
        log.error({ err: (error as Error).message }, 'completion not recorded (database unavailable); the delivery will be looked up and finished');
        return;
      }
      metrics?.deliveriesProcessed.inc({ lane: delivery.lane, action: delivery.action, endpoint: delivery.endpoint });
      metrics?.deliveryLatency.observe({ lane: delivery.lane, endpoint: delivery.endpoint }, (Date.now() - delivery.createdAt.getTime()) / 1000);
    } catch (error) {
      if (error instanceof LeaseLostError) {
        log.warn('lease lost before completion: another node has taken this delivery over');
      } else {
        await this.fail(delivery, classify(error), log).catch((failError: unknown) =>
          // The database is unreachable: the lease will expire and the delivery will be taken over.
          log.error({ err: failError }, 'could not record a delivery failure'),
        );
      }
    } finally {
      this.running.delete(delivery.id);
      this.held.delete(delivery.id);
    }
  }

  private async complete(delivery: ClaimedDelivery, result: HandlerResult): Promise<void> {
    const { pool } = this.options;
    const simple = !result.next?.length && !result.stages?.length && !result.inTransaction && delivery.messageId === null && delivery.endpointFailures === 0;
    if (simple) {
      if (!(await this.batcher.complete(delivery.id))) throw new LeaseLostError();
      return;
    }
    const settled = await inTransaction(pool, async (tx) => {
      if (!(await markDone(tx, delivery.id, this.nodeId))) throw new LeaseLostError();
      if (result.next?.length) await enqueueDeliveries(tx, result.next);
      if (result.inTransaction) await result.inTransaction(tx);
      if (delivery.messageId !== null) {
        for (const stage of result.stages ?? []) await recordStage(tx, delivery.messageId, stage.stage, stage.outcome ?? 'ok', stage.detail);
      }
      if (delivery.endpointFailures > 0) await recordEndpointSuccess(tx, delivery.endpoint);
      return delivery.messageId === null ? undefined : this.settle(tx, delivery, delivery.messageId);
    });
    this.countSettled(delivery, settled);
  }

  private async settle(tx: pg.PoolClient, delivery: ClaimedDelivery, messageId: number): Promise<Awaited<ReturnType<typeof settleMessage>>> {
    const settled = await settleMessage(tx, messageId);
    if (settled && this.options.onSettled) await this.options.onSettled(tx, { messageId, ...settled, lane: delivery.lane, correlationId: delivery.correlationId });
    return settled;
  }

  private countSettled(delivery: ClaimedDelivery, settled: { messageType: string; status: string } | undefined): void {
    if (settled) this.options.metrics?.messagesSettled.inc({ type: metricMessageType(settled.messageType), lane: delivery.lane, outcome: settled.status });
  }

  private async fail(delivery: ClaimedDelivery, error: CarelaneError, log: Logger): Promise<void> {
    const { config, pool, metrics } = this.options;
    const policy = policyFor(config, delivery.endpoint);
    const where = describeLocation(error.where);
    const lastError = `${error.code}: ${error.message}${where ? ` (${where})` : ''}`;
    metrics?.deliveriesFailed.inc({ lane: delivery.lane, endpoint: delivery.endpoint, class: error.failureClass });
    const outcome = await inTransaction(pool, async (tx) => {
      const failure = { message: lastError, failureClass: error.failureClass, needsLookup: error.failureClass === 'ambiguous' };
      if (error.retryable) {
        if (error.peerUnavailable) {
          const circuit = await recordEndpointFailure(tx, delivery.endpoint, lastError, policy.circuit);
          if (circuit.state !== 'closed') {
            // The peer is down: wait for the circuit without counting this attempt against the delivery.
            if (!(await reschedule(tx, delivery.id, this.nodeId, new Date(), failure, true))) throw new LeaseLostError();
            return { kind: 'circuit_open' as const, retryAt: circuit.retryAt };
          }
        }
        const decision = decideRetry(delivery.attempts, delivery.createdAt, new Date(), policy.retry, error.retryAfterMs);
        if (decision.kind === 'retry') {
          if (!(await reschedule(tx, delivery.id, this.nodeId, new Date(Date.now() + decision.delayMs), failure, false))) throw new LeaseLostError();
          if (delivery.messageId !== null) await recordStage(tx, delivery.messageId, `${delivery.action}: attempt ${delivery.attempts} failed, retrying`, 'error', { class: error.failureClass, error: lastError, retryInMs: decision.delayMs });
          return { kind: 'retry' as const, delayMs: decision.delayMs };
        }
        return this.park(tx, delivery, error, 'delivery_failed', decision.reason, lastError);
      }
      const type = error.exceptionType ?? 'delivery_failed';
      return this.park(tx, delivery, error, type, error.message, lastError);
    });
    if (outcome.kind === 'exception') {
      metrics?.exceptionsOpened.inc({ type: outcome.type });
      this.countSettled(delivery, outcome.settled);
      log.warn({ exceptionId: outcome.exceptionId, type: outcome.type, class: error.failureClass, code: error.code }, 'delivery moved to exceptions');
    } else {
      log.info({ outcome: outcome.kind, class: error.failureClass, code: error.code }, 'delivery attempt failed');
    }
  }

  private async park(tx: pg.PoolClient, delivery: ClaimedDelivery, error: CarelaneError, type: string, reason: string, lastError: string) {
    const exceptionId = await moveToException(tx, delivery.id, this.nodeId, {
      type,
      failureClass: error.failureClass,
      reason,
      lastError,
      detail: { ...error.detail, code: error.code, where: error.where ?? null, action: delivery.action, endpoint: delivery.endpoint },
    });
    if (exceptionId === undefined) throw new LeaseLostError();
    let settled: Awaited<ReturnType<typeof settleMessage>>;
    if (delivery.messageId !== null) {
      await recordStage(tx, delivery.messageId, `${delivery.action}: moved to exceptions`, 'error', { exceptionId, type, class: error.failureClass, error: lastError });
      settled = await this.settle(tx, delivery, delivery.messageId);
    }
    return { kind: 'exception' as const, exceptionId, type, settled };
  }

  async claim(lane: string, limit: number): Promise<ClaimedDelivery[]> {
    const claimed = await claimDeliveries(this.options.pool, lane, this.nodeId, limit, this.options.config.engine.leaseMs);
    for (const delivery of claimed) this.held.add(delivery.id);
    return claimed;
  }

  /** Returns a claimed delivery that was never started to its queue, without counting an attempt. */
  async giveBack(delivery: ClaimedDelivery): Promise<void> {
    await reschedule(this.options.pool, delivery.id, this.nodeId, new Date(), undefined, true).catch(() => {
      // The lease will expire and the delivery will be taken over.
    });
    this.held.delete(delivery.id);
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.databaseUrl, application_name: `carelane-listen` });
    client.on('notification', (message) => {
      if (message.channel === DELIVERY_CHANNEL && message.payload) this.wakeLane(message.payload);
    });
    client.on('error', (error) => {
      this.log.warn({ err: error.message }, 'LISTEN connection lost; polling until it is back');
      this.listener = undefined;
      client.end().catch(() => {});
      if (!this.stopped) setTimeout(() => void this.listen().catch(() => {}), 1000).unref();
    });
    try {
      await client.connect();
      await client.query(`listen ${DELIVERY_CHANNEL}`);
      this.listener = client;
      this.wakeAll();
    } catch (error) {
      client.end().catch(() => {});
      this.log.warn({ err: (error as Error).message }, 'LISTEN connection failed; polling and retrying');
      if (!this.stopped) setTimeout(() => void this.listen().catch(() => {}), 1000).unref();
    }
  }

  private every(ms: number, task: () => Promise<unknown> | void): void {
    let busy = false;
    const timer = setInterval(() => {
      if (busy || this.stopped) return;
      busy = true;
      Promise.resolve()
        .then(task)
        .catch((error: unknown) => this.log.warn({ err: (error as Error).message }, 'engine background task failed'))
        .finally(() => (busy = false));
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  private async heartbeat(): Promise<void> {
    await extendLeases(this.options.pool, this.nodeId, [...this.held], this.options.config.engine.leaseMs);
  }

  private async reap(): Promise<void> {
    const reaped = await reapExpiredLeases(this.options.pool);
    if (reaped > 0) this.log.warn({ reaped }, 'took over deliveries whose lease expired');
  }

  private async probeRecoveredEndpoints(): Promise<void> {
    const { pool, config } = this.options;
    for (const endpoint of await takeDueProbes(pool, config.engine.leaseMs)) {
      const probe = await claimProbe(pool, endpoint, this.nodeId, config.engine.leaseMs);
      if (!probe) {
        await closeIdleEndpoint(pool, endpoint);
        continue;
      }
      this.log.info({ endpoint, deliveryId: probe.id }, 'circuit half-open: probing with one delivery');
      void this.execute(probe).then(() => this.wakeAll());
    }
  }
}

class LaneWorker {
  readonly name: string;
  readonly settings: LaneConfig;
  private readonly engine: Engine;
  /** handlers running */
  private inflight = 0;
  /** attempts over whose outcome is still being written */
  private settling = 0;
  /** claimed ahead (lane prefetch), waiting for a free slot; their leases are renewed like running ones */
  private readonly buffered: ClaimedDelivery[] = [];
  private pumping = false;
  private pumpDone: Promise<void> = Promise.resolve();
  private wanted = false;

  constructor(name: string, settings: LaneConfig, engine: Engine) {
    this.name = name;
    this.settings = settings;
    this.engine = engine;
  }

  wake(): void {
    if (!this.engine.isRunning) return;
    if (this.pumping) {
      this.wanted = true;
      return;
    }
    this.pumpDone = this.pump();
  }

  /** Resolves when no claim of this lane is in flight. */
  async idle(): Promise<void> {
    await this.pumpDone;
  }

  /** Starts buffered deliveries while handler slots are free (never once the engine is stopping). */
  private dispatch(): void {
    while (this.engine.isRunning && this.inflight < this.settings.concurrency && this.buffered.length > 0) {
      const delivery = this.buffered.shift()!;
      this.inflight++;
      let attemptOver = false;
      const release = () => {
        if (attemptOver) return;
        attemptOver = true;
        this.inflight--;
        this.settling++;
        this.dispatch();
        this.wake();
      };
      void this.engine.execute(delivery, release).finally(() => {
        release();
        this.settling--;
        this.wake();
      });
    }
  }

  /** Gives back what was claimed but not started (engine stopping): it was never attempted. */
  async returnBuffered(): Promise<void> {
    const left = this.buffered.splice(0);
    await Promise.all(left.map((delivery) => this.engine.giveBack(delivery)));
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    const { concurrency, prefetch, claimBatch } = this.settings;
    const capacity = concurrency + prefetch;
    try {
      do {
        this.wanted = false;
        // Bounded twice: claimed work held here, and outcomes not yet written (a slow database slows claiming).
        while (this.engine.isRunning && this.inflight + this.buffered.length < capacity && this.settling < capacity) {
          const room = capacity - this.inflight - this.buffered.length;
          // With work in hand, wait until half a batch fits: fewer, fuller claims (one round trip each).
          const busy = this.inflight + this.buffered.length > 0;
          if (busy && prefetch > 0 && room < Math.min(claimBatch, capacity) / 2) break;
          const limit = Math.min(claimBatch, room);
          const claimed = await this.engine.claim(this.name, limit);
          this.buffered.push(...claimed);
          this.dispatch();
          if (claimed.length < limit) break;
        }
      } while (this.wanted && this.engine.isRunning);
    } catch {
      // The database is unreachable; the next poll tries again.
    } finally {
      this.pumping = false;
    }
  }
}

async function withDeadline<T>(work: Promise<T>, controller: AbortController, timeoutMs: number, delivery: ClaimedDelivery): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    const onAbort = () =>
      reject(
        new CarelaneError('ambiguous', `attempt of ${delivery.action} did not finish within ${timeoutMs} ms; it may have reached ${delivery.endpoint}`, {
          code: 'attempt_timeout',
          peerUnavailable: false,
        }),
      );
    timer = setTimeout(() => {
      controller.abort(new Error('attempt timed out'));
      onAbort();
    }, timeoutMs);
    controller.signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Connection-level failures (SQLSTATE class 08, admin shutdown 57P01..57P03, or a socket error), not a query's fault. */
function isDatabaseUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return error instanceof Error && /Connection terminated|ECONNREFUSED|ECONNRESET/.test(error.message);
  return code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === 'ECONNREFUSED' || code === 'ECONNRESET';
}
