import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { parseConfigText } from '../src/config/index.ts';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { OwnershipRules } from '../src/governance/ownership.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { waitFor } from './support/engine-harness.ts';

// Declared system-of-record ownership (DESIGN.md principle 5, issue 6): a write by a non-owner is refused and
// reported as ownership_violation; the owner's writes are kept.

describe('ownership rules', () => {
  const rules = new OwnershipRules({ domains: { items: 'odoo', vendors: 'odoo', locations: 'ehr' }, fields: { 'items.lot': 'ehr', 'items.expiry': 'ehr' } });

  it('lets a field owner write what the domain owner does not own', () => {
    expect(rules.violations('items', 'ehr', ['lot', 'expiry'])).toEqual([]);
    expect(rules.violations('items', 'ehr', ['lot', 'gtin'])).toEqual([{ field: 'gtin', owner: 'odoo' }]);
    expect(rules.violations('items', 'odoo', ['gtin', 'lot'])).toEqual([{ field: 'lot', owner: 'ehr' }]);
  });

  it('refuses with a business ownership_violation naming the fields and owners', () => {
    expect(() => rules.assertMayWrite('locations', 'supplier', ['name', 'status'], 'location OR-1')).toThrow(
      expect.objectContaining({
        failureClass: 'business',
        exceptionType: 'ownership_violation',
        where: { field: 'locations.name' },
        detail: expect.objectContaining({ writer: 'supplier', refused: [{ field: 'name', owner: 'ehr' }, { field: 'status', owner: 'ehr' }] }),
      }),
    );
  });
});

describe('reference data from the EHR through a running Carelane', () => {
  let db: TestDatabase;
  let app: RunningCarelane;

  beforeAll(async () => {
    db = await createTestDatabase(embeddedTarget());
    const config = parseConfigText(
      `
server: { port: 0 }
mllp: { enabled: false }
engine: { pollIntervalMs: 50 }
fhir:
  listener: { port: 0 }
  sources: [{ id: ehr-main }]
masterData:
  owners: { locations: ehr, items: odoo }
  fieldOwners: { "items.lot": ehr }
routes:
  - { source: "fhir:*", type: "FHIR_Location", lane: bulk, flow: reference_data }
  - { source: "fhir:*", type: "FHIR_Device", lane: bulk, flow: reference_data }
  - { lane: standard, flow: noop }
`,
      { DATABASE_URL: db.url, CARELANE_ADMIN_TOKEN: 'ownership-test-admin' },
    );
    app = await startCarelane({ config, origin: 'test' }, { log: pino({ level: 'silent' }) });
  });

  afterAll(async () => {
    await app?.stop();
    await db?.drop();
  });

  const post = (type: string, resource: unknown) =>
    fetch(`${app.fhirUrl}/fhir/ehr-main/${type}`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(resource) });

  it("keeps the EHR's own locations", async () => {
    const response = await post('Location', { resourceType: 'Location', id: 'or-1', status: 'active', name: 'Operating room 1', identifier: [{ system: 'http://ehr.example/locations', value: 'OR-1' }] });
    expect(response.status).toBe(200);
    const row = await waitFor(async () => (await app.database.pool.query(`select kind, system, code, record from carelane.reference_records where code = 'OR-1'`)).rows[0], 10_000, 'the kept location');
    expect(row).toMatchObject({ kind: 'location', system: 'http://ehr.example/locations', record: { name: 'Operating room 1', status: 'active' } });
  });

  it("refuses a device whose GTIN is Odoo's to own, as an ownership_violation, and keeps nothing of it", async () => {
    const response = await post('Device', {
      resourceType: 'Device',
      id: 'udi-1',
      status: 'active',
      udiCarrier: [{ deviceIdentifier: '09504000059118', issuer: 'http://hl7.org/fhir/NamingSystem/gs1-di', carrierHRF: '(01)09504000059118(17)141120(10)7654321D(21)10987654d321' }],
    });
    expect(response.status).toBe(200);
    const exception = await waitFor(
      async () => (await app.database.pool.query<{ reason: string; detail: { refused: unknown[] } }>(`select reason, detail from carelane.exceptions where type = 'ownership_violation'`)).rows[0],
      10_000,
      'the ownership_violation',
    );
    expect(exception.reason).toMatch(/^ehr may not write items device 09504000059118: gtin \(owned by odoo\)/);
    expect(exception.detail.refused).toEqual(expect.arrayContaining([{ field: 'gtin', owner: 'odoo' }, { field: 'serial', owner: 'odoo' }]));
    expect(exception.detail.refused).not.toContainEqual(expect.objectContaining({ field: 'lot' }));
    const { rows } = await app.database.pool.query(`select 1 from carelane.reference_records where kind = 'device'`);
    expect(rows).toHaveLength(0);
  });
});
