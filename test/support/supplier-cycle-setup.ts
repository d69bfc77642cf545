import type pg from 'pg';
import { parseConfigText, type CarelaneConfig } from '../../src/config/index.ts';
import { OdooClient, ProductGateway, VendorGateway, type NewProduct, type NewVendor } from '../../src/connectors/odoo/index.ts';
import type { X12PartnerProfile } from '../../src/connectors/x12/partner-profile.ts';
import { applyMappings } from '../../src/flows/master-data/mappings.ts';
import type { OdooSimulator } from '../../simulators/odoo/index.ts';

// The setup the supplier-cycle tests share: one site (north) whose bookings fall short, an Odoo simulator with the
// products and a vendor to buy them from, and a Carelane connected to it. Each test keeps what it is about (its
// items, channel, routes and flows settings) in its own file.

/** The admin API key the Odoo simulator accepts. */
export const ODOO_SIMULATOR_KEY = 'sim-admin-api-key';

/** Odoo's many2one value ([id, display name], or false) as the id; 0 for false. */
export const m2o = (value: unknown) => (Array.isArray(value) ? Number(value[0]) : Number(value));

/** A date 'YYYY-MM-DD' as GS1's YYMMDD (AI 17). */
export const yymmdd = (iso: string) => iso.slice(2, 10).replaceAll('-', '');

/** An X12 trading partner over HTTP, test usage; the config points `endpoint` at the supplier simulator. */
export function x12TestPartner(id: string, theirId: string): X12PartnerProfile {
  return {
    id,
    ours: { qualifier: 'ZZ', id: 'CARELANE', applicationCode: 'CARELANE' },
    theirs: { qualifier: 'ZZ', id: theirId, applicationCode: theirId },
    version: '005010',
    transport: 'http',
    endpoint: 'http://127.0.0.1:1/unused',
    acknowledgment: { kind: '999', withinMinutes: 60 },
    usage: 'T',
  };
}

export interface Booking {
  /** SCH-7's text */
  description: string;
  minutes: number;
  /** the CPT procedure (AIS-3) the site's preference card is for */
  procedure: { code: string; text: string };
  /** the room at NORTH (AIL-3), mapped as a location */
  room: string;
  /** the PID segment, as it is: the PHI a test may look for */
  patient: string;
}

/** An SIU^S12 booking from SCHED at NORTH, on 2026-12-01 09:00, appointment `id` (filler F-<id>). */
export function siuBooking(id: string, booking: Booking): string {
  const { description, minutes, procedure, room, patient } = booking;
  return [
    `MSH|^~\\&|SCHED|NORTH|CARELANE|NET|20261124080000||SIU^S12^SIU_S12|M-${id}|P|2.5.1`,
    `SCH|${id}|F-${id}||||||^${description}|${minutes}|MIN|^^${minutes}^20261201090000^20261201090000`,
    patient,
    'RGS|1',
    `AIS|1||${procedure.code}^${procedure.text}^CPT|20261201090000|0|MIN|${minutes}|MIN`,
    `AIL|1||${room}^^^NORTH`,
  ].join('\r');
}

export function connectOdooAdmin(odoo: OdooSimulator): Promise<OdooClient> {
  return OdooClient.connect({ url: odoo.url, database: odoo.database, login: 'admin', apiKey: ODOO_SIMULATOR_KEY, transport: 'jsonrpc' });
}

/**
 * Products, one vendor, and that vendor's price for each product (product.supplierinfo on its template), so that
 * replenishment buys them from it. Returns the product ids by the products' keys.
 */
export async function seedSupplierCatalog(client: OdooClient, catalog: { products: NewProduct[]; vendor: NewVendor; price: number }): Promise<Record<string, number>> {
  const ensured = await new ProductGateway(client).ensure(catalog.products);
  const productIds = Object.fromEntries(catalog.products.map((product) => [product.key, ensured.get(product.key)!.id]));
  const vendorId = (await new VendorGateway(client).ensure([catalog.vendor])).get(catalog.vendor.key)!.id;
  const templates = await client.read('product.product', Object.values(productIds), ['product_tmpl_id']);
  await new VendorGateway(client).ensurePrices(templates.map((row) => ({ key: `price:${row.id}`, vendorId, productTemplateId: m2o(row.product_tmpl_id), price: catalog.price })));
  return productIds;
}

export interface SupplierCycleConfig {
  databaseUrl: string;
  adminToken: string;
  odoo: OdooSimulator;
  /** the secret of tokenization key k1 */
  tokenizationSecret: string;
  /** the test's own top-level YAML sections (channels, suppliers, flows, routes, ...) */
  sections: string;
  /** values for the `${env:…}` references in `sections` */
  env?: Record<string, string>;
}

/**
 * Carelane on ephemeral ports, polling every 50 ms, with Odoo connection odoo-main to the simulator and
 * tokenization key k1, plus the test's own sections.
 */
export function supplierCycleConfig(options: SupplierCycleConfig): CarelaneConfig {
  const { odoo } = options;
  return parseConfigText(
    `
server: { port: 0 }
mllp: { port: 0 }
engine: { pollIntervalMs: 50 }
odoo:
  connections:
    odoo-main: { url: "${odoo.url}", database: ${odoo.database}, login: admin, apiKey: "\${env:ODOO_KEY}", transport: jsonrpc, timeoutMs: 3000 }
governance:
  tokenization:
    keys: [{ id: k1, secret: "\${env:PTK}" }]
    activeKeyId: k1
${options.sections}`,
    { DATABASE_URL: options.databaseUrl, CARELANE_ADMIN_TOKEN: options.adminToken, ODOO_KEY: ODOO_SIMULATOR_KEY, PTK: options.tokenizationSecret, ...options.env },
  );
}

const ITEM_SYSTEM = 'http://north.example/items';

export interface NorthSiteMappings {
  /** EHR locations at north, each mapped to the simulator's storeroom → ward on odoo-main */
  locations: Array<{ ehrSystem: string; ehrCode: string }>;
  /** EHR item codes (http://north.example/items) → Odoo products */
  items: Array<{ code: string; productId: number }>;
  /** the site's preference card for one CPT procedure: what a booking of it needs */
  preferenceCard: { procedureCode: string; lines: Array<{ code: string; quantity: number }> };
}

/** The crosswalk mappings through which a booking at north becomes demand on Odoo products. */
export async function mapNorthSite(pool: pg.Pool, odoo: OdooSimulator, mappings: NorthSiteMappings): Promise<void> {
  const actor = { actor: 'test', source: 'test setup' };
  const location = { site: 'north', odooConnection: 'odoo-main', storeroomLocationId: odoo.seeded.stockLocationId, destinationLocationId: odoo.seeded.wardLocationId, pickingTypeId: odoo.seeded.internalPickingTypeId };
  await applyMappings(pool, 'locations', mappings.locations.map((ehr) => ({ ...ehr, ...location })), actor);
  await applyMappings(pool, 'items', mappings.items.map((item) => ({ ehrSystem: ITEM_SYSTEM, ehrCode: item.code, odooProductId: item.productId })), actor);
  const { procedureCode, lines } = mappings.preferenceCard;
  await applyMappings(pool, 'preference-cards', [{ site: 'north', procedureSystem: 'CPT', procedureCode, lines: lines.map((line) => ({ system: ITEM_SYSTEM, ...line })) }], actor);
}

/** Carelane's HTTP API as the admin. `baseUrl` is read at each call: the app starts in beforeAll. */
export function adminApi(baseUrl: () => string, token: string) {
  return async <T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${baseUrl()}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: response.status, body: (await response.json()) as T };
  };
}

/** Rows of a query on Carelane's database; `pool` is read at each call. */
export function queryRows(pool: () => pg.Pool) {
  return async <T extends Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> => (await pool().query<T>(sql, params)).rows;
}
