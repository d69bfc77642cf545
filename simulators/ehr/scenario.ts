import type { Appointment, Location, Patient, ServiceRequest, SupplyRequest } from '@medplum/fhirtypes';

/**
 * What the simulated EHR holds when it starts: a small multi-site specialty network. Every patient here is
 * invented (made-up names, identifiers under an `.invalid` system that no real registry uses): the
 * simulator never carries real patient data, and tests scan Carelane's output for exactly these values.
 */

export interface EhrScenario {
  patients: Patient[];
  locations: Location[];
  /** SupplyRequest, ServiceRequest and Appointment resources, in the order they are loaded */
  demand: Array<SupplyRequest | ServiceRequest | Appointment>;
}

/** The medical record number system of the simulated EHR (PID-3 assigning authority SIMEHR in HL7 v2). */
export const SIMULATED_MRN_SYSTEM = 'http://ehr.carelane-simulator.invalid/mrn';
export const SIMULATED_ASSIGNING_AUTHORITY = 'SIMEHR';

function patient(id: string, mrn: string, family: string, given: string, birthDate: string): Patient {
  return {
    resourceType: 'Patient',
    id,
    identifier: [{ system: SIMULATED_MRN_SYSTEM, value: mrn, type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] } }],
    name: [{ family, given: [given] }],
    birthDate,
  };
}

function location(id: string, code: string, name: string, site: string): Location {
  return {
    resourceType: 'Location',
    id,
    status: 'active',
    name,
    identifier: [{ system: 'http://ehr.carelane-simulator.invalid/location', value: code }],
    managingOrganization: { display: site },
  };
}

export function defaultScenario(): EhrScenario {
  const patients = [
    patient('pat-1001', 'SIM-MRN-70411', 'Quillfeather', 'Marlowe', '1961-04-17'),
    patient('pat-1002', 'SIM-MRN-70422', 'Brackenridge', 'Odalys', '1978-11-02'),
    patient('pat-1003', 'SIM-MRN-70433', 'Thistlewood', 'Caspian', '1990-06-25'),
  ];
  const locations = [
    location('loc-cath-north', 'CATH-N', 'Cardiac catheterization lab, North site', 'North Heart Clinic'),
    location('loc-endo-south', 'ENDO-S', 'Endoscopy suite, South site', 'South Digestive Clinic'),
    location('loc-ward-north', 'WARD-N3', 'Ward 3, North site', 'North Heart Clinic'),
  ];
  const subject = (p: Patient) => ({ reference: `Patient/${p.id}`, display: `${p.name![0]!.given![0]} ${p.name![0]!.family}` });
  const at = (l: Location) => ({ reference: `Location/${l.id}`, display: l.name! });
  const [marlowe, odalys, caspian] = patients as [Patient, Patient, Patient];
  const [cath, endo, ward] = locations as [Location, Location, Location];
  const demand: EhrScenario['demand'] = [
    {
      resourceType: 'ServiceRequest',
      id: 'sr-cath-1',
      identifier: [{ system: 'http://ehr.carelane-simulator.invalid/placer', value: 'ORD-5001' }],
      status: 'active',
      intent: 'order',
      code: { coding: [{ system: 'http://snomed.info/sct', code: '41976001', display: 'Cardiac catheterization' }] },
      subject: subject(marlowe),
      locationReference: [at(cath)],
      occurrenceDateTime: '2026-03-02T08:30:00Z',
    },
    {
      resourceType: 'ServiceRequest',
      id: 'sr-endo-1',
      identifier: [{ system: 'http://ehr.carelane-simulator.invalid/placer', value: 'ORD-5002' }],
      status: 'active',
      intent: 'order',
      code: { coding: [{ system: 'http://snomed.info/sct', code: '423827005', display: 'Endoscopy' }] },
      subject: subject(odalys),
      locationReference: [at(endo)],
      occurrenceDateTime: '2026-03-02T10:00:00Z',
    },
    {
      resourceType: 'Appointment',
      id: 'appt-cath-1',
      identifier: [{ system: 'http://ehr.carelane-simulator.invalid/appointment', value: 'APT-9001' }],
      status: 'booked',
      serviceType: [{ coding: [{ system: 'http://snomed.info/sct', code: '41976001', display: 'Cardiac catheterization' }] }],
      start: '2026-03-02T08:30:00Z',
      end: '2026-03-02T10:00:00Z',
      basedOn: [{ reference: 'ServiceRequest/sr-cath-1' }],
      participant: [
        { actor: subject(marlowe), status: 'accepted' },
        { actor: at(cath), status: 'accepted' },
      ],
    },
    {
      resourceType: 'Appointment',
      id: 'appt-endo-1',
      identifier: [{ system: 'http://ehr.carelane-simulator.invalid/appointment', value: 'APT-9002' }],
      status: 'booked',
      serviceType: [{ coding: [{ system: 'http://snomed.info/sct', code: '423827005', display: 'Endoscopy' }] }],
      start: '2026-03-02T10:00:00Z',
      end: '2026-03-02T10:45:00Z',
      basedOn: [{ reference: 'ServiceRequest/sr-endo-1' }],
      participant: [
        { actor: subject(odalys), status: 'accepted' },
        { actor: at(endo), status: 'accepted' },
      ],
    },
    {
      resourceType: 'SupplyRequest',
      id: 'supply-ward-1',
      identifier: [{ system: 'http://ehr.carelane-simulator.invalid/supply', value: 'SUP-3001' }],
      status: 'active',
      itemCodeableConcept: { coding: [{ system: 'http://ehr.carelane-simulator.invalid/item', code: 'GLV-M', display: 'Nitrile gloves, medium' }] },
      quantity: { value: 200, unit: 'EA' },
      deliverTo: at(ward),
      authoredOn: '2026-03-01T16:00:00Z',
    },
    {
      resourceType: 'SupplyRequest',
      id: 'supply-patient-1',
      identifier: [{ system: 'http://ehr.carelane-simulator.invalid/supply', value: 'SUP-3002' }],
      status: 'active',
      itemCodeableConcept: { coding: [{ system: 'http://ehr.carelane-simulator.invalid/item', code: 'DRS-10', display: 'Wound dressing 10 cm' }] },
      quantity: { value: 12, unit: 'EA' },
      // Home delivery: the patient is the destination (supplyrequest.html deliverTo: Organization | Location | Patient).
      deliverTo: subject(caspian),
      authoredOn: '2026-03-01T17:00:00Z',
    },
  ];
  return { patients, locations, demand };
}

/** Every value that identifies or names a scenario patient: what must never leave Carelane's boundary. */
export function patientIdentifiers(scenario: EhrScenario): string[] {
  return scenario.patients.flatMap((p) => [
    ...(p.identifier ?? []).map((identifier) => identifier.value!),
    ...(p.name ?? []).flatMap((name) => [name.family!, ...(name.given ?? [])]),
  ]);
}
