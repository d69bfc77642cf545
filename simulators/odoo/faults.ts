/** Faults a test or a demo can inject. Each rule fires for matching object calls, `times` times (default: always). */
export interface FaultRule {
  kind:
    | 'slow' // answer after delayMs more
    | 'http_502' // a reverse proxy's answer while Odoo restarts
    | 'http_503'
    | 'reset_before' // connection dropped before Odoo saw the call
    | 'timeout_after_commit' // the call commits, the answer never arrives (client times out)
    | 'concurrency'; // a SerializationFailure that survived Odoo's 5 retries (reference/odoo.md §1.6)
  model?: string;
  method?: string;
  times?: number;
  delayMs?: number;
}

export class FaultPlan {
  private rules: Array<FaultRule & { left: number }> = [];

  add(rule: FaultRule): void {
    this.rules.push({ ...rule, left: rule.times ?? Number.POSITIVE_INFINITY });
  }

  clear(): void {
    this.rules = [];
  }

  /** Consumes and returns the first matching rule of one of `kinds`. */
  take(kinds: readonly FaultRule['kind'][], model: string, method: string): FaultRule | undefined {
    const rule = this.rules.find((r) => kinds.includes(r.kind) && r.left > 0 && (!r.model || r.model === model) && (!r.method || r.method === method));
    if (rule) rule.left -= 1;
    return rule;
  }
}
