import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, Parameters, ParametersParameter, Resource } from '@medplum/fhirtypes';
import type { ResourceChange } from './store.ts';

/**
 * REST-hook subscriptions as the Subscriptions R5 Backport IG (STU 1.1) describes them for R4 servers:
 * every notification is a `history` Bundle whose first entry is a Parameters resource of the profile
 * backport-subscription-status-r4 (subscription, topic, status, type, events-since-subscription-start,
 * notification-event), POSTed to Subscription.channel.endpoint with the channel's headers.
 * - handshake when the subscription starts (IG "Handshake"), with events-since-subscription-start 0;
 * - event-notification per matching change, numbered in sequence; with the `full-resource` payload the
 *   changed resource follows the status entry, with `id-only` only its fullUrl, with `empty` nothing;
 * - heartbeat after `heartbeatMs` without a notification (IG "Heartbeats"), repeating the current count.
 * Notifications of one subscription go out one after the other, in order; a failed POST (no answer or a
 * non-2xx) is retried a few times and then recorded as failed with the subscription in `error` (IG "Error
 * Handling": the subscriber then finds the gap through event numbers and asks for what it missed).
 */

export type PayloadContent = 'empty' | 'id-only' | 'full-resource';
export type NotificationType = 'handshake' | 'heartbeat' | 'event-notification';

export interface SubscriptionSettings {
  id: string;
  /** Subscription.channel.endpoint: Carelane's POST /fhir/notify/<source> */
  endpoint: string;
  /** Subscription.channel.header, e.g. { authorization: 'Bearer …' } */
  headers?: Record<string, string>;
  /** the resource types whose changes are notified (the topic's resource triggers) */
  resourceTypes: string[];
  payload?: PayloadContent;
  /** Subscription.channel.extension heartbeatPeriod; default: none */
  heartbeatMs?: number;
  /** attempts per notification; default 3 */
  maxAttempts?: number;
  retryDelayMs?: number;
}

export interface SentNotification {
  subscription: string;
  type: NotificationType;
  eventNumber: number;
  focus?: string;
  /** the HTTP status, or 'failed' when nothing answered */
  status: number | 'failed';
  attempts: number;
}

export const TOPIC = 'http://ehr.carelane-simulator.invalid/SubscriptionTopic/clinical-demand';

export class SubscriptionNotifier {
  readonly sent: SentNotification[] = [];
  private readonly subscription: Required<Omit<SubscriptionSettings, 'heartbeatMs' | 'headers'>> & Pick<SubscriptionSettings, 'heartbeatMs' | 'headers'>;
  private readonly baseUrl: () => string;
  private readonly post: typeof fetch;
  private eventCount = 0;
  private status: 'active' | 'error' = 'active';
  private queue: Promise<void> = Promise.resolve();
  private heartbeat: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(settings: SubscriptionSettings, baseUrl: () => string, post: typeof fetch = fetch) {
    this.subscription = { payload: 'full-resource', maxAttempts: 3, retryDelayMs: 200, ...settings };
    this.baseUrl = baseUrl;
    this.post = post;
  }

  get reference(): string {
    return `${this.baseUrl()}/Subscription/${this.subscription.id}`;
  }

  start(): void {
    this.enqueue('handshake', undefined);
  }

  /** Called by the store on every write. */
  changed(change: ResourceChange): void {
    if (this.stopped || !this.subscription.resourceTypes.includes(change.resource.resourceType)) return;
    this.eventCount += 1;
    this.enqueue('event-notification', change);
  }

  /** Resolves when every notification queued so far was sent or given up. */
  idle(): Promise<void> {
    return this.queue;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.heartbeat);
    await this.queue;
  }

  private enqueue(type: NotificationType, change: ResourceChange | undefined): void {
    const bundle = this.bundle(type, change);
    const record: SentNotification = { subscription: this.subscription.id, type, eventNumber: this.eventCount, status: 'failed', attempts: 0 };
    if (change) record.focus = `${change.resource.resourceType}/${change.resource.id}`;
    this.queue = this.queue.then(() => this.deliver(bundle, record));
    this.armHeartbeat();
  }

  private async deliver(bundle: Bundle, record: SentNotification): Promise<void> {
    for (let attempt = 1; attempt <= this.subscription.maxAttempts && !this.stopped; attempt++) {
      record.attempts = attempt;
      try {
        const response = await this.post(this.subscription.endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/fhir+json', ...this.subscription.headers },
          body: JSON.stringify(bundle),
          signal: AbortSignal.timeout(10_000),
        });
        await response.body?.cancel();
        record.status = response.status;
        if (response.ok) {
          this.status = 'active';
          break;
        }
      } catch {
        record.status = 'failed';
      }
      if (attempt < this.subscription.maxAttempts) await new Promise((resolve) => setTimeout(resolve, this.subscription.retryDelayMs * attempt));
    }
    if (record.status === 'failed' || record.status >= 300) this.status = 'error';
    this.sent.push(record);
  }

  private armHeartbeat(): void {
    clearTimeout(this.heartbeat);
    const period = this.subscription.heartbeatMs;
    if (!period || this.stopped) return;
    this.heartbeat = setTimeout(() => this.enqueue('heartbeat', undefined), period);
    this.heartbeat.unref();
  }

  private bundle(type: NotificationType, change: ResourceChange | undefined): Bundle {
    const base = this.baseUrl();
    const parameter: ParametersParameter[] = [
      { name: 'subscription', valueReference: { reference: this.reference } },
      { name: 'topic', valueCanonical: TOPIC },
      { name: 'status', valueCode: this.status },
      { name: 'type', valueCode: type },
      // A string in R4 (the IG's profile: R4 has no integer64).
      { name: 'events-since-subscription-start', valueString: String(this.eventCount) },
    ];
    const entries: BundleEntry[] = [];
    if (change) {
      const focus = `${change.resource.resourceType}/${change.resource.id}`;
      const event: ParametersParameter[] = [
        { name: 'event-number', valueString: String(this.eventCount) },
        { name: 'timestamp', valueInstant: change.resource.meta?.lastUpdated ?? new Date().toISOString() },
      ];
      if (this.subscription.payload !== 'empty') event.push({ name: 'focus', valueReference: { reference: `${base}/${focus}` } });
      parameter.push({ name: 'notification-event', part: event });
      if (this.subscription.payload !== 'empty') entries.push(changeEntry(base, change, this.subscription.payload === 'full-resource'));
    }
    const status: Parameters = {
      resourceType: 'Parameters',
      id: randomUUID(),
      meta: { profile: ['http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-status-r4'] },
      parameter,
    };
    return {
      resourceType: 'Bundle',
      id: randomUUID(),
      type: 'history',
      timestamp: new Date().toISOString(),
      entry: [{ fullUrl: `urn:uuid:${status.id}`, resource: status, request: { method: 'GET', url: `${this.reference}/$status` }, response: { status: '200' } }, ...entries],
    };
  }
}

/** A history entry (bundle.html): the change's request and response; the resource itself for `full-resource`. */
function changeEntry(base: string, change: ResourceChange, withResource: boolean): BundleEntry {
  const resource: Resource = change.resource;
  const path = `${resource.resourceType}/${resource.id}`;
  return {
    fullUrl: `${base}/${path}`,
    ...(withResource ? { resource } : {}),
    request: change.kind === 'create' ? { method: 'POST', url: resource.resourceType } : { method: 'PUT', url: path },
    response: { status: change.kind === 'create' ? '201' : '200', etag: `W/"${resource.meta?.versionId}"`, lastModified: resource.meta?.lastUpdated! },
  };
}
