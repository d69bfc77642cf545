import type { CarelaneConfig, CircuitConfig, RetryConfig } from '../config/index.ts';

export interface EndpointPolicy {
  retry: RetryConfig;
  circuit: CircuitConfig;
  timeoutMs: number;
}

/** The retry and circuit policy of an endpoint: its own settings over the engine's defaults. */
export function policyFor(config: CarelaneConfig, endpoint: string): EndpointPolicy {
  const own = config.endpoints[endpoint];
  return {
    retry: { ...config.engine.retry, ...own?.retry },
    circuit: { ...config.engine.circuit, ...own?.circuit },
    timeoutMs: own?.timeoutMs ?? 30_000,
  };
}

/**
 * Exponential backoff with "equal jitter": half the exponential delay is fixed, half random, so retries
 * from many deliveries spread out without any of them retrying almost at once.
 */
export function backoffDelayMs(attempt: number, retry: RetryConfig, random: () => number = Math.random): number {
  const exponential = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential / 2 + random() * (exponential / 2));
}

export type RetryDecision = { kind: 'retry'; delayMs: number } | { kind: 'give_up'; reason: string };

/** Whether a failed attempt of a retryable failure may be tried again, and when. */
export function decideRetry(attempts: number, createdAt: Date, now: Date, retry: RetryConfig, retryAfterMs?: number): RetryDecision {
  if (attempts >= retry.maxAttempts) return { kind: 'give_up', reason: `gave up after ${attempts} attempts (maxAttempts ${retry.maxAttempts})` };
  const delayMs = Math.max(backoffDelayMs(attempts, retry), retryAfterMs ?? 0);
  const age = now.getTime() - createdAt.getTime();
  if (age + delayMs > retry.maxAgeMs) return { kind: 'give_up', reason: `gave up: the next attempt would exceed maxAgeMs ${retry.maxAgeMs}` };
  return { kind: 'retry', delayMs };
}
