import { randomUUID } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';

/**
 * The EHR simulator's resources, in memory. Every write makes a new version the way FHIR R4 servers do
 * (resource.html "Metadata": meta.versionId changes with each version, meta.lastUpdated is when it
 * changed), keeps the old ones for vread (http.html "vread"), and tells the listeners (the subscription
 * notifier) what changed.
 */

export type ChangeKind = 'create' | 'update';

export interface ResourceChange {
  kind: ChangeKind;
  resource: Resource;
}

export class ResourceStore {
  private readonly versions = new Map<string, Resource[]>();
  private readonly listeners: Array<(change: ResourceChange) => void> = [];
  private lastStamp = 0;
  private readonly now: () => Date;

  constructor(now: () => Date = () => new Date()) {
    this.now = now;
  }

  onChange(listener: (change: ResourceChange) => void): void {
    this.listeners.push(listener);
  }

  read(type: string, id: string): Resource | undefined {
    return this.versions.get(key(type, id))?.at(-1);
  }

  readVersion(type: string, id: string, versionId: string): Resource | undefined {
    return this.versions.get(key(type, id))?.find((version) => version.meta?.versionId === versionId);
  }

  /** The current version of every resource of a type. */
  all(type: string): Resource[] {
    const current: Resource[] = [];
    for (const [name, versions] of this.versions) if (name.startsWith(`${type}/`)) current.push(versions.at(-1)!);
    return current;
  }

  /** Stores a new version (a new resource when the id is absent or unknown) and returns it as stored. */
  put<T extends Resource>(resource: T): { resource: T; kind: ChangeKind } {
    const id = resource.id ?? randomUUID();
    const history = this.versions.get(key(resource.resourceType, id)) ?? [];
    const previous = history.at(-1);
    const versionId = String(Number(previous?.meta?.versionId ?? 0) + 1);
    const stored = structuredClone({ ...resource, id, meta: { ...resource.meta, versionId, lastUpdated: this.stamp() } });
    history.push(stored);
    this.versions.set(key(resource.resourceType, id), history);
    const kind: ChangeKind = previous ? 'update' : 'create';
    for (const listener of this.listeners) listener({ kind, resource: structuredClone(stored) });
    return { resource: structuredClone(stored), kind };
  }

  /**
   * Strictly increasing instants: two writes in the same millisecond still get different lastUpdated
   * values, so a client's `_lastUpdated=gt<cursor>` poll never skips one (search.html "_lastUpdated").
   */
  private stamp(): string {
    this.lastStamp = Math.max(this.now().getTime(), this.lastStamp + 1);
    return new Date(this.lastStamp).toISOString();
  }
}

const key = (type: string, id: string): string => `${type}/${id}`;
