// Payloads shown to people who may read messages but not patient data (roles without messages:read_payload:
// operator, auditor, viewer). The structure stays readable — segment names, resource types, business keys such
// as order ids, item codes and quantities — while the fields that identify or describe a patient are replaced.
// Formats not recognised are withheld whole: a masker that guesses would leak.

export const MASK = '***';

export interface MaskedPayload {
  text: string;
  /** how it was masked: a known format, or withheld */
  method: 'hl7v2' | 'fhir-json' | 'json' | 'x12' | 'withheld';
}

// HL7 v2 segments about the patient and the people around them (v2.5.1 ch. 3 and 6): every field but the set id
// is masked. PV1 keeps its location and visit class (PV1-2, PV1-3) and masks the rest (visit numbers, doctors).
const PATIENT_SEGMENTS = new Set(['PID', 'PD1', 'NK1', 'GT1', 'IN1', 'IN2', 'IN3', 'MRG', 'PV2', 'ROL', 'AL1', 'DG1', 'OBX', 'NTE']);
const PV1_KEPT = new Set([1, 2, 3]);

function maskHl7(text: string): string {
  return text
    .split(/(\r\n|\r|\n)/)
    .map((segment) => {
      const name = segment.slice(0, 3);
      if (name === 'MSH' || segment.length < 4) return segment;
      const separator = segment[3]!;
      // Z segments are site-defined (v2.5.1 ch. 2.10.6): nothing says what they carry, so none of their fields is shown
      const custom = name.startsWith('Z');
      if (!PATIENT_SEGMENTS.has(name) && name !== 'PV1' && !custom) return segment;
      const fields = segment.split(separator);
      const kept = (index: number) => index === 0 || (custom ? false : name === 'PV1' ? PV1_KEPT.has(index) : index === 1);
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
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(record)) {
    if (PERSONAL_ELEMENTS.has(key)) out[key] = MASK;
    // canonical payloads: a patient is a token (ptk_…) already, but its surrounding fields may not be
    else if (!fhir && /patient|birth|mrn|ssn/i.test(key) && typeof child !== 'object') out[key] = typeof child === 'string' && child.startsWith('ptk_') ? child : MASK;
    else out[key] = maskJson(child, fhir);
  }
  return out;
}

/** A message payload with its PHI masked, for display to roles that may not read patient data. */
export function maskPayload(payload: string, contentType: string): MaskedPayload {
  const trimmed = payload.trimStart();
  if (trimmed.startsWith('MSH') || /hl7-v2|x-hl7/i.test(contentType)) return { text: maskHl7(payload), method: 'hl7v2' };
  // X12 supply-chain documents (850/855/856/810/846, acks) name items, lots and parties, never patients
  if (trimmed.startsWith('ISA')) return { text: payload, method: 'x12' };
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      const parsed = JSON.parse(payload) as unknown;
      const fhir = typeof parsed === 'object' && parsed !== null && 'resourceType' in parsed;
      return { text: JSON.stringify(maskJson(parsed, fhir), null, 2), method: fhir ? 'fhir-json' : 'json' };
    } catch {
      return { text: '', method: 'withheld' };
    }
  }
  return { text: '', method: 'withheld' };
}

/** A canonical step payload (already PHI-free by design) with any personal element masked all the same. */
export function maskStructured(value: unknown): unknown {
  return maskJson(value, false);
}
