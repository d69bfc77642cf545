/**
 * The cursor of a `_lastUpdated` poll (pure: no I/O). Invariant: every resource of the search whose
 * meta.lastUpdated is before `lastUpdated` has been stored. A poll searches `_lastUpdated=ge<lastUpdated>`:
 * `ge`, not `gt`, so resources stamped with the very instant of the cursor are read again (FHIR R4 search.html
 * "date": a value is a range set by its precision, so on a server that stamps whole seconds `gt` would skip a
 * resource stamped in the cursor's second after the poll read it). What is read again is recognised by its
 * version key in `seen` and not stored a second time; the store's own deduplication covers a crash between
 * storing a page and saving the cursor.
 */

export interface PollCursor {
  /** meta.lastUpdated exactly as the server wrote it (sent back in the next search); undefined = from the start */
  lastUpdated: string | undefined;
  /** version keys of stored resources stamped at or after `lastUpdated` → their meta.lastUpdated */
  seen: Record<string, string>;
}

export const NEW_CURSOR: PollCursor = Object.freeze({ lastUpdated: undefined, seen: Object.freeze({}) }) as PollCursor;

export interface PolledVersion {
  key: string;
  lastUpdated: string;
}

const INSTANT = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/**
 * A FHIR instant as nanoseconds since the epoch. Exact beyond the millisecond (servers on PostgreSQL stamp
 * microseconds), which Date.parse would round away; undefined for anything that is not an instant.
 */
export function instantNanos(value: string): bigint | undefined {
  const match = INSTANT.exec(value);
  if (!match) return undefined;
  const seconds = Date.parse(`${match[1]}${match[3]}`);
  if (!Number.isFinite(seconds)) return undefined;
  const fraction = BigInt((match[2] ?? '').padEnd(9, '0'));
  return BigInt(seconds) * 1_000_000n + fraction;
}

export interface PollWindowOptions {
  /**
   * Only stamps before this count toward the cursor: the server's clock when the search began, minus the
   * settle time. A resource changed while the search was paged shows its new stamp (search.html "_count":
   * how ongoing updates are handled is the server's business), and a change stamped before its commit may
   * show up late; neither may move the cursor past a change the search did not return.
   */
  settledBefore: bigint;
  /** the server honoured `_sort=_lastUpdated` (its self link says so): the cursor may move after every page */
  sorted: boolean;
}

/** One poll run over one resource type: what was stored, and the cursor that may be saved after each page. */
export class PollWindow {
  private readonly start: PollCursor;
  private readonly startNanos: bigint | undefined;
  private readonly options: PollWindowOptions;
  private readonly seen = new Map<string, string>();
  private newest: { value: string; nanos: bigint } | undefined;

  constructor(start: PollCursor, options: PollWindowOptions) {
    this.start = start;
    this.startNanos = start.lastUpdated === undefined ? undefined : instantNanos(start.lastUpdated);
    this.options = options;
    for (const [key, lastUpdated] of Object.entries(start.seen)) this.seen.set(key, lastUpdated);
  }

  /** Stamped before the cursor: stored by an earlier run (a server that ignored `_lastUpdated` sends them). */
  isBehind(lastUpdated: string): boolean {
    const nanos = instantNanos(lastUpdated);
    return nanos !== undefined && this.startNanos !== undefined && nanos < this.startNanos;
  }

  isSeen(key: string): boolean {
    return this.seen.has(key);
  }

  /** Records versions whose messages are stored (committed). */
  stored(versions: readonly PolledVersion[]): void {
    for (const version of versions) {
      const nanos = instantNanos(version.lastUpdated);
      if (nanos === undefined) continue;
      this.seen.set(version.key, version.lastUpdated);
      if (nanos < this.options.settledBefore && (this.newest === undefined || nanos > this.newest.nanos)) this.newest = { value: version.lastUpdated, nanos };
    }
  }

  /**
   * The cursor to save now. Mid-run it moves only when the results come sorted (later pages cannot hold older
   * stamps); once the last page is stored (`complete`) every match has been read, sorted or not.
   */
  checkpoint(complete: boolean): PollCursor {
    let lastUpdated = this.start.lastUpdated;
    let floor = this.startNanos;
    if ((complete || this.options.sorted) && this.newest && (floor === undefined || this.newest.nanos > floor)) {
      lastUpdated = this.newest.value;
      floor = this.newest.nanos;
    }
    // Older than the cursor: the next search does not return that version any more.
    let kept = [...this.seen].map(([key, stamp]) => ({ key, stamp, nanos: instantNanos(stamp) })).filter((v) => v.nanos !== undefined && (floor === undefined || v.nanos >= floor));
    if (kept.length > MAX_SEEN) {
      // Forgetting a version costs only a duplicate the store recognises; the newest are the likeliest re-read.
      kept = kept.sort((a, b) => (a.nanos! < b.nanos! ? 1 : a.nanos! > b.nanos! ? -1 : 0)).slice(0, MAX_SEEN);
    }
    return { lastUpdated, seen: Object.fromEntries(kept.map((v) => [v.key, v.stamp])) };
  }

  /** whether checkpoint(false) can move the cursor (else saving mid-run is pointless) */
  get movesMidRun(): boolean {
    return this.options.sorted;
  }
}

/** Versions remembered at the cursor's edge; more than this many changes within the settle time is unusual. */
const MAX_SEEN = 10_000;
