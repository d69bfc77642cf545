import type { Location, Patient } from '@medplum/fhirtypes';
import { withCheckDigit } from '../../src/connectors/gs1/check-digit.ts';
import type { EhrScenario } from '../ehr/index.ts';
import { SIMULATED_MRN_SYSTEM } from '../ehr/index.ts';

/**
 * The demo's specialty network: three sites, invented from end to end (names, codes, patients; GTINs under the
 * GS1 company prefix 0614141 that GS1 uses in its own examples). North runs an HL7 v2 EHR that books procedures
 * with SIU messages over MLLP; the Lakeside and Eastside clinics share a FHIR R4 EHR that notifies Carelane by
 * REST-hook subscription. One Odoo holds the three sites' storerooms; MedSupply takes 850s over X12, OrthoWorks
 * has no EDI (its orders stay in Odoo for a buyer).
 */

export const SNOMED = 'http://snomed.info/sct';
export const EHR_ITEM_SYSTEM = 'http://ehr.carelane-simulator.invalid/item';

export interface DemoProduct {
  code: string;
  name: string;
  gtin: string;
  /** on hand in each site's storeroom at start */
  stock: number;
  vendor: 'MEDSUPPLY' | 'ORTHOWORKS';
  price: number;
  /** the supplier's own item number */
  sku: string;
}

const gtin = (itemReference: string): string => withCheckDigit(`0614141${itemReference}`);

// Stock is deliberately short on a few items so shortfalls, purchase orders and 850s appear in the first minute.
export const PRODUCTS: DemoProduct[] = [
  { code: 'CATH-6F', name: 'Diagnostic catheter 6F', gtin: gtin('10001'), stock: 6, vendor: 'MEDSUPPLY', price: 38.5, sku: 'MS-CATH6F' },
  { code: 'GW-035', name: 'Guidewire 0.035 in', gtin: gtin('10002'), stock: 40, vendor: 'MEDSUPPLY', price: 21, sku: 'MS-GW035' },
  { code: 'SHEATH-6F', name: 'Introducer sheath 6F', gtin: gtin('10003'), stock: 3, vendor: 'MEDSUPPLY', price: 17.25, sku: 'MS-SH6F' },
  { code: 'CONTRAST-100', name: 'Iodinated contrast 100 mL', gtin: gtin('10004'), stock: 30, vendor: 'MEDSUPPLY', price: 42, sku: 'MS-CON100' },
  { code: 'DRAPE-ANGIO', name: 'Angiography drape', gtin: gtin('10005'), stock: 8, vendor: 'MEDSUPPLY', price: 12.8, sku: 'MS-DRPANG' },
  { code: 'GLV-M', name: 'Nitrile gloves, medium (box of 100)', gtin: gtin('10006'), stock: 50, vendor: 'MEDSUPPLY', price: 6.4, sku: 'MS-GLVM' },
  { code: 'GAUZE-4X4', name: 'Gauze sponge 4x4 in', gtin: gtin('10007'), stock: 400, vendor: 'MEDSUPPLY', price: 0.35, sku: 'MS-GZ44' },
  { code: 'BITE-BLOCK', name: 'Endoscopy bite block', gtin: gtin('10008'), stock: 12, vendor: 'MEDSUPPLY', price: 2.1, sku: 'MS-BITE' },
  { code: 'BX-FORCEPS', name: 'Biopsy forceps, single use', gtin: gtin('10009'), stock: 4, vendor: 'MEDSUPPLY', price: 29.9, sku: 'MS-BXF' },
  { code: 'GAD-15', name: 'Gadolinium contrast 15 mL', gtin: gtin('10010'), stock: 10, vendor: 'MEDSUPPLY', price: 55, sku: 'MS-GAD15' },
  { code: 'BONE-CEMENT', name: 'Bone cement 40 g', gtin: gtin('20001'), stock: 4, vendor: 'ORTHOWORKS', price: 88, sku: 'OW-BC40' },
  { code: 'SAW-BLADE', name: 'Sagittal saw blade', gtin: gtin('20002'), stock: 6, vendor: 'ORTHOWORKS', price: 34, sku: 'OW-SAW1' },
  { code: 'DRAPE-KNEE', name: 'Knee drape', gtin: gtin('20003'), stock: 5, vendor: 'ORTHOWORKS', price: 9.5, sku: 'OW-DRK' },
  { code: 'DRS-10', name: 'Wound dressing 10 cm', gtin: gtin('10011'), stock: 60, vendor: 'MEDSUPPLY', price: 1.9, sku: 'MS-DRS10' },
];

export interface DemoRoom {
  /** the EHR's code of the room (Location.identifier, PL.1) */
  code: string;
  name: string;
}

export interface DemoSite {
  id: string;
  name: string;
  ehr: 'hl7' | 'fhir';
  rooms: DemoRoom[];
  /** procedures booked at this site (SNOMED CT) and what each uses: [product code, quantity] */
  procedures: Array<{ code: string; display: string; minutes: number; kit: Array<[string, number]> }>;
}

export const SITES: DemoSite[] = [
  {
    id: 'north',
    name: 'North Heart Hospital',
    ehr: 'hl7',
    rooms: [
      { code: 'CATH-1', name: 'Cath lab 1' },
      { code: 'CATH-2', name: 'Cath lab 2' },
      { code: 'WARD-3', name: 'Cardiology ward 3' },
    ],
    procedures: [
      { code: '41976001', display: 'Cardiac catheterization', minutes: 90, kit: [['CATH-6F', 2], ['GW-035', 1], ['SHEATH-6F', 1], ['CONTRAST-100', 1], ['DRAPE-ANGIO', 1], ['GLV-M', 1]] },
    ],
  },
  {
    id: 'lakeside',
    name: 'Lakeside Orthopedic Clinic',
    ehr: 'fhir',
    rooms: [
      { code: 'OR-1', name: 'Operating room 1' },
      { code: 'OR-2', name: 'Operating room 2' },
    ],
    procedures: [
      { code: '609588000', display: 'Total knee replacement', minutes: 120, kit: [['BONE-CEMENT', 2], ['SAW-BLADE', 1], ['DRAPE-KNEE', 1], ['GAUZE-4X4', 20], ['GLV-M', 1]] },
    ],
  },
  {
    id: 'eastside',
    name: 'Eastside Diagnostic Center',
    ehr: 'fhir',
    rooms: [
      { code: 'ENDO-1', name: 'Endoscopy suite 1' },
      { code: 'MRI-1', name: 'MRI room 1' },
    ],
    procedures: [
      { code: '423827005', display: 'Endoscopy', minutes: 45, kit: [['BITE-BLOCK', 1], ['BX-FORCEPS', 2], ['GAUZE-4X4', 10], ['GLV-M', 1]] },
      { code: '113091000', display: 'Magnetic resonance imaging', minutes: 40, kit: [['GAD-15', 1], ['GLV-M', 1]] },
    ],
  },
];

/** The EHR's FHIR id of a room: Location/<siteId>-<room code>. */
export const locationId = (site: DemoSite, room: DemoRoom): string => `${site.id}-${room.code.toLowerCase()}`;

function patient(id: string, mrn: string, family: string, given: string, birthDate: string): Patient {
  return {
    resourceType: 'Patient',
    id,
    identifier: [{ system: SIMULATED_MRN_SYSTEM, value: mrn, type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] } }],
    name: [{ family, given: [given] }],
    birthDate,
  };
}

const DEMO_PATIENTS: Patient[] = [
  patient('pat-2001', 'SIM-MRN-81101', 'Ashgrove', 'Tamsin', '1958-02-11'),
  patient('pat-2002', 'SIM-MRN-81102', 'Wrenfield', 'Idris', '1966-09-30'),
  patient('pat-2003', 'SIM-MRN-81103', 'Holloway', 'Perpetua', '1973-12-05'),
  patient('pat-2004', 'SIM-MRN-81104', 'Marchbank', 'Ezra', '1981-07-19'),
  patient('pat-2005', 'SIM-MRN-81105', 'Stonecrop', 'Velma', '1949-03-23'),
  patient('pat-2006', 'SIM-MRN-81106', 'Farrowdale', 'Lucan', '1992-10-14'),
];

/** What one EHR simulator holds: the patients and the rooms of the sites it serves. */
export function ehrScenario(ehr: 'hl7' | 'fhir'): EhrScenario {
  const locations: Location[] = SITES.filter((site) => site.ehr === ehr).flatMap((site) =>
    site.rooms.map((room) => ({
      resourceType: 'Location' as const,
      id: locationId(site, room),
      status: 'active' as const,
      name: `${room.name}, ${site.name}`,
      identifier: [{ system: 'http://ehr.carelane-simulator.invalid/location', value: room.code }],
      managingOrganization: { display: site.name },
    })),
  );
  return { patients: structuredClone(DEMO_PATIENTS), locations, demand: [] };
}
