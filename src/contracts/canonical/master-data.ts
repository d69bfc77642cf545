import { Type, type Static } from 'typebox';
import { canonicalContract } from './contract.ts';
import { business, pii } from './fields.ts';

// Master data as the flows see it, whoever owns it (Odoo by default, DESIGN.md "Flows"): items, locations
// (site → storeroom / department → room), cost centers and vendors. Ids of the owner's records are carried
// (odoo*Id) so a consumer never has to search by name; the EHR's own codes are kept as `sourceCodes`.

/** A code as a source system writes it (FHIR Coding.system + code, HL7 v2 CWE.1 + CWE.3). */
export const CodeSchema = Type.Object(
  {
    system: Type.String(business({ description: "code system URI or HL7 v2 coding system name; '' when the sender gave none" })),
    code: Type.String(business({ minLength: 1 })),
    display: Type.Optional(Type.String(business({ description: 'catalog text, never patient data' }))),
  },
  business({ additionalProperties: false }),
);

export const ItemSchema = Type.Object(
  {
    name: Type.String(business({ minLength: 1 })),
    odooProductId: Type.Optional(Type.Integer(business({ minimum: 1, description: 'product.product id in the owning Odoo' }))),
    defaultCode: Type.Optional(Type.String(business({ description: "Odoo's internal reference (default_code)" }))),
    gtin: Type.Optional(Type.String(business({ pattern: '^\\d{8}$|^\\d{12,14}$', description: 'GS1 GTIN-8/12/13/14' }))),
    uom: Type.Optional(Type.String(business({ description: 'unit of measure name, e.g. Units, Box of 50' }))),
    tracking: Type.Enum(['none', 'lot', 'serial'], business({ default: 'none' })),
    storable: Type.Boolean(business()),
    active: Type.Boolean(business()),
    sourceCodes: Type.Array(CodeSchema, business({ description: 'the EHR codes that mean this item (item crosswalk)' })),
  },
  business({ additionalProperties: false, title: 'Item' }),
);
export type Item = Static<typeof ItemSchema>;

export const LocationKind = Type.Enum(['site', 'storeroom', 'department', 'room'], business());

export const LocationSchema = Type.Object(
  {
    code: Type.String(business({ minLength: 1, description: 'Carelane code, unique within the network' })),
    kind: LocationKind,
    name: Type.String(business({ minLength: 1 })),
    site: Type.Optional(Type.String(business({ description: 'code of the site this location belongs to (absent for a site)' }))),
    parentCode: Type.Optional(Type.String(business({ description: 'the enclosing location: a room is in a department, a department in a site' }))),
    odooConnection: Type.Optional(Type.String(business({ description: 'carelane.yaml odoo.connections name of the site' }))),
    odooLocationId: Type.Optional(Type.Integer(business({ minimum: 1, description: 'stock.location id (internal usage)' }))),
    analyticAccountId: Type.Optional(Type.Integer(business({ minimum: 1, description: 'cost center of a department' }))),
    active: Type.Boolean(business()),
    sourceCodes: Type.Array(CodeSchema, business({ description: 'the EHR location codes that mean this location (location crosswalk)' })),
  },
  business({ additionalProperties: false, title: 'Location' }),
);
export type Location = Static<typeof LocationSchema>;

export const CostCenterSchema = Type.Object(
  {
    code: Type.String(business({ minLength: 1 })),
    name: Type.String(business({ minLength: 1 })),
    site: Type.Optional(Type.String(business())),
    analyticAccountId: Type.Optional(Type.Integer(business({ minimum: 1, description: 'account.analytic.account id' }))),
    departmentId: Type.Optional(Type.Integer(business({ minimum: 1, description: 'hr.department id' }))),
    active: Type.Boolean(business()),
  },
  business({ additionalProperties: false, title: 'CostCenter' }),
);
export type CostCenter = Static<typeof CostCenterSchema>;

export const VendorSchema = Type.Object(
  {
    ref: Type.String(business({ minLength: 1, description: "the vendor's code (Odoo res.partner ref)" })),
    name: Type.String(business({ minLength: 1, description: 'company name' })),
    odooPartnerId: Type.Optional(Type.Integer(business({ minimum: 1 }))),
    gln: Type.Optional(Type.String(business({ pattern: '^\\d{13}$', description: 'GS1 Global Location Number' }))),
    ediPartnerId: Type.Optional(Type.String(business({ description: 'x12.partners id the POs of this vendor go to' }))),
    // a named person at the vendor: identifies someone, so it is PII and stays out of logs
    contactName: Type.Optional(Type.String(pii())),
    contactEmail: Type.Optional(Type.String(pii({ format: 'email' }))),
    active: Type.Boolean(business()),
  },
  business({ additionalProperties: false, title: 'Vendor' }),
);
export type Vendor = Static<typeof VendorSchema>;

export const ItemContract = canonicalContract('item', '1.0.0', ItemSchema);
export const LocationContract = canonicalContract('location', '1.0.0', LocationSchema);
export const CostCenterContract = canonicalContract('cost-center', '1.0.0', CostCenterSchema);
export const VendorContract = canonicalContract('vendor', '1.0.0', VendorSchema);
