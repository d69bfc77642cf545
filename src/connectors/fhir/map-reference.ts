import type { CodeableConcept, Device, DeviceUdiCarrier, Identifier, Location, Organization, Reference, Resource } from '@medplum/fhirtypes';
import { businessError, CarelaneError } from '../../contracts/errors.ts';
import type { SourceCode } from '../../contracts/demand.ts';
import { interpretElements, isValidGtin, parseBracketed, parseUnbracketed, toGtin14, type Gs1Element } from '../gs1/index.ts';

/**
 * FHIR R4 reference data → canonical reference records: Location, Organization and Device as the crosswalks
 * (EHR location → Carelane/Odoo location, EHR device → item and lot) need them. Pure. Nothing patient-linked is
 * carried: Device.patient, Location.address and telecom (a patient's home is a Location too, location.html
 * "kind of location ... a patient's home") are not read.
 */

/** The EHR record a reference record came from. */
export interface ReferenceSource {
  system: string;
  type: 'Location' | 'Organization' | 'Device';
  /** `Type/id`: the same text the demand mapper writes for a location reference, so both meet in the crosswalk */
  reference?: string;
  version?: string;
}

/** site (building, campus), department (wing, ward, level), room (room, bed), storeroom (cabinet), other (vehicle, home, road). */
export type ReferenceLocationKind = 'site' | 'department' | 'room' | 'storeroom' | 'other';

export interface LocationRecord {
  record: 'location';
  source: ReferenceSource;
  /** the EHR's location code: the first identifier with a value, else the `Type/id` reference */
  code: string;
  /** identifier.system of that code; 'reference' when the code is the reference */
  system: string;
  name?: string;
  kind: ReferenceLocationKind;
  /** location-physical-type code as given (si, bu, wi, wa, ro, bd, ...) */
  physicalType?: string;
  /** Location.type codes (v3 RoleCode service delivery location types: CARD, ER, PHARM, ...) */
  types: SourceCode[];
  /** Location.partOf as `Location/id` */
  partOf?: string;
  managingOrganization?: string;
  /** Location.status: active | suspended | inactive; operationalStatus (v2 table 0116 bed status) when given */
  status: 'active' | 'suspended' | 'inactive';
  operationalStatus?: string;
}

export interface OrganizationRecord {
  record: 'organization';
  source: ReferenceSource;
  code: string;
  system: string;
  name?: string;
  /** Organization.type codes (organization-type: prov, dept, team, ins, ...) */
  types: SourceCode[];
  partOf?: string;
  active: boolean;
}

export interface DeviceRecord {
  record: 'device';
  source: ReferenceSource;
  /** GTIN-14 from the UDI's device identifier, when the UDI is a GS1 one */
  gtin?: string;
  /** the UDI device identifier as given (GS1 GTIN, HIBCC LIC+product, ICCBBA) */
  deviceIdentifier?: string;
  /** the UDI issuer (udiCarrier.issuer): GS1 http://hl7.org/fhir/NamingSystem/gs1-di, HIBCC, ICCBBA */
  issuer?: string;
  lot?: string;
  serial?: string;
  /** ISO date */
  expiry?: string;
  manufacturer?: string;
  modelNumber?: string;
  type?: SourceCode;
  status?: string;
  /** a code for the crosswalk when there is no UDI: the first identifier */
  code?: string;
}

export type ReferenceRecord = LocationRecord | OrganizationRecord | DeviceRecord;

export const REFERENCE_RESOURCE_TYPES = ['Location', 'Organization', 'Device'] as const;

export interface ReferenceMappingContext {
  sourceSystem: string;
  /** for two-digit GS1 years (expiry); default now */
  now?: Date;
}

function mappingFailure(code: string, message: string, field: string, cause?: unknown): CarelaneError {
  return businessError('mapping_failure', message, { code, where: { field }, ...(cause === undefined ? {} : { cause }) });
}

export function mapFhirReference(resource: Resource, context: ReferenceMappingContext): ReferenceRecord {
  switch (resource.resourceType) {
    case 'Location':
      return mapLocation(resource, context);
    case 'Organization':
      return mapOrganization(resource, context);
    case 'Device':
      return mapDevice(resource, context);
    default:
      throw mappingFailure('fhir_not_reference_data', `${resource.resourceType} is not reference data Carelane maps (${REFERENCE_RESOURCE_TYPES.join(', ')})`, `${resource.resourceType}.resourceType`);
  }
}

function source(resource: Location | Organization | Device, context: ReferenceMappingContext): ReferenceSource {
  return {
    system: context.sourceSystem,
    type: resource.resourceType,
    ...(resource.id ? { reference: `${resource.resourceType}/${resource.id}` } : {}),
    ...(resource.meta?.versionId ? { version: resource.meta.versionId } : {}),
  };
}

/** The code a record is known by: the first identifier with a value (with its system), else the reference. */
function codeOf(resource: { resourceType: string; id?: string; identifier?: Identifier[] }): { code: string; system: string } | undefined {
  const identifier = resource.identifier?.find((i) => i.value);
  if (identifier?.value) return { code: identifier.value, system: identifier.system ?? '' };
  return resource.id ? { code: `${resource.resourceType}/${resource.id}`, system: 'reference' } : undefined;
}

function codes(concepts: CodeableConcept[] | undefined): SourceCode[] {
  const out: SourceCode[] = [];
  for (const concept of concepts ?? []) {
    for (const coding of concept.coding ?? []) if (coding.code) out.push({ system: coding.system ?? '', code: coding.code, ...(coding.display ? { display: coding.display } : {}) });
  }
  return out;
}

const referenceText = (reference: Reference | undefined): string | undefined => reference?.reference ?? reference?.identifier?.value ?? undefined;

// location-physical-type (R4): what kind of place this is physically.
const PHYSICAL_KIND: Record<string, ReferenceLocationKind> = {
  si: 'site', bu: 'site', jdn: 'site', area: 'site',
  wi: 'department', wa: 'department', lvl: 'department', co: 'department',
  ro: 'room', bd: 'room',
  ca: 'storeroom',
  ve: 'other', ho: 'other', rd: 'other',
};
// v3 RoleCode service delivery locations that name a whole facility (HOSP hospital, ...) rather than a unit in one.
const FACILITY_ROLES = new Set(['HOSP', 'CHR', 'GACH', 'MHSP', 'PSYCHF', 'RH', 'RHAT', 'RHII', 'RHMAD', 'RHPI', 'RHPIH', 'RHPIMS', 'RHPIVS', 'RHYAD', 'HU']);

function mapLocation(resource: Location, context: ReferenceMappingContext): LocationRecord {
  const code = codeOf(resource);
  if (!code) throw mappingFailure('fhir_no_location_code', 'a Location needs an identifier or an id to be known by', 'Location.identifier');
  const physical = resource.physicalType?.coding?.find((c) => c.code)?.code;
  const types = codes(resource.type);
  // Kind: physicalType first; without it, a facility-level Location.type is a site, any other service type a department.
  const kind: ReferenceLocationKind = (physical && PHYSICAL_KIND[physical]) || (types.some((t) => FACILITY_ROLES.has(t.code)) ? 'site' : types.length > 0 ? 'department' : 'other');
  const status = resource.status ?? 'active';
  if (status !== 'active' && status !== 'suspended' && status !== 'inactive') {
    throw mappingFailure('fhir_bad_status', `Location.status ${JSON.stringify(status)} is not active, suspended or inactive`, 'Location.status');
  }
  const partOf = referenceText(resource.partOf);
  const organization = referenceText(resource.managingOrganization);
  return {
    record: 'location',
    source: source(resource, context),
    ...code,
    ...(resource.name ? { name: resource.name } : {}),
    kind,
    ...(physical ? { physicalType: physical } : {}),
    types,
    ...(partOf ? { partOf } : {}),
    ...(organization ? { managingOrganization: organization } : {}),
    status,
    ...(resource.operationalStatus?.code ? { operationalStatus: resource.operationalStatus.code } : {}),
  };
}

function mapOrganization(resource: Organization, context: ReferenceMappingContext): OrganizationRecord {
  const code = codeOf(resource);
  if (!code) throw mappingFailure('fhir_no_organization_code', 'an Organization needs an identifier or an id to be known by', 'Organization.identifier');
  const partOf = referenceText(resource.partOf);
  return {
    record: 'organization',
    source: source(resource, context),
    ...code,
    ...(resource.name ? { name: resource.name } : {}),
    types: codes(resource.type),
    ...(partOf ? { partOf } : {}),
    active: resource.active ?? true,
  };
}

const GS1_ISSUERS = new Set(['http://hl7.org/fhir/NamingSystem/gs1-di', 'http://hl7.org/fhir/NamingSystem/gs1', 'urn:oid:1.3.160']);

/**
 * Device: the UDI carrier (device.html "UDI": deviceIdentifier, issuer, carrierHRF the human readable form,
 * carrierAIDC the barcode data, base64) read with the GS1 parser when the issuer is GS1 or the HRF is a GS1
 * element string: AI 01 GTIN, 10 lot, 21 serial, 17 expiry. The Device's own lotNumber, serialNumber and
 * expirationDate fill what the carrier does not say. Device.patient is never read.
 */
function mapDevice(resource: Device, context: ReferenceMappingContext): DeviceRecord {
  const record: DeviceRecord = { record: 'device', source: source(resource, context) };
  const carriers = resource.udiCarrier ?? [];
  carriers.forEach((carrier, index) => {
    if (record.gtin || record.deviceIdentifier) return;
    Object.assign(record, fromCarrier(carrier, `Device.udiCarrier[${index}]`, context.now ?? new Date()));
  });
  if (!record.lot && resource.lotNumber) record.lot = resource.lotNumber;
  if (!record.serial && resource.serialNumber) record.serial = resource.serialNumber;
  if (!record.expiry && resource.expirationDate) record.expiry = resource.expirationDate.slice(0, 10);
  const identifier = resource.identifier?.find((i) => i.value);
  if (identifier?.value) record.code = identifier.value;
  if (!record.gtin && !record.deviceIdentifier && !record.code) {
    throw mappingFailure('fhir_no_device_identifier', 'a Device needs a UDI carrier or an identifier for the item crosswalk', 'Device.udiCarrier');
  }
  const manufacturer = resource.manufacturer;
  if (manufacturer) record.manufacturer = manufacturer;
  if (resource.modelNumber) record.modelNumber = resource.modelNumber;
  const type = codes(resource.type ? [resource.type] : undefined)[0];
  if (type) record.type = type;
  if (resource.status) record.status = resource.status;
  return record;
}

function fromCarrier(carrier: DeviceUdiCarrier, at: string, now: Date): Partial<DeviceRecord> {
  const out: Partial<DeviceRecord> = {};
  if (carrier.deviceIdentifier) out.deviceIdentifier = carrier.deviceIdentifier;
  if (carrier.issuer) out.issuer = carrier.issuer;
  const gs1 = (carrier.issuer !== undefined && GS1_ISSUERS.has(carrier.issuer)) || carrier.carrierHRF?.trim().startsWith('(01)') === true;
  if (!gs1) return out;
  let elements: Gs1Element[] = [];
  if (carrier.carrierHRF?.trim()) elements = parseGs1(() => parseBracketed(carrier.carrierHRF!.trim()), `${at}.carrierHRF`);
  else if (carrier.carrierAIDC) elements = parseGs1(() => parseUnbracketed(aidcText(carrier.carrierAIDC!)), `${at}.carrierAIDC`);
  const data = interpretElements(elements, now);
  const di = data.gtin ?? carrier.deviceIdentifier;
  if (di) {
    if (!/^\d{8}$|^\d{12,14}$/.test(di) || !isValidGtin(di)) throw mappingFailure('fhir_bad_udi', `UDI device identifier ${JSON.stringify(di)} is not a valid GTIN (GS1 check digit)`, `${at}.deviceIdentifier`);
    if (carrier.deviceIdentifier && data.gtin && toGtin14(carrier.deviceIdentifier) !== toGtin14(data.gtin)) {
      throw mappingFailure('fhir_bad_udi', `deviceIdentifier ${carrier.deviceIdentifier} is not the GTIN (01) ${data.gtin} of the carrier`, `${at}.deviceIdentifier`);
    }
    out.gtin = toGtin14(di);
  }
  if (data.lot) out.lot = data.lot;
  if (data.serial) out.serial = data.serial;
  if (data.expiryDate) out.expiry = data.expiryDate;
  return out;
}

/** carrierAIDC is base64Binary (device.html): the scanned data, FNC1 as GS (0x1D), possibly with a symbology id. */
function aidcText(base64: string): string {
  return Buffer.from(base64, 'base64').toString('latin1').replace(/^\][A-Za-z]\d/, '');
}

function parseGs1(parse: () => Gs1Element[], field: string): Gs1Element[] {
  try {
    return parse();
  } catch (error) {
    throw mappingFailure('fhir_bad_udi', `the UDI is not a valid GS1 element string: ${(error as Error).message}`, field, error);
  }
}
