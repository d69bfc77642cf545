import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../src/governance/index.ts';
import { applyMappings, CsvImportError, importCsv, listMappings, mappingHistory, parseCsv, PgMasterDataLookup, removeMapping, type CsvProblem } from '../src/flows/master-data/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 4);
});
afterAll(async () => {
  await db?.drop();
});

const LOINC = 'http://example.org/supply-codes';

describe('crosswalk store: versions and audit', () => {
  it('keeps every version of a mapping, audits before/after, and a re-save of the same values changes nothing', async () => {
    const first = await applyMappings(db.pool, 'items', [{ ehrSystem: LOINC, ehrCode: 'GAUZE-4X4', odooProductId: 11, defaultCode: 'G-44' }], { actor: 'token:alice', source: 'test' });
    expect(first.counts).toMatchObject({ created: 1 });
    const second = await applyMappings(db.pool, 'items', [{ ehrSystem: LOINC, ehrCode: 'GAUZE-4X4', odooProductId: 12, defaultCode: 'G-44B' }], { actor: 'token:bob', source: 'test' });
    expect(second.counts).toMatchObject({ updated: 1 });
    const again = await applyMappings(db.pool, 'items', [{ ehrSystem: LOINC, ehrCode: 'GAUZE-4X4', odooProductId: 12, defaultCode: 'G-44B' }], { actor: 'token:bob', source: 'test' });
    expect(again.counts).toMatchObject({ unchanged: 1, updated: 0, created: 0 });

    const history = await mappingHistory(db.pool, 'items', second.saved[0]!.mapping.id);
    expect(history.map((v) => [v.version, v.odooProductId, v.createdBy, v.endedBy, v.validTo === null])).toEqual([
      [1, 11, 'token:alice', 'token:bob', false],
      [2, 12, 'token:bob', null, true],
    ]);
    // the old version ended exactly when the new one began
    expect(history[0]!.validTo!.getTime()).toBeLessThanOrEqual(history[1]!.validFrom.getTime());

    const { rows } = await db.pool.query(`select actor, action, target_id, detail from carelane.audit_log where target_type = 'crosswalk.items' order by id`);
    expect(rows.map((r) => `${r.actor} ${r.action} ${r.target_id}`)).toEqual([`token:alice crosswalk.create ${LOINC}|GAUZE-4X4`, `token:bob crosswalk.update ${LOINC}|GAUZE-4X4`]);
    expect(rows[1].detail).toMatchObject({ before: { odooProductId: 11, defaultCode: 'G-44' }, after: { odooProductId: 12, defaultCode: 'G-44B' }, version: 2 });

    const removed = await removeMapping(db.pool, 'items', second.saved[0]!.mapping.id, { actor: 'token:carol' });
    expect(removed?.endedBy).toBe('token:carol');
    expect(await removeMapping(db.pool, 'items', second.saved[0]!.mapping.id, { actor: 'token:carol' })).toBeUndefined();
    expect(await listMappings(db.pool, 'items', { match: { ehrCode: 'GAUZE-4X4' } })).toEqual([]);
    expect((await mappingHistory(db.pool, 'items', first.saved[0]!.mapping.id)).length).toBe(2);
    expect((await verifyAuditChain(db.pool)).ok).toBe(true);
  });

  it('answers the flows’ lookups from current versions, many item codes in one query', async () => {
    await applyMappings(db.pool, 'items', [
      { ehrSystem: '', ehrCode: 'BlueTubes', odooProductId: 21, gtin: '09506000134352' },
      { ehrSystem: LOINC, ehrCode: 'SUTURE', odooProductId: 22 },
      { ehrSystem: LOINC, ehrCode: 'ONLY-CODE', defaultCode: 'OC-1' }, // no product id yet: not usable
    ], { actor: 'test', source: 'test' });
    await applyMappings(db.pool, 'locations', [{ ehrSystem: '', ehrCode: 'OR-1', site: 'north', odooConnection: 'odoo-north', storeroomLocationId: 8, destinationLocationId: 9, pickingTypeId: 5 }], { actor: 'test', source: 'test' });
    await applyMappings(db.pool, 'preference-cards', [{ site: 'north', procedureSystem: 'CPT', procedureCode: '27447', lines: [{ system: LOINC, code: 'SUTURE', quantity: 4 }] }], { actor: 'test', source: 'test' });
    await applyMappings(db.pool, 'supplier-items', [{ vendorRef: 'V-ACME', sku: 'AC-778', odooProductId: 22 }], { actor: 'test', source: 'test' });

    const lookup = new PgMasterDataLookup(db.pool);
    let queries = 0;
    const counting = { query: (text: string, values?: unknown[]) => (queries++, db.pool.query(text, values)) };
    const { mapped, unmapped } = await new PgMasterDataLookup(counting as unknown as typeof db.pool).mapItems([
      { system: '', code: 'BlueTubes' },
      { system: LOINC, code: 'SUTURE' },
      { system: LOINC, code: 'ONLY-CODE' },
      { system: LOINC, code: 'NOPE' },
    ]);
    expect(queries).toBe(1);
    expect(mapped.get('|BlueTubes')).toEqual({ key: '|BlueTubes', odooProductId: 21, gtin: '09506000134352' });
    expect(mapped.get(`${LOINC}|SUTURE`)?.odooProductId).toBe(22);
    expect(unmapped.map((c) => c.code)).toEqual(['ONLY-CODE', 'NOPE']);
    expect(await lookup.mapLocation({ code: 'OR-1' })).toEqual({ site: 'north', odooConnection: 'odoo-north', storeroomLocationId: 8, destinationLocationId: 9, pickingTypeId: 5 });
    expect(await lookup.mapLocation({ code: 'OR-1', system: 'other' })).toBeUndefined();
    expect(await lookup.preferenceCard({ system: 'CPT', code: '27447' }, 'north')).toEqual([{ item: { system: LOINC, code: 'SUTURE' }, quantity: 4 }]);
    expect(await lookup.preferenceCard({ system: 'CPT', code: '27447' }, 'south')).toBeUndefined();
    expect([...(await lookup.supplierItems('V-ACME', [22, 23])).values()]).toEqual([{ odooProductId: 22, vendorRef: 'V-ACME', sku: 'AC-778' }]);
  });
});

const problems = async (kind: Parameters<typeof importCsv>[1], text: string): Promise<CsvProblem[]> => {
  try {
    await importCsv(db.pool, kind, text, { actor: 'test', fileName: 'test.csv' });
  } catch (error) {
    if (error instanceof CsvImportError) return error.problems;
    throw error;
  }
  throw new Error('expected the import to be refused');
};

describe('CSV import', () => {
  it('parses RFC 4180: quoted commas, doubled quotes, line breaks inside quotes, CRLF, a BOM', () => {
    const { records, problems: found } = parseCsv('\ufeffa,b,c\r\n"x, y","say ""hi""",3\r\n"multi\nline",,z\n');
    expect(found).toEqual([]);
    expect(records).toEqual([
      { line: 1, fields: ['a', 'b', 'c'] },
      { line: 2, fields: ['x, y', 'say "hi"', '3'] },
      { line: 3, fields: ['multi\nline', '', 'z'] },
    ]);
  });

  it('reports each problem with its line and column, and imports nothing from a file with one bad row', async () => {
    const file = [
      'ehr_system,ehr_code,odoo_product_id,gtin',
      'S,CSV-1,31,',
      'S,CSV-2,abc,',
      '"S","CSV-3",33,09506000134353',
      'S,"multi',
      'line code",34,',
      'S,CSV-1,35,',
      'S,CSV-6,36',
    ].join('\n');
    expect(await problems('items', file)).toEqual([
      { line: 3, column: 'odoo_product_id', message: '"abc" is not a record id (a positive whole number)' },
      { line: 4, column: 'gtin', message: '"09506000134353" is not a valid GTIN (8, 12, 13 or 14 digits with a correct check digit)' },
      { line: 8, message: '3 fields where the header has 4' },
      { line: 7, column: 'ehr_code', message: 'the same ehr_system + ehr_code as line 2' },
    ]);
    expect(await listMappings(db.pool, 'items', { match: { ehrSystem: 'S' } })).toEqual([]);
  });

  it('refuses unknown and missing columns at line 1, and a broken quote at its line', async () => {
    expect(await problems('locations', 'ehr_code,site,colour\nX,north,red\n')).toEqual([
      { line: 1, column: 'colour', message: expect.stringMatching(/^unknown column \(expected: ehr_system, ehr_code, site/) },
      { line: 1, column: 'odoo_connection', message: 'required column missing from the header' },
      { line: 1, column: 'storeroom_location_id', message: 'required column missing from the header' },
      { line: 1, column: 'destination_location_id', message: 'required column missing from the header' },
      { line: 1, column: 'picking_type_id', message: 'required column missing from the header' },
    ]);
    expect(await problems('supplier-items', 'vendor_ref,sku,odoo_product_id\nV,"A"B,3\nV,C"D,4\n')).toEqual([
      { line: 2, message: 'unexpected "B" after a closing quote (a quote inside a field must be doubled)' },
      { line: 3, message: 'a quote inside an unquoted field (quote the whole field and double the quote)' },
    ]);
  });

  it('imports a whole file in one transaction with one audit entry; preference cards group their lines', async () => {
    const result = await importCsv(db.pool, 'preference-cards', 'site,procedure_system,procedure_code,item_system,item_code,quantity\nnorth,CPT,29881,S,DRAPE,2\nnorth,CPT,29881,S,"BLADE, 4.5mm",1\nsouth,CPT,29881,S,DRAPE,3\n', { actor: 'cli:dana', fileName: 'cards.csv' });
    expect(result.counts).toMatchObject({ created: 2 });
    const lookup = new PgMasterDataLookup(db.pool);
    expect(await lookup.preferenceCard({ system: 'CPT', code: '29881' }, 'north')).toEqual([
      { item: { system: 'S', code: 'DRAPE' }, quantity: 2 },
      { item: { system: 'S', code: 'BLADE, 4.5mm' }, quantity: 1 },
    ]);
    const { rows } = await db.pool.query(`select actor, action, target_id, detail from carelane.audit_log where action = 'crosswalk.import'`);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ actor: 'cli:dana', target_id: 'cards.csv', detail: { kind: 'preference-cards' } });
    expect(rows[0].detail.changes).toHaveLength(2);
  });
});
