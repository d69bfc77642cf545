import type { Queryable } from '../../store/database.ts';
import type { DemandLocation, SourceCode } from '../../contracts/demand.ts';
import { itemKey, type KitLine, type MappedItem, type MappedLocation, type MasterDataLookup, type SupplierItem, type UnmappedValue } from './lookup.ts';
import type { PreferenceCardLine } from './kinds.ts';

/**
 * MasterDataLookup on the crosswalk tables of migration 008: only current versions (valid_to is null) count.
 * Each method is one query whatever the number of codes, so a demand with fifty items costs one round trip.
 */
export class PgMasterDataLookup implements MasterDataLookup {
  private readonly db: Queryable;

  constructor(db: Queryable) {
    this.db = db;
  }

  async mapItems(codes: SourceCode[]): Promise<{ mapped: Map<string, MappedItem>; unmapped: SourceCode[] }> {
    const mapped = new Map<string, MappedItem>();
    if (codes.length === 0) return { mapped, unmapped: [] };
    const { rows } = await this.db.query<{ system: string; code: string; odoo_product_id: number; default_code: string | null; gtin: string | null; uom_id: number | null }>(
      `select c.ehr_system as system, c.ehr_code as code, c.odoo_product_id, c.default_code, c.gtin, c.uom_id
       from carelane.item_crosswalk c join unnest($1::text[], $2::text[]) as wanted(system, code) on c.ehr_system = wanted.system and c.ehr_code = wanted.code
       where c.valid_to is null and c.odoo_product_id is not null`,
      [codes.map((code) => code.system), codes.map((code) => code.code)],
    );
    for (const row of rows) {
      const key = itemKey(row);
      mapped.set(key, {
        key,
        odooProductId: row.odoo_product_id,
        ...(row.default_code ? { defaultCode: row.default_code } : {}),
        ...(row.gtin ? { gtin: row.gtin } : {}),
        ...(row.uom_id ? { uomId: row.uom_id } : {}),
      });
    }
    const seen = new Set<string>();
    const unmapped = codes.filter((code) => {
      const key = itemKey(code);
      if (mapped.has(key) || seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    return { mapped, unmapped };
  }

  async mapLocation(location: DemandLocation): Promise<MappedLocation | undefined> {
    const { rows } = await this.db.query<MappedLocation & { analyticAccountId: number | null }>(
      `select site, odoo_connection as "odooConnection", storeroom_location_id as "storeroomLocationId", destination_location_id as "destinationLocationId",
              picking_type_id as "pickingTypeId", analytic_account_id as "analyticAccountId"
       from carelane.location_crosswalk where ehr_system = $1 and ehr_code = $2 and valid_to is null`,
      [location.system ?? '', location.code],
    );
    const row = rows[0];
    if (!row) return undefined;
    const { analyticAccountId, ...rest } = row;
    return analyticAccountId === null ? rest : { ...rest, analyticAccountId };
  }

  async preferenceCard(procedure: SourceCode, site: string): Promise<KitLine[] | undefined> {
    const { rows } = await this.db.query<{ lines: PreferenceCardLine[] }>(
      'select lines from carelane.preference_cards where site = $1 and procedure_system = $2 and procedure_code = $3 and valid_to is null',
      [site, procedure.system, procedure.code],
    );
    return rows[0]?.lines.map((line) => ({ item: { system: line.system, code: line.code }, quantity: line.quantity }));
  }

  async supplierItems(vendorRef: string, odooProductIds: number[]): Promise<Map<number, SupplierItem>> {
    const items = new Map<number, SupplierItem>();
    if (odooProductIds.length === 0) return items;
    const { rows } = await this.db.query<{ odoo_product_id: number; sku: string; gtin: string | null }>(
      'select odoo_product_id, sku, gtin from carelane.supplier_item_crosswalk where vendor_ref = $1 and odoo_product_id = any ($2::int[]) and valid_to is null',
      [vendorRef, odooProductIds],
    );
    for (const row of rows) items.set(row.odoo_product_id, { odooProductId: row.odoo_product_id, vendorRef, sku: row.sku, ...(row.gtin ? { gtin: row.gtin } : {}) });
    return items;
  }

  /** Which of these values have a usable mapping now (one query per kind present). */
  async mappedValues(values: UnmappedValue[]): Promise<Set<string>> {
    const mapped = new Set<string>();
    const byKind = (kind: UnmappedValue['kind']) => values.filter((value) => value.kind === kind);
    const items = byKind('item');
    if (items.length > 0) {
      const { rows } = await this.db.query<{ system: string; code: string }>(
        `select c.ehr_system as system, c.ehr_code as code from carelane.item_crosswalk c join unnest($1::text[], $2::text[]) as wanted(system, code)
         on c.ehr_system = wanted.system and c.ehr_code = wanted.code where c.valid_to is null and c.odoo_product_id is not null`,
        [items.map((value) => value.system), items.map((value) => value.code)],
      );
      for (const row of rows) mapped.add(unmappedKey({ kind: 'item', ...row }));
    }
    const locations = byKind('location');
    if (locations.length > 0) {
      const { rows } = await this.db.query<{ system: string; code: string }>(
        `select c.ehr_system as system, c.ehr_code as code from carelane.location_crosswalk c join unnest($1::text[], $2::text[]) as wanted(system, code)
         on c.ehr_system = wanted.system and c.ehr_code = wanted.code where c.valid_to is null`,
        [locations.map((value) => value.system), locations.map((value) => value.code)],
      );
      for (const row of rows) mapped.add(unmappedKey({ kind: 'location', ...row }));
    }
    const procedures = byKind('procedure');
    if (procedures.length > 0) {
      const { rows } = await this.db.query<{ site: string; system: string; code: string }>(
        `select c.site, c.procedure_system as system, c.procedure_code as code from carelane.preference_cards c
         join unnest($1::text[], $2::text[], $3::text[]) as wanted(site, system, code) on c.site = wanted.site and c.procedure_system = wanted.system and c.procedure_code = wanted.code
         where c.valid_to is null`,
        [procedures.map((value) => value.site ?? ''), procedures.map((value) => value.system), procedures.map((value) => value.code)],
      );
      for (const row of rows) mapped.add(unmappedKey({ kind: 'procedure', ...row }));
    }
    const vendorItems = byKind('vendor_item');
    if (vendorItems.length > 0) {
      const { rows } = await this.db.query<{ system: string; code: string }>(
        `select c.vendor_ref as system, c.odoo_product_id::text as code from carelane.supplier_item_crosswalk c
         join unnest($1::text[], $2::text[]) as wanted(system, code) on c.vendor_ref = wanted.system and c.odoo_product_id::text = wanted.code where c.valid_to is null`,
        [vendorItems.map((value) => value.system), vendorItems.map((value) => value.code)],
      );
      for (const row of rows) mapped.add(unmappedKey({ kind: 'vendor_item', ...row }));
    }
    return mapped;
  }
}

/** Identity of an unmapped value (site only for procedures, whose cards are per site). */
export const unmappedKey = (value: UnmappedValue): string => `${value.kind}|${value.kind === 'procedure' ? (value.site ?? '') : ''}|${value.system}|${value.code}`;
