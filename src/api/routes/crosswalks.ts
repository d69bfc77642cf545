import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type TSchema } from 'typebox';
import {
  applyMappings,
  CsvImportError,
  getMapping,
  importCsv,
  listMappings,
  listSyncRuns,
  mappingFailureSummary,
  mappingHistory,
  removeMapping,
  requestSync,
  syncPlanFrom,
  type CrosswalkKind,
  type MappingByKind,
} from '../../flows/master-data/index.ts';
import { actorOf } from '../auth.ts';
import { jsonify } from '../json.ts';
import type { ApiContext } from '../context.ts';
import { ErrorReply, IdParams } from '../schemas.ts';

// Crosswalks (docs/master-data.md): CRUD per kind, history, CSV import, the mapping-failure queue grouped by
// unmapped value, and the master-data sync on demand. Every change goes through applyMappings: versioned,
// audited, and replaying the messages parked for the values it maps.

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const RecordId = (description: string) => Type.Integer({ minimum: 1, maximum: 2_147_483_647, description });
const Gtin = Type.String({ pattern: '^(\\d{8}|\\d{12,14})$', description: 'GTIN-8/12/13/14' });
const System = Type.String({ default: '', maxLength: 500, description: "code system; '' when the EHR sends none (HL7 v2 CWE.3 empty)" });
const Code = Type.String({ minLength: 1, maxLength: 200 });

const BODIES: Record<CrosswalkKind, TSchema> = {
  items: Type.Object(
    {
      ehrSystem: System,
      ehrCode: Code,
      odooProductId: Type.Optional(Nullable(RecordId('product.product id; the sync fills it in from default_code or GTIN when absent'))),
      defaultCode: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 200 }))),
      gtin: Type.Optional(Nullable(Gtin)),
      uomId: Type.Optional(Nullable(RecordId('uom.uom id to move in, when not the product’s own'))),
    },
    { additionalProperties: false },
  ),
  'supplier-items': Type.Object(
    {
      vendorRef: Type.String({ minLength: 1, maxLength: 200, description: "the vendor's Odoo res.partner ref" }),
      sku: Type.String({ minLength: 1, maxLength: 200, description: "the vendor's item code" }),
      odooProductId: RecordId('product.product id'),
      gtin: Type.Optional(Nullable(Gtin)),
    },
    { additionalProperties: false },
  ),
  locations: Type.Object(
    {
      ehrSystem: System,
      ehrCode: Code,
      site: Type.String({ minLength: 1, maxLength: 100 }),
      odooConnection: Type.String({ minLength: 1, maxLength: 100, description: 'odoo.connections name of the site' }),
      storeroomLocationId: RecordId('stock.location the items come from'),
      destinationLocationId: RecordId('stock.location of the room or department'),
      pickingTypeId: RecordId('stock.picking.type of internal transfers'),
      analyticAccountId: Type.Optional(Nullable(RecordId('account.analytic.account (cost center)'))),
    },
    { additionalProperties: false },
  ),
  'preference-cards': Type.Object(
    {
      site: Type.String({ minLength: 1, maxLength: 100 }),
      procedureSystem: System,
      procedureCode: Code,
      lines: Type.Array(Type.Object({ system: System, code: Code, quantity: Type.Number({ exclusiveMinimum: 0 }) }, { additionalProperties: false }), { minItems: 1, maxItems: 500 }),
    },
    { additionalProperties: false },
  ),
};

const VersionFields = {
  id: Type.Integer({ description: 'id of this version' }),
  version: Type.Integer(),
  validFrom: Type.String({ format: 'date-time' }),
  validTo: Nullable(Type.String({ format: 'date-time' })),
  createdBy: Type.String(),
  endedBy: Nullable(Type.String()),
};

// typed loosely (TSchema): the four kinds share one set of routes; fastify still validates and documents it
const versioned = (kind: CrosswalkKind): TSchema => {
  const body = BODIES[kind] as TSchema & { properties: Record<string, TSchema> };
  // stored optional values come back as null
  const properties = Object.fromEntries(Object.entries(body.properties).map(([name, schema]) => [name, Type.Unknown({ description: (schema as { description?: string }).description ?? name })]));
  return Type.Object({ ...properties, ...VersionFields, ...(kind === 'supplier-items' ? { odooVendorId: Nullable(Type.Integer()) } : {}) });
};

const AutoReplay = Type.Object({ replayed: Type.Array(Type.Integer(), { description: 'mapping_failure exceptions replayed' }), waiting: Type.Array(Type.Integer(), { description: 'still waiting for another mapping' }) });
const Counts = Type.Object({ created: Type.Integer(), updated: Type.Integer(), unchanged: Type.Integer(), removed: Type.Integer() });
const CsvProblems = Type.Object({
  error: Type.String(),
  message: Type.String(),
  problems: Type.Array(Type.Object({ line: Type.Integer(), column: Type.Optional(Type.String()), message: Type.String() })),
});

/** Text columns a list can be filtered on, per kind (exact match). */
const FILTERS: Record<CrosswalkKind, string[]> = {
  items: ['ehrSystem', 'ehrCode', 'defaultCode', 'gtin'],
  'supplier-items': ['vendorRef', 'sku', 'gtin'],
  locations: ['ehrSystem', 'ehrCode', 'site', 'odooConnection'],
  'preference-cards': ['site', 'procedureSystem', 'procedureCode'],
};

/** A plugin (own scope, for its text/csv parser): `await api.register(crosswalkRoutes(context))`. */
export function crosswalkRoutes(context: ApiContext): FastifyPluginAsync {
  return async (scope: FastifyInstance) => {
    scope.addContentTypeParser('text/csv', { parseAs: 'string', bodyLimit: 50 * 1024 * 1024 }, (_request, body, done) => done(null, body));
    const api = scope.withTypeProvider<TypeBoxTypeProvider>();
    for (const kind of ['items', 'supplier-items', 'locations', 'preference-cards'] as const) kindRoutes(api, context, kind);

    api.get(
      '/api/v1/mapping-failures',
      {
        config: { permission: 'exceptions:read' },
        schema: {
          tags: ['crosswalks'],
          summary: 'Open mapping_failure exceptions grouped by unmapped value: how many wait, since when, example messages',
          querystring: Type.Object({ kind: Type.Optional(Type.Enum(['item', 'location', 'procedure', 'vendor_item'])), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200 })) }),
          response: {
            200: Type.Object({
              unmapped: Type.Array(
                Type.Object({
                  value: Type.Object({ kind: Type.String(), system: Type.String(), code: Type.String(), site: Type.Optional(Type.String()) }),
                  openExceptions: Type.Integer(),
                  oldestAt: Type.String({ format: 'date-time' }),
                  newestAt: Type.String({ format: 'date-time' }),
                  exampleMessageIds: Type.Array(Type.Integer()),
                }),
              ),
            }),
          },
        },
      },
      async (request) => ({ unmapped: jsonify(await mappingFailureSummary(context.pool, request.query)) }),
    );

    const SyncRun = Type.Object({
      id: Type.Integer(),
      connection: Type.String(),
      trigger: Type.String(),
      status: Type.Enum(['running', 'done', 'failed']),
      counts: Type.Record(Type.String(), Type.Integer()),
      missing: Type.Array(Type.Object({ kind: Type.String(), odooId: Type.Optional(Type.Integer()), ref: Type.Optional(Type.String()), usedBy: Type.Array(Type.String()) })),
      error: Nullable(Type.String()),
      startedAt: Type.String({ format: 'date-time' }),
      finishedAt: Nullable(Type.String({ format: 'date-time' })),
    });

    api.post(
      '/api/v1/master-data/sync',
      {
        config: { permission: 'mappings:write' },
        schema: {
          tags: ['crosswalks'],
          summary: 'Start a master-data sync from the owning Odoo now (runs on the bulk lane); an unfinished run is returned instead of a second one',
          body: Type.Optional(Type.Object({}, { additionalProperties: false })),
          response: { 202: Type.Object({ started: Type.Boolean(), run: SyncRun }), 409: ErrorReply },
        },
      },
      async (request, reply) => {
        const plan = syncPlanFrom(context.config);
        if (!plan) return reply.code(409).send({ error: 'no_odoo_connection', message: 'no Odoo connection is configured (odoo.connections) to sync master data from' });
        const { run, started } = await requestSync(context.pool, { connection: plan.connection, lane: plan.lane, trigger: actorOf(request) });
        return reply.code(202).send(jsonify({ started, run }));
      },
    );

    api.get(
      '/api/v1/master-data/sync-runs',
      {
        config: { permission: 'contracts:read' },
        schema: { tags: ['crosswalks'], summary: 'Recent master-data sync runs with their counts and missing references', response: { 200: Type.Object({ runs: Type.Array(SyncRun) }) } },
      },
      async () => ({ runs: jsonify(await listSyncRuns(context.pool, { limit: 50 })) }),
    );
  };
}

function kindRoutes(api: ReturnType<FastifyInstance['withTypeProvider']>, context: ApiContext, kind: CrosswalkKind): void {
  const base = `/api/v1/crosswalks/${kind}`;
  const Versioned = versioned(kind);
  const tags = ['crosswalks'];
  const typed = api.withTypeProvider<TypeBoxTypeProvider>();

  typed.get(
    base,
    {
      config: { permission: 'contracts:read' },
      schema: {
        tags,
        summary: `Current ${kind} mappings, newest first`,
        querystring: Type.Object({
          ...Object.fromEntries(FILTERS[kind].map((field) => [field, Type.Optional(Type.String())])),
          before: Type.Optional(Type.Integer({ minimum: 1, description: 'page: ids below this' })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
        }),
        response: { 200: Type.Object({ mappings: Type.Array(Versioned) }) },
      },
    },
    async (request) => {
      const query = request.query as Record<string, string | number | undefined>;
      const match = Object.fromEntries(FILTERS[kind].map((field) => [field, query[field] as string | undefined]));
      return { mappings: jsonify(await listMappings(context.pool, kind, { match, before: query.before as number | undefined, limit: query.limit as number | undefined })) };
    },
  );

  typed.post(
    base,
    {
      config: { permission: 'mappings:write' },
      schema: {
        tags,
        summary: `Create or change a ${kind} mapping (a new version; the previous one is kept); parked messages it completes replay`,
        body: BODIES[kind],
        response: { 200: Type.Object({ change: Type.String(), mapping: Versioned, autoReplay: AutoReplay }), 201: Type.Object({ change: Type.String(), mapping: Versioned, autoReplay: AutoReplay }), 400: ErrorReply },
      },
    },
    async (request, reply) => {
      const body = request.body as MappingByKind[typeof kind];
      if (kind === 'items') {
        const item = body as MappingByKind['items'];
        if (!item.odooProductId && !item.defaultCode && !item.gtin) return reply.code(400).send({ error: 'bad_request', message: 'name the product: odooProductId, defaultCode or gtin' });
      }
      const applied = await applyMappings(context.pool, kind, [body], { actor: actorOf(request), source: `API by ${actorOf(request)}` });
      const [entry] = applied.saved;
      return reply.code(entry!.change === 'created' ? 201 : 200).send(jsonify({ change: entry!.change, mapping: entry!.mapping, autoReplay: applied.autoReplay }));
    },
  );

  typed.get(
    `${base}/:id`,
    { config: { permission: 'contracts:read' }, schema: { tags, summary: `One version of a ${kind} mapping`, params: IdParams, response: { 200: Versioned, 404: ErrorReply } } },
    async (request, reply) => {
      const mapping = await getMapping(context.pool, kind, request.params.id);
      return mapping ? jsonify(mapping) : reply.code(404).send({ error: 'not_found', message: `no ${kind} mapping version ${request.params.id}` });
    },
  );

  typed.get(
    `${base}/:id/history`,
    { config: { permission: 'contracts:read' }, schema: { tags, summary: `Every version of the ${kind} mapping this version belongs to, oldest first`, params: IdParams, response: { 200: Type.Object({ versions: Type.Array(Versioned) }), 404: ErrorReply } } },
    async (request, reply) => {
      const versions = await mappingHistory(context.pool, kind, request.params.id);
      return versions.length > 0 ? { versions: jsonify(versions) } : reply.code(404).send({ error: 'not_found', message: `no ${kind} mapping version ${request.params.id}` });
    },
  );

  typed.delete(
    `${base}/:id`,
    { config: { permission: 'mappings:write' }, schema: { tags, summary: `End the current ${kind} mapping (its versions stay in the history)`, params: IdParams, response: { 200: Versioned, 404: ErrorReply } } },
    async (request, reply) => {
      const removed = await removeMapping(context.pool, kind, request.params.id, { actor: actorOf(request) });
      return removed ? jsonify(removed) : reply.code(404).send({ error: 'not_found', message: `no current ${kind} mapping with id ${request.params.id}` });
    },
  );

  typed.post(
    `${base}/import`,
    {
      config: { permission: 'mappings:write' },
      schema: {
        tags,
        summary: `Import a CSV file of ${kind} (Content-Type: text/csv; header row names the columns; all rows or none)`,
        querystring: Type.Object({ fileName: Type.Optional(Type.String({ maxLength: 200, description: 'name for the audit trail' })) }),
        response: { 200: Type.Object({ counts: Counts, autoReplay: AutoReplay }), 400: CsvProblems, 415: ErrorReply },
      },
    },
    async (request, reply) => {
      if (typeof request.body !== 'string') return reply.code(415).send({ error: 'unsupported_media_type', message: 'send the CSV file as the body with Content-Type: text/csv' });
      try {
        const applied = await importCsv(context.pool, kind, request.body, { actor: actorOf(request), fileName: request.query.fileName ?? `${kind}.csv` });
        return { counts: applied.counts, autoReplay: applied.autoReplay };
      } catch (error) {
        if (error instanceof CsvImportError) return reply.code(400).send({ error: 'csv_invalid', message: error.message, problems: error.problems });
        throw error;
      }
    },
  );
}
