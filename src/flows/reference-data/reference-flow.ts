import type { Resource } from '@medplum/fhirtypes';
import { permanentError } from '../../contracts/errors.ts';
import type { DeliveryHandler, HandlerResult } from '../../engine/handlers.ts';
import { loadStoredMessage } from '../../store/messages.ts';
import { mapFhirReference, parseSubscriptionNotification } from '../../connectors/fhir/index.ts';
import type { ReferenceRecord } from '../../connectors/fhir/map-reference.ts';
import type { MasterDataDomain, OwnershipRules, SystemOfRecord } from '../../governance/ownership.ts';

const REFERENCE_TYPES = new Set(['Location', 'Organization', 'Device']);

/** Which system a message speaks for, by where it came in. */
export function writerOf(source: string): SystemOfRecord {
  if (source.startsWith('fhir:') || source === 'mllp') return 'ehr';
  if (source.startsWith('x12:') || source.startsWith('supplier-rest:')) return 'supplier';
  if (source.startsWith('odoo')) return 'odoo';
  return 'carelane';
}

/** The master-data domain a reference record writes to, and the fields it sets. */
export function writtenFields(record: ReferenceRecord): { domain: MasterDataDomain; fields: string[]; kind: string; system: string; code: string } {
  const set = (candidates: Record<string, unknown>) => Object.entries(candidates).filter(([, value]) => value !== undefined && !(Array.isArray(value) && value.length === 0)).map(([field]) => field);
  switch (record.record) {
    case 'location':
      return { domain: 'locations', kind: 'location', system: record.system, code: record.code, fields: set({ name: record.name, kind: record.kind, status: record.status, partOf: record.partOf, types: record.types, physicalType: record.physicalType, operationalStatus: record.operationalStatus }) };
    case 'organization':
      return { domain: 'locations', kind: 'organization', system: record.system, code: record.code, fields: set({ name: record.name, active: record.active, partOf: record.partOf, types: record.types }) };
    case 'device':
      return {
        domain: 'items',
        kind: 'device',
        system: record.issuer ?? 'device',
        code: record.gtin ?? record.deviceIdentifier ?? record.code ?? '',
        fields: set({ gtin: record.gtin, lot: record.lot, serial: record.serial, expiry: record.expiry, manufacturer: record.manufacturer, modelNumber: record.modelNumber, status: record.status }),
      };
  }
}

function resourcesOf(body: unknown, messageType: string): Resource[] {
  const resource = body as Resource;
  if (resource.resourceType === 'Bundle' && messageType.startsWith('FHIR_notification')) {
    const notification = parseSubscriptionNotification(body);
    return [...notification.events.flatMap((e) => (e.resource ? [e.resource] : [])), ...notification.resources];
  }
  return [resource];
}

/**
 * `flow.reference_data`: Location, Organization and Device records from the EHR. Each record is kept (the
 * owner's copy, carelane.reference_records) only when its sender is the declared system of record of every
 * field it writes (masterData.owners, masterData.fieldOwners); otherwise the message is parked as an
 * `ownership_violation` naming the refused fields and their owners, and nothing of it is applied.
 */
export function referenceDataFlow(ownership: OwnershipRules): DeliveryHandler {
  return {
    action: 'flow.reference_data',
    async run(delivery, { pool }): Promise<HandlerResult> {
      if (delivery.messageId === null) throw permanentError('flow.reference_data needs the message it was routed for', { code: 'flow_without_message' });
      const message = await loadStoredMessage(pool, delivery.messageId);
      let body: unknown;
      try {
        body = JSON.parse(message.payload.toString('utf8'));
      } catch (error) {
        throw permanentError(`the stored payload is not JSON: ${(error as Error).message}`, { code: 'fhir_invalid_json', where: { field: 'payload' } });
      }
      const writer = writerOf(message.source);
      const records = resourcesOf(body, message.messageType)
        .filter((r) => REFERENCE_TYPES.has(r.resourceType))
        .map((r) => mapFhirReference(r, { sourceSystem: message.source }));
      const writes = records.map((record) => ({ record, ...writtenFields(record) }));
      // All or nothing: one refused record parks the message before anything of it is kept.
      for (const write of writes) ownership.assertMayWrite(write.domain, writer, write.fields, `${write.kind} ${write.code}`);
      return {
        stages: writes.map((w) => ({ stage: `${w.kind} ${w.code}: kept as ${writer}'s ${w.domain} record (${w.fields.join(', ')})`, outcome: 'ok' as const })),
        inTransaction: async (client) => {
          for (const w of writes) {
            await client.query(
              `insert into carelane.reference_records (source, kind, system, code, record, source_version) values ($1, $2, $3, $4, $5::jsonb, $6)
               on conflict (source, kind, system, code) do update set record = excluded.record, source_version = excluded.source_version, updated_at = now()`,
              [message.source, w.kind, w.system, w.code, JSON.stringify(w.record), w.record.source.version ?? null],
            );
          }
        },
      };
    },
  };
}
