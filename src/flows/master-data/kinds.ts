import type { UnmappedValue } from './lookup.ts';

// The four crosswalk kinds: what a mapping of each holds, its natural key, and the table it is versioned in
// (migration 008). One description per kind drives the store, the CSV import and the API, so a column is
// declared once.

export const CROSSWALK_KINDS = ['items', 'supplier-items', 'locations', 'preference-cards'] as const;
export type CrosswalkKind = (typeof CROSSWALK_KINDS)[number];

export const isCrosswalkKind = (value: string): value is CrosswalkKind => (CROSSWALK_KINDS as readonly string[]).includes(value);

/** EHR item/supply code ↔ Odoo product ↔ GTIN. */
export interface ItemMapping {
  ehrSystem: string;
  ehrCode: string;
  odooProductId?: number | null;
  defaultCode?: string | null;
  gtin?: string | null;
  uomId?: number | null;
}

/** A vendor's own code for an Odoo product. */
export interface SupplierItemMapping {
  vendorRef: string;
  sku: string;
  odooProductId: number;
  gtin?: string | null;
  odooVendorId?: number | null;
}

/** EHR location → the site, its Odoo connection, storeroom, destination, operation type and cost center. */
export interface LocationMapping {
  ehrSystem: string;
  ehrCode: string;
  site: string;
  odooConnection: string;
  storeroomLocationId: number;
  destinationLocationId: number;
  pickingTypeId: number;
  analyticAccountId?: number | null;
}

export interface PreferenceCardLine {
  system: string;
  code: string;
  quantity: number;
}

/** What a procedure uses at a site. */
export interface PreferenceCard {
  site: string;
  procedureSystem: string;
  procedureCode: string;
  lines: PreferenceCardLine[];
}

export interface MappingByKind {
  items: ItemMapping;
  'supplier-items': SupplierItemMapping;
  locations: LocationMapping;
  'preference-cards': PreferenceCard;
}

/** A stored version of a mapping. */
export type Versioned<M> = M & {
  id: number;
  version: number;
  validFrom: Date;
  validTo: Date | null;
  createdBy: string;
  endedBy: string | null;
};

export type ColumnType = 'text' | 'integer' | 'jsonb';

export interface Column {
  /** the mapping's property (camelCase) */
  field: string;
  /** the table's column, also the CSV header name */
  column: string;
  type: ColumnType;
  /** part of the natural key (one current version per key) */
  key?: boolean;
  required?: boolean;
}

export interface KindSpec {
  kind: CrosswalkKind;
  table: string;
  columns: Column[];
  /** the value a parked mapping_failure names when this mapping was missing; undefined when not yet usable */
  unmappedValue(mapping: object): UnmappedValue | undefined;
}

const text = (field: string, column: string, extra: Partial<Column> = {}): Column => ({ field, column, type: 'text', ...extra });
const integer = (field: string, column: string, extra: Partial<Column> = {}): Column => ({ field, column, type: 'integer', ...extra });

export const KIND_SPECS: Readonly<Record<CrosswalkKind, KindSpec>> = {
  items: {
    kind: 'items',
    table: 'carelane.item_crosswalk',
    columns: [
      text('ehrSystem', 'ehr_system', { key: true }),
      text('ehrCode', 'ehr_code', { key: true, required: true }),
      integer('odooProductId', 'odoo_product_id'),
      text('defaultCode', 'default_code'),
      text('gtin', 'gtin'),
      integer('uomId', 'uom_id'),
    ],
    // usable only once it names the product: a row with only a default_code waits for the sync to fill it in
    unmappedValue: (m: Partial<ItemMapping>) => (m.odooProductId ? { kind: 'item', system: String(m.ehrSystem), code: String(m.ehrCode) } : undefined),
  },
  'supplier-items': {
    kind: 'supplier-items',
    table: 'carelane.supplier_item_crosswalk',
    columns: [
      text('vendorRef', 'vendor_ref', { key: true, required: true }),
      text('sku', 'sku', { key: true, required: true }),
      integer('odooProductId', 'odoo_product_id', { required: true }),
      text('gtin', 'gtin'),
      integer('odooVendorId', 'odoo_vendor_id'),
    ],
    unmappedValue: (m: Partial<SupplierItemMapping>) => ({ kind: 'vendor_item', system: String(m.vendorRef), code: String(m.odooProductId) }),
  },
  locations: {
    kind: 'locations',
    table: 'carelane.location_crosswalk',
    columns: [
      text('ehrSystem', 'ehr_system', { key: true }),
      text('ehrCode', 'ehr_code', { key: true, required: true }),
      text('site', 'site', { required: true }),
      text('odooConnection', 'odoo_connection', { required: true }),
      integer('storeroomLocationId', 'storeroom_location_id', { required: true }),
      integer('destinationLocationId', 'destination_location_id', { required: true }),
      integer('pickingTypeId', 'picking_type_id', { required: true }),
      integer('analyticAccountId', 'analytic_account_id'),
    ],
    unmappedValue: (m: Partial<LocationMapping>) => ({ kind: 'location', system: String(m.ehrSystem), code: String(m.ehrCode) }),
  },
  'preference-cards': {
    kind: 'preference-cards',
    table: 'carelane.preference_cards',
    columns: [
      text('site', 'site', { key: true, required: true }),
      text('procedureSystem', 'procedure_system', { key: true }),
      text('procedureCode', 'procedure_code', { key: true, required: true }),
      { field: 'lines', column: 'lines', type: 'jsonb', required: true },
    ],
    unmappedValue: (m: Partial<PreferenceCard>) => ({ kind: 'procedure', system: String(m.procedureSystem), code: String(m.procedureCode), site: String(m.site) }),
  },
};

export const keyColumns = (spec: KindSpec): Column[] => spec.columns.filter((column) => column.key);

/** `a|b|c` of a mapping's natural key, for audit target ids and messages. */
export const naturalKey = (spec: KindSpec, mapping: object): string => keyColumns(spec).map((column) => String((mapping as Record<string, unknown>)[column.field] ?? '')).join('|');
