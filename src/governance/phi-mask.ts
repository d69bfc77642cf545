// Payloads shown to people who may read messages but not patient data (roles without messages:read_payload:
// operator, auditor, viewer). The structure stays readable — segment names, resource types, business keys such
// as order ids, item codes and quantities — while the fields that identify or describe a patient are replaced.
// What the masker does not understand is denied by default: formats it does not know are withheld whole, JSON of
// a shape it does not know keeps only its structure and a few structural keys. A masker that guesses would leak.

export const MASK = '***';

export interface MaskedPayload {
  text: string;
  /** how it was masked: a known format, JSON of unknown shape (default deny), or withheld */
  method: 'hl7v2' | 'fhir-json' | 'canonical-json' | 'unknown-json' | 'x12' | 'withheld';
}

/**
 * The content type the supplier REST listener stores its canonical documents under
 * (CANONICAL_JSON in src/connectors/supplier-rest/events.ts; governance sits below connectors, so it is repeated
 * here and a test holds the two equal).
 */
export const CANONICAL_CONTENT_TYPE = 'application/vnd.carelane.canonical+json';

// HL7 v2 segments about the patient and the people around them (v2.5.1 ch. 3 and 6): every field but the set id
// is masked. PV1 keeps its location and visit class (PV1-2, PV1-3) and masks the rest (visit numbers, doctors).
// PR1 (v2.5 ch. 6, in DFT^P03 and ADT) is a procedure done to the patient, with its surgeon: masked like DG1.
const PATIENT_SEGMENTS = new Set(['PID', 'PD1', 'NK1', 'GT1', 'IN1', 'IN2', 'IN3', 'MRG', 'PV2', 'ROL', 'AL1', 'DG1', 'PR1', 'OBX', 'NTE']);
const PV1_KEPT = new Set([1, 2, 3]);

// Segments that carry business keys (order numbers, the service or item, quantities, locations: what Carelane
// maps demand from) but also say why, for whom or in free text. What was ordered, charged or booked stays; the
// reason, diagnosis and text go. Field numbers and names from HL7 v2.5 (v2.5.1 the same):
const CLINICAL_FIELDS: Record<string, ReadonlySet<number>> = {
  // ch. 4.5.3: 12 danger code (patient hazards, e.g. an infection), 13 relevant clinical information (suspected
  // diagnosis, findings), 18–21 placer/filler fields (site-defined text), 31 reason for study, 39 collector's
  // comment, 43 planned patient transport comment, 46/47 placer/filler supplemental service information
  OBR: new Set([12, 13, 18, 19, 20, 21, 31, 39, 43, 46, 47]),
  // ch. 4: 16 order control code reason (text or code explaining a cancel, hold, discontinue …)
  ORC: new Set([16]),
  // ch. 4.5.4: 10 condition text ("PRN pain"), 11 text instruction
  TQ1: new Set([10, 11]),
  // ch. 4 (pharmacy/treatment): 6 provider's pharmacy/treatment instructions, 7 provider's administration instructions, 20 indication
  RXO: new Set([6, 7, 20]),
  // ch. 4 (pharmacy/treatment): 7 provider's administration instructions, 21 special dispensing instructions, 27 give indication
  RXE: new Set([7, 21, 27]),
  // ch. 7.4.3: 14 specimen description (free text)
  SPM: new Set([14]),
  // ch. 10: 6 event reason, 7 appointment reason
  SCH: new Set([6, 7]),
  // ch. 10.6.4: 11/12 placer/filler supplemental service information. AIG, AIL and AIP (ch. 10) hold
  // resources, locations and times only; their notes travel in the NTE after them, masked whole.
  AIS: new Set([11, 12]),
  // ch. 6.5.1: 8/9 transaction description (free text), 19 diagnosis code. FT1-7, the charge code, is the item
  // Carelane maps usage from and stays, as do the quantity (10) and location (13, 16).
  FT1: new Set([8, 9, 19]),
};

function maskHl7(text: string): string {
  return text
    .split(/(\r\n|\r|\n)/)
    .map((segment) => {
      const name = segment.slice(0, 3);
      if (name === 'MSH' || segment.length < 4) return segment;
      const separator = segment[3]!;
      // Z segments are site-defined (v2.5.1 ch. 2.10.6): nothing says what they carry, so none of their fields is shown
      const custom = name.startsWith('Z');
      const clinical = CLINICAL_FIELDS[name];
      if (!PATIENT_SEGMENTS.has(name) && name !== 'PV1' && !custom && !clinical) return segment;
      const fields = segment.split(separator);
      const kept = (index: number) =>
        index === 0 || (custom ? false : clinical ? !clinical.has(index) : name === 'PV1' ? PV1_KEPT.has(index) : index === 1);
      return fields.map((field, index) => (field === '' || kept(index) ? field : MASK)).join(separator);
    })
    .join('');
}

// FHIR R4 elements that carry a patient's identity or clinical narrative. A reference to a Patient (or
// RelatedPerson) is masked wherever it appears; a Patient or RelatedPerson resource keeps only its type and id.
const PERSONAL_ELEMENTS = new Set(['name', 'telecom', 'address', 'birthDate', 'photo', 'contact', 'text', 'note', 'deceasedDateTime', 'maritalStatus', 'communication', 'patientInstruction']);
const PERSON_RESOURCES = new Set(['Patient', 'RelatedPerson', 'Person']);

function maskJson(value: unknown, fhir: boolean): unknown {
  if (Array.isArray(value)) return value.map((item) => maskJson(item, fhir));
  if (typeof value !== 'object' || value === null) return value;
  const record = value as Record<string, unknown>;
  if (typeof record.resourceType === 'string' && PERSON_RESOURCES.has(record.resourceType)) {
    return { resourceType: record.resourceType, ...(record.id !== undefined ? { id: MASK } : {}), masked: true };
  }
  if (typeof record.reference === 'string' && /^(Patient|RelatedPerson|Person)\//.test(record.reference)) return { reference: MASK };
  // fromEntries, not assignment: a "__proto__" key in the payload must stay a key, not become the prototype
  return Object.fromEntries(
    Object.entries(record).map(([key, child]) => {
      if (PERSONAL_ELEMENTS.has(key)) return [key, MASK];
      // canonical payloads: a patient is a token (ptk_…) already, but its surrounding fields may not be
      if (!fhir && /patient|birth|mrn|ssn/i.test(key) && typeof child !== 'object') return [key, typeof child === 'string' && child.startsWith('ptk_') ? child : MASK];
      return [key, maskJson(child, fhir)];
    }),
  );
}

// JSON of a shape the masker does not know (a supplier's acknowledgment, a webhook body, a bus event, a body a
// listener refused): every value is masked unless its key is one of a few that name the message's structure or
// Carelane's own business keys, and its value looks like a code. An operator debugging an integration sees which
// keys came, which are missing, the types, statuses and error codes, the PO and the quantities — which is what a
// mapping or validation failure is about — and no free text, name, date or identifier of a person. Withholding
// the whole body would hide exactly that; showing it with a deny list would show whatever the list forgot.
// Keys are compared without case, "_" and "-" (status_code = statusCode).
const STRUCTURAL_KEYS = new Set([
  // what kind of message or record this is and how it went
  'resourcetype', 'type', 'kind', 'event', 'eventtype', 'topic', 'messagetype', 'version', 'schemaversion',
  'status', 'state', 'statuscode', 'action', 'result', 'outcome', 'error', 'errorcode', 'severity',
  // units of the quantities below
  'unit', 'uom', 'currency',
  // ids Carelane issues or already shows beside the payload (correlation id, message id, the sender's event id as
  // external id, the PO number Odoo gave), and product codes (GTIN, SKU): none names a patient
  'correlationid', 'messageid', 'eventid', 'ponumber', 'gtin', 'sku',
]);
// numbers only: how many of an item, which line
const QUANTITY_KEY = /(quantity|qty)$|^(count|line|linenumber)$/;
// flags of the exchange itself (the supplier listener's "duplicate", an API's "ok")
const FLAG_KEYS = new Set(['duplicate', 'success', 'ok']);
// a code, not text: no spaces, no "/" (a FHIR reference such as Patient/123), no "@" (an e-mail address)
const CODE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
// a key that names a field, not a value used as a key (a map keyed by MRN, by name, by e-mail): a letter first,
// no spaces or punctuation, no run of digits. A key that fails is shown as ***1, ***2 … so the structure stays.
const FIELD_NAME = /^@?[A-Za-z_$][A-Za-z0-9_$.-]{0,63}$/;

const normalizedKey = (key: string): string => key.toLowerCase().replace(/[_-]/g, '');

function shownLeaf(key: string, value: unknown): boolean {
  const name = normalizedKey(key);
  if (typeof value === 'boolean') return FLAG_KEYS.has(name);
  const isNumber = typeof value === 'number' && Number.isFinite(value);
  if (QUANTITY_KEY.test(name)) return isNumber || (typeof value === 'string' && /^-?\d{1,12}(\.\d{1,6})?$/.test(value));
  if (STRUCTURAL_KEYS.has(name)) return isNumber || (typeof value === 'string' && CODE.test(value));
  return false;
}

function maskUnknownJson(value: unknown, key: string | undefined): unknown {
  // an array's items are values of the key that holds it ("quantities": [1, 2])
  if (Array.isArray(value)) return value.map((item) => maskUnknownJson(item, key));
  // nothing there: nothing to hide, and telling an empty field from a filled one helps
  if (value === null || value === '') return value;
  if (typeof value === 'object') {
    let hidden = 0;
    return Object.fromEntries(
      Object.entries(value).map(([name, child]) => {
        const isFieldName = FIELD_NAME.test(name) && !/\d{3}/.test(name);
        return [isFieldName ? name : `${MASK}${++hidden}`, maskUnknownJson(child, isFieldName ? name : undefined)];
      }),
    );
  }
  return key !== undefined && shownLeaf(key, value) ? value : MASK;
}

// a FHIR resource or Bundle names its type in resourceType, a capitalised word (FHIR R4 JSON format)
const isFhirResource = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as { resourceType?: unknown }).resourceType === 'string' && /^[A-Z][A-Za-z]{1,63}$/.test((value as { resourceType: string }).resourceType);

/** A message payload with its PHI masked, for display to roles that may not read patient data. */
export function maskPayload(payload: string, contentType: string): MaskedPayload {
  const trimmed = payload.trimStart();
  if (trimmed.startsWith('MSH') || /hl7-v2|x-hl7/i.test(contentType)) return { text: maskHl7(payload), method: 'hl7v2' };
  // X12 supply-chain documents (850/855/856/810/846, acks) name items, lots and parties, never patients
  if (trimmed.startsWith('ISA')) return { text: payload, method: 'x12' };
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload);
    } catch {
      return { text: '', method: 'withheld' };
    }
    if (isFhirResource(parsed)) return { text: JSON.stringify(maskJson(parsed, true), null, 2), method: 'fhir-json' };
    // built by Carelane from a strictly validated supplier event: a known, patient-free shape (as X12 is)
    if (contentType === CANONICAL_CONTENT_TYPE) return { text: JSON.stringify(maskJson(parsed, false), null, 2), method: 'canonical-json' };
    return { text: JSON.stringify(maskUnknownJson(parsed, undefined), null, 2), method: 'unknown-json' };
  }
  return { text: '', method: 'withheld' };
}

/** A canonical step payload (already PHI-free by design) with any personal element masked all the same. */
export function maskStructured(value: unknown): unknown {
  return maskJson(value, false);
}
