import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Type } from 'typebox';
import { parseConfigText } from '../src/config/index.ts';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { sendMllp } from '../src/connectors/hl7v2/index.ts';
import { OdooClient, ProductGateway } from '../src/connectors/odoo/index.ts';
import { business, canonicalContract, DemandSignalSchema, phi, seedCanonicalContracts } from '../src/contracts/canonical/index.ts';
import { contractValidators } from '../src/contracts/enforcement.ts';
import { decideChangeRequest, proposeContractVersion } from '../src/contracts/registry.ts';
import { resolveException } from '../src/engine/exceptions.ts';
import { applyMappings } from '../src/flows/master-data/mappings.ts';
import { startOdooSimulator, type OdooSimulator } from '../simulators/odoo/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { waitFor } from './support/engine-harness.ts';

// The canonical demand signal is checked against the active versions of the `demand-signal` contract where it is
// built (src/flows/demand/read-demand.ts), before anything is kept or sent to Odoo. Here the registry holds a
// stricter demand-signal 1.0.0 than the one Carelane ships (correlationId required, patientToken at most 8
// characters), so the SIU the HL7 v2 mapper reads misfits; demand runs in direct mode, where the reservation would
// be made inside the same step, so "nothing in Odoo" is the strongest check of "before any Odoo effect".

const MRN = '424242';
const siu = (id: string, start: string): string =>
  [
    `MSH|^~\\&|SCHED|NORTH|CARELANE|NET|20261124080000||SIU^S12^SIU_S12|M-${id}|P|2.5.1`,
    `SCH|${id}|F-${id}||||||^Knee arthroscopy|60|MIN|^^60^${start}^${start}`,
    `PID|1||${MRN}^^^HOSP^MR||ROE^RICHARD||19600101|M`,
    'RGS|1',
    `AIS|1||29881^Arthroscopy, knee^CPT|${start}|0|MIN|60|MIN`,
    'AIL|1||OR-3^^^NORTH',
  ].join('\r');

const StrictDemandSignal = Type.Object(
  { ...DemandSignalSchema.properties, correlationId: Type.String(business()), patientToken: Type.Optional(Type.String(phi({ maxLength: 8 }))) },
  business({ title: 'DemandSignal' }),
);

let db: TestDatabase;
let odoo: OdooSimulator;
let app: RunningCarelane;

const demandRow = async (id: string) =>
  (await app.database.pool.query<{ status: string; patient_token: string | null }>('select status, patient_token from carelane.demands where demand_key = $1', [`SCHED^NORTH|F-${id}`])).rows[0];
const pickingsOf = async (id: string) => (await odoo.records('stock.picking', ['origin', 'state'])).filter((p) => String(p.origin).includes(`F-${id}`));
const openContractViolation = () =>
  waitFor(
    async () =>
      (
        await app.database.pool.query<{ id: number; reason: string; detail: Record<string, unknown>; delivery_id: number }>(
          `select id::int as id, reason, detail, delivery_id::int as delivery_id from carelane.exceptions where status = 'open' and type = 'contract_violation' order by id`,
        )
      ).rows[0],
    15_000,
    'an open contract_violation',
  );

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 6);
  // before start-up: the app's own seeding then leaves this registered 1.0.0 alone (it reports the conflict)
  const seeded = await seedCanonicalContracts(db.pool, [canonicalContract('demand-signal', '1.0.0', StrictDemandSignal)]);
  expect(seeded.activated).toEqual(['demand-signal@1.0.0']);
  odoo = await startOdooSimulator({ version: 17, databaseUrl: db.url, schema: 'odoo_demand_contract', reset: true });
  const client = await OdooClient.connect({ url: odoo.url, database: odoo.database, login: 'admin', apiKey: 'sim-admin-api-key', transport: 'jsonrpc' });
  const made = await new ProductGateway(client).ensure([{ key: 'dc:clip', defaultCode: 'CLIP', name: 'Ligating clip' }]);
  const clip = made.get('dc:clip')!.id;
  await odoo.seedQuant({ productId: clip, locationId: odoo.seeded.stockLocationId, quantity: 50 });

  const config = parseConfigText(
    `
server: { port: 0 }
mllp: { port: 0 }
engine: { pollIntervalMs: 50 }
odoo:
  connections:
    odoo-main: { url: "${odoo.url}", database: ${odoo.database}, login: admin, apiKey: "\${env:ODOO_KEY}", transport: jsonrpc }
governance:
  tokenization: { keys: [{ id: k1, secret: "\${env:PTK}" }], activeKeyId: k1 }
flows:
  demand: { mode: direct }
routes:
  - { source: mllp, type: "SIU^*", lane: critical, flow: demand }
`,
    { DATABASE_URL: db.url, CARELANE_ADMIN_TOKEN: 'demand-contract-admin-token', ODOO_KEY: 'sim-admin-api-key', PTK: 'tokenization-secret-for-demand-contract-tests' },
  );
  app = await startCarelane({ config, origin: 'test' }, { log: pino({ level: 'silent' }) });
  const actor = { actor: 'test', source: 'test setup' };
  await applyMappings(app.database.pool, 'locations', [{ ehrSystem: 'facility:NORTH', ehrCode: 'OR-3', site: 'north', odooConnection: 'odoo-main', storeroomLocationId: odoo.seeded.stockLocationId, destinationLocationId: odoo.seeded.wardLocationId, pickingTypeId: odoo.seeded.internalPickingTypeId }], actor);
  await applyMappings(app.database.pool, 'items', [{ ehrSystem: 'local', ehrCode: 'CLIP', odooProductId: clip }], actor);
  await applyMappings(app.database.pool, 'preference-cards', [{ site: 'north', procedureSystem: 'CPT', procedureCode: '29881', lines: [{ system: 'local', code: 'CLIP', quantity: 2 }] }], actor);
}, 60_000);

afterAll(async () => {
  await app?.stop();
  await odoo?.close();
  await db?.drop();
});

describe('the canonical demand signal against its contract', () => {
  let first: { id: number; reason: string; detail: Record<string, unknown>; delivery_id: number };

  it('parks a signal that fits no active version as contract_violation naming contract, version and paths, with nothing kept or sent to Odoo', async () => {
    await sendMllp('127.0.0.1', app.mllpPort!, [siu('C-1', '20261210080000')]);
    first = await openContractViolation();
    expect(first.detail).toMatchObject({ code: 'contract_violation', contract: 'demand-signal', activeVersions: ['1.0.0'] });
    const errors = first.detail.errors as Array<{ version: string; path: string; message: string }>;
    expect(errors.map((e) => `${e.version} ${e.path}`).sort()).toEqual(['1.0.0 $.correlationId', '1.0.0 $.patientToken']);
    expect(first.reason).toContain('demand signal 1 of 1 read from SIU^S12 fits no active version of contract "demand-signal" (1.0.0: ');
    expect(first.reason).toContain('$.correlationId is required; $.patientToken must not have more than 8 characters');
    // paths and rules only: neither the patient's identifiers nor the source's values
    for (const text of [first.reason, JSON.stringify(first.detail)]) {
      expect(text).not.toContain(MRN);
      expect(text).not.toContain('ROE');
      expect(text).not.toContain('29881');
    }

    // no Odoo effect, and nothing of the message kept: no demand row, no recorded patient token
    expect(await pickingsOf('C-1')).toEqual([]);
    expect(await demandRow('C-1')).toBeUndefined();
    expect((await app.database.pool.query('select count(*)::int as n from carelane.patient_tokens')).rows[0].n).toBe(0);
    expect((await app.database.pool.query('select status from carelane.deliveries where id = $1', [first.delivery_id])).rows[0]).toEqual({ status: 'exception' });
  });

  it('a replay still parks while the accepting version waits for approval, and reserves once it is approved; each version compiled once', async () => {
    const proposal = await proposeContractVersion(app.database.pool, {
      name: 'demand-signal',
      kind: 'canonical',
      schema: JSON.parse(JSON.stringify(DemandSignalSchema)),
      reason: 'the EHR mappings set no correlationId and tokens are longer',
      actor: 'oidc:alice',
    });
    expect(proposal).toMatchObject({ version: '2.0.0', status: 'proposed', level: 'major' });
    await resolveException(app.database.pool, first.id, { action: 'replay', actor: 'oidc:operator', note: 'v2 proposed' });
    const second = await openContractViolation();
    expect(second.id).not.toBe(first.id);
    expect(second.detail).toMatchObject({ activeVersions: ['1.0.0'] });
    expect(await pickingsOf('C-1')).toEqual([]);

    await decideChangeRequest(app.database.pool, proposal.changeRequestId!, { approve: true, note: 'mappings checked', actor: 'oidc:bob' });
    const compiled = contractValidators.compilations;
    await resolveException(app.database.pool, second.id, { action: 'replay', actor: 'oidc:operator', note: 'v2 approved' });
    await waitFor(async () => (await demandRow('C-1'))?.status === 'reserved', 15_000, 'the replayed reservation');
    expect(await pickingsOf('C-1')).toHaveLength(1);

    // a new demand of the same shape flows at once, checked with the validators already compiled
    await sendMllp('127.0.0.1', app.mllpPort!, [siu('C-2', '20261211080000')]);
    await waitFor(async () => (await demandRow('C-2'))?.status === 'reserved', 15_000, 'the second reservation');
    expect(await pickingsOf('C-2')).toHaveLength(1);
    expect(contractValidators.compilations - compiled).toBe(1);

    // the token the refusals did not carry
    const token = (await demandRow('C-1'))!.patient_token!;
    expect(token.length).toBeGreaterThan(8);
    expect(first.reason + JSON.stringify(first.detail)).not.toContain(token);
  });
});
