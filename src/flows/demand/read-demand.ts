import type { Resource } from '@medplum/fhirtypes';
import type { DemandSignal } from '../../contracts/demand.ts';
import { permanentError } from '../../contracts/errors.ts';
import { DemandSignalContract } from '../../contracts/canonical/index.ts';
import { assertPayloadsFitContracts } from '../../contracts/enforcement.ts';
import { isDemandResource, mapFhirDemand, parseSubscriptionNotification } from '../../connectors/fhir/index.ts';
import { decodeMessage, Hl7Message, mapHl7Demand } from '../../connectors/hl7v2/index.ts';
import type { PatientTokenizer } from '../../governance/index.ts';
import type { Queryable } from '../../store/database.ts';

/** A stored inbound message as the demand flow reads it. */
export interface StoredDemandMessage {
  source: string;
  messageType: string;
  contentType: string;
  payload: Buffer;
}

export interface ReadDemand {
  signals: DemandSignal[];
  /** what the message was, for the timeline: e.g. 'SIU^S12', 'FHIR notification with 2 resources' */
  description: string;
}

const FHIR_CONTENT = /^application\/(fhir\+)?json/;

/**
 * Reads the canonical demand out of a stored EHR message: HL7 v2 (SIU, ORM, OMG, OMS, RDE, DFT) or FHIR R4
 * (a plain resource, or a REST-hook notification carrying full resources). Patient identifiers become keyed
 * tokens here, at the boundary (DESIGN.md principle 4), and each token is recorded (encrypted identifier) so an
 * auditor with the right role can re-identify it; nothing else about the patient is read.
 */
export async function readDemand(message: StoredDemandMessage, tokenizer: PatientTokenizer | undefined, db: Queryable): Promise<ReadDemand> {
  const identifiers = new Set<string>();
  const tokenize = (identifier: string): string => {
    if (!tokenizer) {
      throw permanentError('this message names a patient but no tokenization key is configured (governance.tokenization): it cannot cross to the operational side', {
        code: 'tokenization_not_configured',
        where: { field: 'governance.tokenization.keys' },
      });
    }
    identifiers.add(identifier);
    return tokenizer.tokenFor(identifier);
  };
  const read = FHIR_CONTENT.test(message.contentType) ? readFhir(message, tokenize) : readHl7(message, tokenize);
  // Checked here, where the canonical demand is built and before anything of it is kept or sent to Odoo: a signal
  // that fits no active version of the `demand-signal` contract parks the message as a contract_violation
  // (src/contracts/enforcement.ts). The subject names the message type and position only, never patient data.
  await assertPayloadsFitContracts(
    db,
    read.signals.map((signal, i) => ({ contract: DemandSignalContract.name, payload: signal, subject: `demand signal ${i + 1} of ${read.signals.length} read from ${read.description}` })),
  );
  for (const identifier of identifiers) await tokenizer!.tokenize(db, identifier);
  return read;
}

function readHl7(message: StoredDemandMessage, tokenize: (identifier: string) => string): ReadDemand {
  const parsed = Hl7Message.parse(decodeMessage(message.payload).text);
  return { signals: mapHl7Demand(parsed, { tokenize }), description: parsed.header.messageType };
}

function readFhir(message: StoredDemandMessage, tokenize: (identifier: string) => string): ReadDemand {
  let body: unknown;
  try {
    body = JSON.parse(message.payload.toString('utf8'));
  } catch (error) {
    throw permanentError(`the stored FHIR payload is not JSON: ${(error as Error).message}`, { code: 'fhir_invalid_json', where: { field: 'payload' } });
  }
  const sourceSystem = message.source;
  const resource = body as Resource;
  if (resource.resourceType !== 'Bundle' || !message.messageType.startsWith('FHIR_notification')) {
    return { signals: mapFhirDemand(resource, { sourceSystem, tokenize }), description: `FHIR ${resource.resourceType}` };
  }
  const notification = parseSubscriptionNotification(body);
  const resources = [...notification.events.flatMap((event) => (event.resource ? [event.resource] : [])), ...notification.resources].filter(isDemandResource);
  // One resource can be both an event's focus and an extra entry: map it once.
  const unique = [...new Map(resources.map((r) => [`${r.resourceType}/${r.id ?? JSON.stringify(r)}`, r])).values()];
  return {
    signals: unique.flatMap((r) => mapFhirDemand(r, { sourceSystem, tokenize })),
    description: `FHIR notification (${notification.type}) with ${unique.length} demand resource(s)`,
  };
}
