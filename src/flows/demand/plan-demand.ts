import { createHash } from 'node:crypto';
import type { DemandSignal } from '../../contracts/demand.ts';
import type { DemandLine, DemandRow } from '../../store/demands.ts';
import { itemKey, mappingFailure, type MappedLocation, type MasterDataLookup, type UnmappedValue } from '../master-data/lookup.ts';

/** A demand resolved to Odoo terms: where from, where to, which products, how many. */
export interface ResolvedDemand {
  demandKey: string;
  location: MappedLocation;
  lines: DemandLine[];
  /** identifies what is asked, for duplicate detection; includes the patient token, so it stays in Carelane */
  contentHash: string;
}

/** What the demand flow does with one signal, given what it did before for the same demand. */
export type DemandDecision =
  | { kind: 'reserve'; resolved: ResolvedDemand; revision: number; replacing?: string }
  | { kind: 'reschedule'; demand: DemandRow; scheduledStart: string; contentHash: string }
  | { kind: 'release'; demand: DemandRow; status: 'cancelled' }
  | { kind: 'nothing'; why: string };

/** Kinds that are not a request for stock: utilization is cost allocation's, deliveries are receipts'. */
const NOT_RESERVED = new Set(['utilization']);

export const demandKeyOf = (signal: DemandSignal): string => `${signal.source.system}|${signal.source.id}`;

/**
 * Resolves a signal's location and items through the crosswalks (items from the preference card of the
 * procedure when the signal lists none). Every missing mapping is collected, then reported at once as one
 * mapping_failure, so a person fixes them all before the replay.
 */
export async function resolveDemand(signal: DemandSignal, lookup: MasterDataLookup): Promise<ResolvedDemand> {
  const unmapped: UnmappedValue[] = [];
  const location = signal.location ? await lookup.mapLocation(signal.location) : undefined;
  if (!location) unmapped.push({ kind: 'location', system: signal.location?.system ?? '', code: signal.location?.code ?? '(none given)' });
  let requested = signal.items.map((item) => ({ code: item.code, quantity: item.quantity ?? 1 }));
  if (requested.length === 0 && signal.procedure && location) {
    const card = await lookup.preferenceCard(signal.procedure, location.site);
    if (card) requested = card.map((line) => ({ code: line.item, quantity: line.quantity }));
    else unmapped.push({ kind: 'procedure', system: signal.procedure.system, code: signal.procedure.code, site: location.site });
  }
  const { mapped, unmapped: unmappedItems } = await lookup.mapItems(requested.map((r) => r.code));
  for (const code of unmappedItems) unmapped.push({ kind: 'item', system: code.system, code: code.code });
  if (unmapped.length > 0) throw mappingFailure(unmapped);
  if (requested.length === 0) throw mappingFailure([{ kind: 'procedure', system: signal.procedure?.system ?? '', code: signal.procedure?.code ?? '(no items and no procedure)' }]);

  const quantities = new Map<number, number>();
  for (const r of requested) {
    const productId = mapped.get(itemKey(r.code))!.odooProductId;
    quantities.set(productId, (quantities.get(productId) ?? 0) + r.quantity);
  }
  const lines = [...quantities].sort(([a], [b]) => a - b).map(([productId, quantity]) => ({ productId, quantity }));
  const contentHash = createHash('sha256')
    .update(JSON.stringify([location!.site, location!.destinationLocationId, lines, signal.scheduledStart ?? null, signal.patientToken ?? null, signal.procedure?.code ?? null]))
    .digest('hex');
  return { demandKey: demandKeyOf(signal), location: location!, lines, contentHash };
}

const sameLines = (a: DemandLine[], b: DemandLine[]): boolean =>
  a.length === b.length && a.every((line, i) => line.productId === b[i]!.productId && line.quantity === b[i]!.quantity);

/**
 * The decision table of the demand flow. Replays and re-sent messages land on "nothing"; a changed item list or
 * location makes a new revision (the old reservation is released, a new one made); a moved start only moves the
 * transfer's date.
 */
export async function decide(signal: DemandSignal, existing: DemandRow | undefined, lookup: MasterDataLookup): Promise<DemandDecision> {
  if (NOT_RESERVED.has(signal.kind)) return { kind: 'nothing', why: `${signal.kind} demand is not reserved (cost allocation takes it)` };
  if (signal.source.type === 'SupplyDelivery') return { kind: 'nothing', why: 'a SupplyDelivery reports a delivery; nothing to reserve' };
  const live = existing && existing.status !== 'cancelled' && existing.status !== 'released';
  switch (signal.action) {
    case 'cancel':
    case 'no_show':
      return live ? { kind: 'release', demand: existing, status: 'cancelled' } : { kind: 'nothing', why: existing ? `already ${existing.status}` : 'no reservation was made for it' };
    case 'complete':
      return { kind: 'nothing', why: 'completed at the source; the reservation stays for the picking to be done' };
    case 'create':
    case 'update':
    case 'reschedule': {
      if (signal.status === 'cancelled' || signal.status === 'entered_in_error') {
        return live ? { kind: 'release', demand: existing, status: 'cancelled' } : { kind: 'nothing', why: `the source says ${signal.status}` };
      }
      const resolved = await resolveDemand(signal, lookup);
      if (!live) return { kind: 'reserve', resolved, revision: (existing?.revision ?? 0) + 1 };
      const sameLocation = existing.odooConnection === resolved.location.odooConnection && existing.destinationLocationId === resolved.location.destinationLocationId;
      if (!sameLocation || !sameLines(existing.lines, resolved.lines)) {
        return { kind: 'reserve', resolved, revision: existing.revision + 1, ...(existing.reservationKey ? { replacing: existing.reservationKey } : {}) };
      }
      const start = signal.scheduledStart;
      if (start && (!existing.scheduledStart || existing.scheduledStart.getTime() !== new Date(start).getTime())) {
        return { kind: 'reschedule', demand: existing, scheduledStart: start, contentHash: resolved.contentHash };
      }
      return { kind: 'nothing', why: 'already reserved as asked (a re-sent or replayed message)' };
    }
  }
}
