import { businessError, type CarelaneError } from '../../contracts/errors.ts';
import type { DemandLocation, SourceCode } from '../../contracts/demand.ts';

/**
 * What the business flows ask of master data and crosswalks (issue 6). The demand, replenishment and supplier
 * flows depend on this interface only; `crosswalks.ts` implements it on PostgreSQL. A value without a mapping
 * is never guessed: the flow parks the message as a `mapping_failure` naming the unmapped values, and adding
 * the mapping replays it (DESIGN.md "Business exceptions").
 */

/** An EHR item/supply code resolved to the Odoo product it means. */
export interface MappedItem {
  /** `system|code` of the EHR code that was asked for (itemKey) */
  key: string;
  odooProductId: number;
  /** Odoo internal reference (`default_code`), for people reading a timeline */
  defaultCode?: string;
  gtin?: string;
  /** the unit Odoo should move in when it is not the product's own */
  uomId?: number;
}

/** An EHR location resolved to where stock comes from and goes to in Odoo, and who pays. */
export interface MappedLocation {
  /** the configured site (hospital, clinic) the location belongs to */
  site: string;
  /** the Odoo connection (carelane.yaml `odoo.connections`) of that site */
  odooConnection: string;
  /** the site's storeroom: source of reservations, destination of receipts */
  storeroomLocationId: number;
  /** the room or department the items go to */
  destinationLocationId: number;
  /** the internal-transfer operation type used for reservations */
  pickingTypeId: number;
  /** the analytic account (cost center) of the department, for cost allocation */
  analyticAccountId?: number;
}

/** One line of a preference card (kit): what a procedure uses at a site. */
export interface KitLine {
  item: SourceCode;
  quantity: number;
}

/** A supplier's own code for an Odoo product (850 PO1 VN/SK, supplier REST `sku`). */
export interface SupplierItem {
  odooProductId: number;
  vendorRef: string;
  sku: string;
  gtin?: string;
}

export type UnmappedKind = 'item' | 'location' | 'procedure' | 'vendor_item';

/** A value that has no mapping yet. `site` scopes procedures (preference cards are per site). */
export interface UnmappedValue {
  kind: UnmappedKind;
  system: string;
  code: string;
  site?: string;
}

export interface MasterDataLookup {
  /** Resolves many codes in one query; codes without a mapping are returned in `unmapped`. */
  mapItems(codes: SourceCode[]): Promise<{ mapped: Map<string, MappedItem>; unmapped: SourceCode[] }>;
  mapLocation(location: DemandLocation): Promise<MappedLocation | undefined>;
  /** The kit of a procedure at a site; undefined when the site has no card for it. */
  preferenceCard(procedure: SourceCode, site: string): Promise<KitLine[] | undefined>;
  /** The suppliers' codes of products, for purchase orders sent to a vendor. */
  supplierItems(vendorRef: string, odooProductIds: number[]): Promise<Map<number, SupplierItem>>;
}

/** The key crosswalks index EHR codes by. An empty system is kept: many HL7 v2 senders leave CWE.3 empty. */
export const itemKey = (code: Pick<SourceCode, 'system' | 'code'>): string => `${code.system}|${code.code}`;

/**
 * The business error that parks a message until its mappings exist. The unmapped values go into the
 * exception's detail (`detail.unmapped`), which is what the mapping-failure queue groups by and what the
 * crosswalk API matches when a mapping is added, to replay the parked messages by themselves.
 */
export function mappingFailure(unmapped: UnmappedValue[]): CarelaneError {
  const list = unmapped.map((value) => `${value.kind} ${value.system ? `${value.system}|` : ''}${value.code}${value.site ? ` at ${value.site}` : ''}`);
  return businessError('mapping_failure', `no mapping for ${list.join(', ')}`, {
    code: 'mapping_missing',
    detail: { unmapped },
  });
}

/**
 * The unmapped value of a product without the vendor's code (no supplier item crosswalk row): the vendor's
 * Odoo `ref` as system, the Odoo product id as code. Adding the supplier item replays what it parked.
 */
export const unmappedVendorItem = (vendorRef: string, odooProductId: number): UnmappedValue => ({ kind: 'vendor_item', system: vendorRef, code: String(odooProductId) });
