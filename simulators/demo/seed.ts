import type pg from 'pg';
import { createIdempotent, ProductGateway, VendorGateway, type OdooClient } from '../../src/connectors/odoo/index.ts';
import { applyMappings } from '../../src/flows/master-data/mappings.ts';
import type { OdooSimulator } from '../odoo/index.ts';
import { EHR_ITEM_SYSTEM, locationId, PRODUCTS, SITES, SNOMED } from './network.ts';

/** The demo's cost centres in Odoo: an analytic account per room (plan Departments) and per procedure (plan Service lines). */
export interface CostCentres {
  /** '<site id>:<room code>' → analytic account */
  rooms: Map<string, number>;
  /** procedure code (SNOMED CT) → analytic account */
  serviceLines: Map<string, number>;
}

/**
 * Analytic plans and accounts (reference/odoo.md §2.11: one plan per dimension, an account per department or
 * service line), created once by external id. Runs before Carelane starts: its configuration names the service
 * lines' accounts.
 */
export async function seedCostCentres(client: OdooClient): Promise<CostCentres> {
  const plans = await createIdempotent(client, 'account.analytic.plan', [
    { key: 'demo:plan:departments', values: { name: 'Departments' } },
    { key: 'demo:plan:service-lines', values: { name: 'Service lines' } },
  ]);
  const rooms = SITES.flatMap((site) => site.rooms.map((room) => ({ key: `demo:analytic:${site.id}:${room.code}`, values: { name: `${site.name} / ${room.name}`, code: `${site.id.toUpperCase()}-${room.code}`, plan_id: plans.get('demo:plan:departments')!.id } })));
  const procedures = SITES.flatMap((site) => site.procedures).filter((p, i, all) => all.findIndex((q) => q.code === p.code) === i);
  const lines = procedures.map((procedure) => ({ key: `demo:analytic:service:${procedure.code}`, values: { name: procedure.display, code: `SL-${procedure.code}`, plan_id: plans.get('demo:plan:service-lines')!.id } }));
  const accounts = await createIdempotent(client, 'account.analytic.account', [...rooms, ...lines]);
  return {
    rooms: new Map(SITES.flatMap((site) => site.rooms.map((room) => [`${site.id}:${room.code}`, accounts.get(`demo:analytic:${site.id}:${room.code}`)!.id] as const))),
    serviceLines: new Map(procedures.map((procedure) => [procedure.code, accounts.get(`demo:analytic:service:${procedure.code}`)!.id] as const)),
  };
}

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
export async function seedDemoNetwork(client: OdooClient, odoo: OdooSimulator, pool: pg.Pool, odooConnection: string, costCentres: CostCentres): Promise<SeededNetwork> {
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
    // The unit cost cost allocation posts at (standard_price): the vendor price, as a first receipt would set it.
    for (const product of PRODUCTS) await client.write('product.product', [productIds.get(product.code)!], { standard_price: product.price });
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
        const target = {
          site: site.id,
          odooConnection,
          storeroomLocationId: storerooms.get(site.id)!,
          destinationLocationId: locations.get(`demo:loc:${site.id}:${room.code}`)!.id,
          pickingTypeId: odoo.seeded.internalPickingTypeId,
          analyticAccountId: costCentres.rooms.get(`${site.id}:${room.code}`)!,
        };
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
