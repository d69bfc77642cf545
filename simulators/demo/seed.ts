import type pg from 'pg';
import { createIdempotent, ProductGateway, VendorGateway, type OdooClient } from '../../src/connectors/odoo/index.ts';
import { applyMappings } from '../../src/flows/master-data/mappings.ts';
import type { OdooSimulator } from '../odoo/index.ts';
import { EHR_ITEM_SYSTEM, locationId, PRODUCTS, SITES, SNOMED } from './network.ts';

export interface SeededNetwork {
  productIds: Map<string, number>;
  storerooms: Map<string, number>;
}

/**
 * Loads the demo network into the Odoo simulator (through Carelane's own Odoo gateways, so it is what a real
 * Odoo would hold) and into Carelane's crosswalks (through the crosswalk door every change goes through).
 * Idempotent: a restart of the demo finds everything by external id and changes nothing; stock is only put in
 * the first time, as an inventory adjustment would.
 */
export async function seedDemoNetwork(client: OdooClient, odoo: OdooSimulator, pool: pg.Pool, odooConnection: string): Promise<SeededNetwork> {
  const created = await new ProductGateway(client).ensure(PRODUCTS.map((p) => ({ key: `demo:item:${p.code}`, defaultCode: p.code, name: p.name, barcode: p.gtin })));
  const productIds = new Map(PRODUCTS.map((p) => [p.code, created.get(`demo:item:${p.code}`)!.id]));
  const firstStart = [...created.values()].some((result) => result.created);

  const vendorsCreated = await new VendorGateway(client).ensure([
    { key: 'demo:vendor:medsupply', name: 'MedSupply Distribution', ref: 'MEDSUPPLY' },
    { key: 'demo:vendor:orthoworks', name: 'OrthoWorks Surgical', ref: 'ORTHOWORKS' },
  ]);
  const vendorId = { MEDSUPPLY: vendorsCreated.get('demo:vendor:medsupply')!.id, ORTHOWORKS: vendorsCreated.get('demo:vendor:orthoworks')!.id };
  const templates = new Map((await client.read('product.product', [...productIds.values()], ['product_tmpl_id'])).map((row) => [row.id, (row.product_tmpl_id as [number, string])[0]]));
  await new VendorGateway(client).ensurePrices(
    PRODUCTS.map((p) => ({ key: `demo:price:${p.code}`, vendorId: vendorId[p.vendor], productTemplateId: templates.get(productIds.get(p.code)!)!, price: p.price, delayDays: 2, vendorProductCode: p.sku })),
  );

  // Each site: a storeroom (stock comes from here) and its rooms (reservations go there), under the warehouse.
  const locationItems = SITES.flatMap((site) => [
    { key: `demo:loc:${site.id}:storeroom`, values: { name: `${site.name} storeroom`, usage: 'internal', location_id: odoo.seeded.stockLocationId } },
    ...site.rooms.map((room) => ({ key: `demo:loc:${site.id}:${room.code}`, values: { name: `${site.name} ${room.name}`, usage: 'internal', location_id: odoo.seeded.wardLocationId } })),
  ]);
  const locations = await createIdempotent(client, 'stock.location', locationItems);
  const storerooms = new Map(SITES.map((site) => [site.id, locations.get(`demo:loc:${site.id}:storeroom`)!.id]));

  if (firstStart) {
    for (const site of SITES) {
      for (const product of PRODUCTS) await odoo.seedQuant({ productId: productIds.get(product.code)!, locationId: storerooms.get(site.id)!, quantity: product.stock });
    }
  }

  const actor = { actor: 'demo', source: 'demo network seed', reason: 'demo profile start' };
  await applyMappings(pool, 'items', PRODUCTS.map((p) => ({ ehrSystem: EHR_ITEM_SYSTEM, ehrCode: p.code, odooProductId: productIds.get(p.code)!, defaultCode: p.code, gtin: p.gtin })), actor);
  await applyMappings(pool, 'supplier-items', PRODUCTS.map((p) => ({ vendorRef: p.vendor, sku: p.sku, odooProductId: productIds.get(p.code)!, gtin: p.gtin })), actor);
  await applyMappings(
    pool,
    'locations',
    SITES.flatMap((site) =>
      site.rooms.map((room) => {
        const target = { site: site.id, odooConnection, storeroomLocationId: storerooms.get(site.id)!, destinationLocationId: locations.get(`demo:loc:${site.id}:${room.code}`)!.id, pickingTypeId: odoo.seeded.internalPickingTypeId };
        // HL7 v2 sites name a room by PL.1 and the facility (PL.4); FHIR sites by the Location reference.
        return site.ehr === 'hl7' ? { ehrSystem: `facility:${site.name}`, ehrCode: room.code, ...target } : { ehrSystem: '', ehrCode: `Location/${locationId(site, room)}`, ...target };
      }),
    ),
    actor,
  );
  await applyMappings(
    pool,
    'preference-cards',
    SITES.flatMap((site) =>
      site.procedures.map((procedure) => ({
        site: site.id,
        // HL7 v2 writes SNOMED CT as CWE.3 'SCT' (table 0396); FHIR as its URI.
        procedureSystem: site.ehr === 'hl7' ? 'SCT' : SNOMED,
        procedureCode: procedure.code,
        lines: procedure.kit.map(([code, quantity]) => ({ system: EHR_ITEM_SYSTEM, code, quantity })),
      })),
    ),
    actor,
  );
  return { productIds, storerooms };
}
