import { Type, type Static } from 'typebox';
import { DEMAND_CONTRACT_VERSION, type DemandSignal } from '../demand.ts';
import { canonicalContract } from './contract.ts';
import { business, phi } from './fields.ts';

// The JSON Schema of the DemandSignal of contracts/demand.ts, which stays the TypeScript source the EHR
// mappings are written against. The two are held together twice: at compile time (`schemaMatchesType` below
// fails to type-check when a field differs in name, optionality or type) and by the contract test, which
// validates the mapped real FHIR and HL7 v2 samples against this schema and compares the field classes with
// DEMAND_FIELD_CLASSES.

const SourceCodeSchema = Type.Object(
  {
    system: Type.String(business({ description: "FHIR code system URI or HL7 v2 CWE.3; '' when the sender gave none" })),
    code: Type.String(business()),
    display: Type.Optional(Type.String(business({ description: 'catalog text of the item, not patient data' }))),
  },
  business(),
);

const Timestamp = (description: string) => Type.Optional(Type.String(business({ description: `${description} (ISO 8601)` })));

export const DemandSignalSchema = Type.Object(
  {
    contractVersion: Type.Literal(DEMAND_CONTRACT_VERSION, business()),
    kind: Type.Enum(['supply', 'procedure', 'device', 'medication', 'scheduled_procedure', 'utilization'], business()),
    action: Type.Enum(['create', 'update', 'reschedule', 'cancel', 'no_show', 'complete'], business()),
    status: Type.Enum(['proposed', 'active', 'on_hold', 'completed', 'cancelled', 'no_show', 'entered_in_error', 'unknown'], business()),
    source: Type.Object(
      {
        system: Type.String(business({ description: 'the sending system: configured source name, FHIR base, or MSH-3^MSH-4' })),
        type: Type.String(business({ description: "e.g. 'SupplyRequest', 'SIU^S12'" })),
        id: Type.String(business({ description: "the source's id of the demand (resource id, placer/filler number)" })),
        version: Type.Optional(Type.String(business())),
      },
      business(),
    ),
    location: Type.Optional(
      Type.Object(
        {
          code: Type.String(business()),
          system: Type.Optional(Type.String(business())),
          display: Type.Optional(Type.String(business())),
        },
        business(),
      ),
    ),
    items: Type.Array(
      Type.Object(
        {
          code: SourceCodeSchema,
          quantity: Type.Optional(Type.Number(business())),
          unit: Type.Optional(Type.String(business({ description: 'UCUM or the sender’s unit code' }))),
        },
        business(),
      ),
      business(),
    ),
    procedure: Type.Optional(SourceCodeSchema),
    scheduledStart: Timestamp('scheduled start'),
    scheduledEnd: Timestamp('scheduled end'),
    previousStart: Timestamp('the start before a reschedule'),
    patientToken: Type.Optional(Type.String(phi({ description: 'keyed token of the patient (governance/tokenization.ts); never leaves the EHR side' }))),
    businessKeys: Type.Record(Type.String(), Type.String(business()), business()),
    correlationId: Type.Optional(Type.String(business())),
    occurredAt: Timestamp('when the source made or changed the demand'),
  },
  business({ title: 'DemandSignal' }),
);

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// Compile-time agreement of the schema with the TypeScript contract: `false` here is a type error.
const schemaMatchesType: Same<Static<typeof DemandSignalSchema>, DemandSignal> = true;
void schemaMatchesType;

export const DemandSignalContract = canonicalContract('demand-signal', DEMAND_CONTRACT_VERSION, DemandSignalSchema);
