import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Type } from 'typebox';
import { parseConfigText } from '../src/config/index.ts';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { compareSchemas, type JsonSchema } from '../src/contracts/compatibility.ts';
import { createToken, verifyAuditChain } from '../src/governance/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

const ADMIN = 'admin-token-for-contract-tests';
const json = (schema: unknown): JsonSchema => JSON.parse(JSON.stringify(schema)) as JsonSchema;

const DemandV1 = Type.Object({
  orderId: Type.String(),
  site: Type.String({ maxLength: 20 }),
  priority: Type.Enum(['routine', 'urgent', 'stat']),
  quantity: Type.Integer({ minimum: 1 }),
  note: Type.Optional(Type.String()),
});

describe('schema compatibility (semver levels)', () => {
  const level = (after: unknown) => compareSchemas(json(DemandV1), json(after)).level;

  it('rates an added optional field minor and an added required field major', () => {
    expect(level(Type.Object({ ...DemandV1.properties, lot: Type.Optional(Type.String()) }))).toBe('minor');
    expect(level(Type.Object({ ...DemandV1.properties, lot: Type.String() }))).toBe('major');
  });

  it('rates a removed or retyped field major', () => {
    const { quantity: _removed, ...rest } = DemandV1.properties;
    expect(level(Type.Object(rest))).toBe('major');
    const retyped = compareSchemas(json(DemandV1), json(Type.Object({ ...DemandV1.properties, quantity: Type.String() })));
    expect(retyped.level).toBe('major');
    expect(retyped.changes).toContainEqual({ path: 'quantity', level: 'major', what: 'type integer → string' });
  });

  it('rates optional→required and a narrowed enum major, a widened enum minor', () => {
    expect(level(Type.Object({ ...DemandV1.properties, note: Type.String() }))).toBe('major');
    expect(level(Type.Object({ ...DemandV1.properties, priority: Type.Enum(['routine', 'urgent']) }))).toBe('major');
    expect(level(Type.Object({ ...DemandV1.properties, priority: Type.Enum(['routine', 'urgent', 'stat', 'asap']) }))).toBe('minor');
  });

  it('rates tightened constraints major, loosened minor, descriptions patch, and identical schemas none', () => {
    expect(level(Type.Object({ ...DemandV1.properties, site: Type.String({ maxLength: 10 }) }))).toBe('major');
    expect(level(Type.Object({ ...DemandV1.properties, site: Type.String({ maxLength: 40 }) }))).toBe('minor');
    expect(level(Type.Object({ ...DemandV1.properties, orderId: Type.String({ description: 'the EHR order number' }) }))).toBe('patch');
    expect(level(DemandV1)).toBe('none');
  });

  it('looks into nested objects and array items', () => {
    const before = Type.Object({ lines: Type.Array(Type.Object({ gtin: Type.String(), qty: Type.Integer() })) });
    const after = Type.Object({ lines: Type.Array(Type.Object({ gtin: Type.String() })) });
    expect(compareSchemas(json(before), json(after)).changes).toEqual([{ path: 'lines[].qty', level: 'major', what: 'property removed' }]);
  });
});

describe('contract registry over the API', () => {
  let db: TestDatabase;
  let app: RunningCarelane;
  let integrator: string;
  const call = (path: string, body?: unknown, token = ADMIN) =>
    fetch(`${app.httpUrl}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const propose = (schema: unknown, token = integrator) => call('/api/v1/contracts/demand/versions', { kind: 'canonical', schema, reason: 'demand contract change' }, token);
  const versions = async () =>
    ((await (await call('/api/v1/contracts?name=demand')).json()) as { versions: Array<{ version: string; status: string }> }).versions.map((v) => `${v.version}:${v.status}`);

  beforeAll(async () => {
    db = await createTestDatabase(embeddedTarget(), 4);
    const config = parseConfigText(`server: { port: 0 }\nmllp: { enabled: false }\nlogging: { level: silent }\n`, { DATABASE_URL: db.url, CARELANE_ADMIN_TOKEN: ADMIN });
    app = await startCarelane({ config, origin: 'test' }, { log: pino({ level: 'silent' }) });
    integrator = await createToken(db.pool, 'integrator-1', 'integrator');
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
  });

  it('activates compatible versions at once and holds a breaking one until an admin approves it', async () => {
    const first = await propose(DemandV1);
    expect(first.status).toBe(201);
    expect(await first.json()).toMatchObject({ version: '1.0.0', status: 'active', level: 'initial' });

    const minor = await propose(Type.Object({ ...DemandV1.properties, lot: Type.Optional(Type.String()) }));
    expect(await minor.json()).toMatchObject({ version: '1.1.0', status: 'active', level: 'minor', changeRequestId: null });
    expect(await versions()).toEqual(['1.1.0:active', '1.0.0:retired']);
    expect((await propose(Type.Object({ ...DemandV1.properties, lot: Type.Optional(Type.String()) }))).status).toBe(409); // no change

    const { quantity: _removed, ...withoutQuantity } = DemandV1.properties;
    const breaking = await propose(Type.Object({ ...withoutQuantity, lot: Type.Optional(Type.String()) }));
    expect(breaking.status).toBe(202);
    const proposal = (await breaking.json()) as { version: string; status: string; changeRequestId: number };
    expect(proposal).toMatchObject({ version: '2.0.0', status: 'proposed' });
    expect(await versions()).toEqual(['2.0.0:proposed', '1.1.0:active', '1.0.0:retired']);
    // one breaking change at a time per contract
    expect((await propose(Type.Object({ orderId: Type.Integer() }))).status).toBe(409);

    // an integrator may propose but not approve
    expect((await call(`/api/v1/contracts/change-requests/${proposal.changeRequestId}/approve`, { note: 'looks fine' }, integrator)).status).toBe(403);
    const approved = await call(`/api/v1/contracts/change-requests/${proposal.changeRequestId}/approve`, { note: 'consumers migrate by Q3' });
    expect(approved.status).toBe(200);
    expect(await approved.json()).toMatchObject({ status: 'approved', decidedBy: 'token:admin', decisionNote: 'consumers migrate by Q3' });
    // both majors are active: 1.x consumers keep working while they move to 2.x
    expect(await versions()).toEqual(['2.0.0:active', '1.1.0:active', '1.0.0:retired']);
    expect((await call(`/api/v1/contracts/change-requests/${proposal.changeRequestId}/reject`, { note: 'too late' })).status).toBe(409);

    // a compatible change to the old major, measured against it
    const patch = await call('/api/v1/contracts/demand/versions', { kind: 'canonical', baseVersion: '1.1.0', reason: 'document', schema: Type.Object({ ...DemandV1.properties, lot: Type.Optional(Type.String({ description: 'GS1 AI 10' })) }) }, integrator);
    expect(await patch.json()).toMatchObject({ version: '1.1.1', level: 'patch', status: 'active' });
    expect(await versions()).toEqual(['2.0.0:active', '1.1.1:active', '1.1.0:retired', '1.0.0:retired']);

    const { rows } = await db.pool.query(`select actor, action, target_id from carelane.audit_log where action like 'contract.%' order by id`);
    expect(rows.map((r) => `${r.actor} ${r.action} ${r.target_id}`)).toEqual([
      'token:integrator-1 contract.activate demand@1.0.0',
      'token:integrator-1 contract.activate demand@1.1.0',
      `token:integrator-1 contract.propose ${proposal.changeRequestId}`,
      `token:admin contract.approve ${proposal.changeRequestId}`,
      'token:integrator-1 contract.activate demand@1.1.1',
    ]);
    expect((await verifyAuditChain(db.pool)).ok).toBe(true);
  });

  it('four eyes: an admin cannot approve their own breaking change, nor with a token they issued; the refusal is audited', async () => {
    expect((await call('/api/v1/contracts/partner.beta.855/versions', { kind: 'partner', schema: Type.Object({ po: Type.String() }), reason: 'initial' })).status).toBe(201);
    const breaking = await call('/api/v1/contracts/partner.beta.855/versions', { kind: 'partner', schema: Type.Object({ po: Type.Integer() }), reason: 'po as number' });
    expect(breaking.status).toBe(202);
    const { changeRequestId } = (await breaking.json()) as { changeRequestId: number };
    const approve = (token: string) => call(`/api/v1/contracts/change-requests/${changeRequestId}/approve`, { note: 'ship it' }, token);

    const own = await approve(ADMIN);
    expect(own.status).toBe(403);
    expect(await own.json()).toMatchObject({ error: 'four_eyes', message: expect.stringContaining('token:admin proposed it') });

    // a second admin token minted by the proposer is still the proposer
    const minted = await call('/api/v1/tokens', { name: 'admin-alias', role: 'admin' });
    expect(minted.status).toBe(201);
    const alias = ((await minted.json()) as { token: string }).token;
    const viaAlias = await approve(alias);
    expect(viaAlias.status).toBe(403);
    expect(await viaAlias.json()).toMatchObject({ error: 'four_eyes', message: expect.stringContaining('issued by the proposer') });

    const pending = (await (await call('/api/v1/contracts/change-requests?status=pending')).json()) as { changeRequests: Array<{ id: number }> };
    expect(pending.changeRequests.map((r) => r.id)).toEqual([changeRequestId]);
    expect((await (await call('/api/v1/contracts?name=partner.beta.855')).json()) as unknown).toMatchObject({ versions: [{ version: '2.0.0', status: 'proposed' }, { version: '1.0.0', status: 'active' }] });

    // another admin (issued out of band, not by the proposer) may approve
    const secondAdmin = await createToken(db.pool, 'admin-2', 'admin');
    const approved = await approve(secondAdmin);
    expect(approved.status).toBe(200);
    expect(await approved.json()).toMatchObject({ status: 'approved', proposedBy: 'token:admin', decidedBy: 'token:admin-2' });

    const { rows } = await db.pool.query(`select actor, action, detail from carelane.audit_log where target_type = 'contract_change_request' and target_id = $1 order by id`, [String(changeRequestId)]);
    expect(rows.map((r) => `${r.actor} ${r.action}`)).toEqual(['token:admin contract.propose', 'token:admin contract.approve_refused', 'token:admin-alias contract.approve_refused', 'token:admin-2 contract.approve']);
    expect(rows[2].detail).toMatchObject({ proposedBy: 'token:admin', refusal: expect.stringContaining('issued by the proposer') });
    expect((await verifyAuditChain(db.pool)).ok).toBe(true);
  });

  it('lets the proposer withdraw (reject) their own breaking change', async () => {
    await call('/api/v1/contracts/partner.gamma.856/versions', { kind: 'partner', schema: Type.Object({ asn: Type.String() }), reason: 'initial' });
    const breaking = (await (await call('/api/v1/contracts/partner.gamma.856/versions', { kind: 'partner', schema: Type.Object({ asn: Type.Integer() }), reason: 'asn as number' })).json()) as { changeRequestId: number };
    const withdrawn = await call(`/api/v1/contracts/change-requests/${breaking.changeRequestId}/reject`, { note: 'proposed by mistake' });
    expect(withdrawn.status).toBe(200);
    expect(await withdrawn.json()).toMatchObject({ status: 'rejected', proposedBy: 'token:admin', decidedBy: 'token:admin' });
  });

  it('retires a rejected breaking version unused', async () => {
    const proposed = (await (await call('/api/v1/contracts/partner.acme.850/versions', { kind: 'partner', schema: Type.Object({ po: Type.String() }), reason: 'initial' }, integrator)).json()) as { version: string };
    expect(proposed.version).toBe('1.0.0');
    const breaking = (await (await call('/api/v1/contracts/partner.acme.850/versions', { kind: 'partner', schema: Type.Object({ po: Type.Integer() }), reason: 'po as number' }, integrator)).json()) as { changeRequestId: number };
    const rejected = await call(`/api/v1/contracts/change-requests/${breaking.changeRequestId}/reject`, { note: 'the partner sends strings' });
    expect(await rejected.json()).toMatchObject({ status: 'rejected' });
    const list = (await (await call('/api/v1/contracts?name=partner.acme.850')).json()) as { versions: Array<{ version: string; status: string }> };
    expect(list.versions.map((v) => `${v.version}:${v.status}`)).toEqual(['2.0.0:retired', '1.0.0:active']);
    const pending = (await (await call('/api/v1/contracts/change-requests?status=pending')).json()) as { changeRequests: unknown[] };
    expect(pending.changeRequests).toEqual([]);
  });
});
