import type pg from 'pg';
import { matches, OdooDomainError, type DomainItem, type Row } from './domain.ts';
import type { FieldDef, ModelDef, SimVersion } from './models.ts';
import { orderpointComputed } from './orderpoint.ts';

/** An exception as Odoo raises it: `name` is the Python class path the three protocols report. */
export class OdooError extends Error {
  readonly odooName: string;
  constructor(odooName: string, message: string) {
    super(message);
    this.odooName = odooName;
  }
}
export const userError = (message: string) => new OdooError('odoo.exceptions.UserError', message);
export const validationError = (message: string) => new OdooError('odoo.exceptions.ValidationError', message);
export const accessError = (message: string) => new OdooError('odoo.exceptions.AccessError', message);
export const missingError = (message: string) => new OdooError('odoo.exceptions.MissingError', message);
export const valueError = (message: string) => new OdooError('builtins.ValueError', message);
export const typeError = (message: string) => new OdooError('builtins.TypeError', message);

export const odooNow = (): string => new Date().toISOString().slice(0, 19).replace('T', ' ');

/** Access of a simulated user: 'all', or the models it may read (everything else raises AccessError). */
export type Rights = 'all' | { read: readonly string[] };

/**
 * Records of one call, read and written inside the call's transaction. Odoo runs each RPC/JSON-2 call in its own
 * transaction (reference/odoo.md §1.4, §1.6); the simulator serialises calls with an advisory lock instead of
 * retrying on serialization failures as Odoo does.
 */
export class Env {
  readonly client: pg.PoolClient;
  readonly schema: string;
  readonly version: SimVersion;
  readonly models: Map<string, ModelDef>;
  private readonly cache = new Map<string, Map<number, Row>>();

  constructor(client: pg.PoolClient, schema: string, version: SimVersion, models: Map<string, ModelDef>) {
    this.client = client;
    this.schema = schema;
    this.version = version;
    this.models = models;
  }

  model(name: string): ModelDef {
    const def = this.models.get(name);
    // odoo/service/model.py execute_cr: unknown model → UserError "Object %s doesn't exist" [K wording].
    if (!def) throw userError(`Object ${name} doesn't exist`);
    return def;
  }

  async rows(model: string): Promise<Map<number, Row>> {
    let rows = this.cache.get(model);
    if (!rows) {
      const result = await this.client.query<{ id: string; vals: Record<string, unknown> }>(`select id, vals from ${this.schema}.records where model = $1 order by id`, [model]);
      rows = new Map(result.rows.map((r) => [Number(r.id), { ...r.vals, id: Number(r.id) } as Row]));
      this.cache.set(model, rows);
    }
    return rows;
  }

  async browse(model: string, ids: number[]): Promise<Row[]> {
    const rows = await this.rows(model);
    const missing = ids.filter((id) => !rows.has(id));
    // Odoo 16+: "Record does not exist or has been deleted." (MissingError) [K wording].
    if (missing.length > 0) throw missingError(`Record does not exist or has been deleted.\n(Record: ${model}(${missing.join(', ')}), User: 2)`);
    return ids.map((id) => rows.get(id)!);
  }

  /**
   * Rows by id for a read-only call: when the model is not loaded yet, fetch only these ids instead of the whole
   * model, so a client reading one record per call (the benchmark's naive baseline) is not charged for a full
   * table scan. The rows are not cached: a write path must keep using browse.
   */
  async browseForRead(model: string, ids: number[]): Promise<Row[]> {
    if (this.cache.has(model)) return this.browse(model, ids);
    const result = await this.client.query<{ id: string; vals: Record<string, unknown> }>(`select id, vals from ${this.schema}.records where model = $1 and id = any($2::bigint[])`, [model, ids]);
    const byId = new Map(result.rows.map((r) => [Number(r.id), { ...r.vals, id: Number(r.id) } as Row]));
    const missing = ids.filter((id) => !byId.has(id));
    if (missing.length > 0) throw missingError(`Record does not exist or has been deleted.\n(Record: ${model}(${missing.join(', ')}), User: 2)`);
    return ids.map((id) => byId.get(id)!);
  }

  async insert(model: string, vals: Record<string, unknown>): Promise<Row> {
    const now = odooNow();
    const full = { ...vals, create_date: now, write_date: now };
    const { rows } = await this.client.query<{ id: string }>(`insert into ${this.schema}.records (model, vals) values ($1, $2) returning id`, [model, JSON.stringify(full)]);
    const row = { ...full, id: Number(rows[0]!.id) } as Row;
    (await this.rows(model)).set(row.id, row);
    return row;
  }

  async update(model: string, row: Row, vals: Record<string, unknown>): Promise<void> {
    Object.assign(row, vals, { write_date: odooNow() });
    const { id, ...stored } = row;
    await this.client.query(`update ${this.schema}.records set vals = $2 where id = $1`, [id, JSON.stringify(stored)]);
  }

  async remove(model: string, row: Row): Promise<void> {
    await this.client.query(`delete from ${this.schema}.records where id = $1`, [row.id]);
    (await this.rows(model)).delete(row.id);
  }

  async search(model: string, domain: DomainItem[], options: { order?: string; offset?: number; limit?: number } = {}): Promise<Row[]> {
    const def = this.model(model);
    for (const item of domain) {
      if (!Array.isArray(item)) continue;
      const field = this.fieldOf(def, String(item[0]));
      // models.py: a non-stored field without a search method cannot be in a domain [K wording].
      if ('computed' in field && field.computed) throw valueError(`Non-stored field ${def.name}.${String(item[0])} cannot be searched.`);
    }
    const all = [...(await this.rows(model)).values()];
    const parents = def.parentField ? def : undefined;
    const context = {
      descendants: (field: string, ids: number[]): Set<number> => {
        const relation = (field === 'id' ? parents : this.models.get(def.fields[field]?.relation ?? ''))?.name;
        const target = relation ? this.models.get(relation) : undefined;
        const cached = relation ? this.cache.get(relation) : undefined;
        const result = new Set(ids);
        if (!target?.parentField || !cached) return result;
        // Grow the set until no child of a member is outside it (Odoo uses parent_path for the same answer).
        let grew = true;
        while (grew) {
          grew = false;
          for (const candidate of cached.values()) {
            const parent = candidate[target.parentField];
            if (typeof parent === 'number' && result.has(parent) && !result.has(candidate.id)) {
              result.add(candidate.id);
              grew = true;
            }
          }
        }
        return result;
      },
    };
    // child_of needs the related model's rows loaded before the synchronous evaluation.
    for (const item of domain) {
      if (Array.isArray(item) && item[1] === 'child_of') await this.rows(def.fields[String(item[0])]?.relation ?? model);
    }
    let found: Row[];
    try {
      found = all.filter((row) => (def.fields.active?.type === 'boolean' && row.active === false ? false : matches(row, domain, context)));
    } catch (error) {
      if (error instanceof OdooDomainError) throw valueError(error.message);
      throw error;
    }
    sortRows(found, options.order ?? 'id');
    const offset = options.offset ?? 0;
    return found.slice(offset, options.limit ? offset + options.limit : undefined);
  }

  fieldOf(def: ModelDef, name: string): FieldDef | { type: 'id' } {
    if (name === 'id' || name === 'display_name') return { type: 'id' };
    const field = def.fields[name];
    // models.py: "Invalid field %r on model %r" (ValueError) [K wording]: e.g. is_storable on a 17 server.
    if (!field) throw valueError(`Invalid field '${name}' on model '${def.name}'`);
    return field;
  }

  /** One row after another: the rows share one PostgreSQL client, which runs one query at a time. */
  async presentAll(model: string, rows: Row[], fields: string[] | undefined): Promise<Array<Record<string, unknown>>> {
    const out: Array<Record<string, unknown>> = [];
    for (const row of rows) out.push(await this.present(model, row, fields));
    return out;
  }

  /** Values as Odoo's read returns them: many2one [id, name] or false, one2many id lists, unset → false. */
  async present(model: string, row: Row, fields: string[] | undefined): Promise<Record<string, unknown>> {
    const def = this.model(model);
    const names = fields && fields.length > 0 ? fields : Object.keys(def.fields);
    const out: Record<string, unknown> = { id: row.id };
    const computed = names.some((name) => (def.fields[name] as FieldDef | undefined)?.computed) ? await computeFields(this, model, row) : {};
    for (const name of names) {
      if ((def.fields[name] as FieldDef | undefined)?.computed) {
        out[name] = computed[name] ?? false;
        continue;
      }
      const field = this.fieldOf(def, name);
      if (name === 'id') continue;
      if (name === 'display_name') {
        out[name] = displayName(def, row);
        continue;
      }
      if (field.type === 'many2one') {
        const id = row[name];
        if (typeof id !== 'number') out[name] = false;
        else {
          const target = this.models.get((field as FieldDef).relation!)!;
          const related = (await this.rows(target.name)).get(id);
          out[name] = [id, related ? displayName(target, related) : `${target.name},${id}`];
        }
      } else if (field.type === 'one2many') {
        const f = field as FieldDef;
        out[name] = [...(await this.rows(f.relation!)).values()].filter((r) => r[f.inverse!] === row.id).map((r) => r.id);
      } else {
        out[name] = row[name] ?? (field.type === 'float' || field.type === 'integer' ? 0 : false);
      }
    }
    return out;
  }

  /** Type and selection checks Odoo's ORM applies on create/write. */
  checkValues(def: ModelDef, vals: Record<string, unknown>): Record<string, unknown> {
    const clean: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(vals)) {
      const field = this.fieldOf(def, name) as FieldDef;
      // A compute without inverse: Odoo keeps the written value only until the next recompute.
      if (field.type === 'one2many' || field.computed) continue;
      if (field.type === 'selection' && value !== false && value !== null && !field.selection!.includes(String(value))) {
        // fields.py Selection.convert_to_cache: ValueError "Wrong value for %s: %r" [K wording].
        throw valueError(`Wrong value for ${def.name}.${name}: '${String(value)}'`);
      }
      if (field.type === 'json' && value !== false && value !== null && !isDistribution(value)) {
        // analytic_distribution must map account-id keys to numeric percentages (§2.11) [K wording].
        throw valueError(`Wrong value for ${def.name}.${name}: ${JSON.stringify(value)}`);
      }
      if ((field.type === 'float' || field.type === 'integer') && value !== false && typeof value !== 'number') {
        throw valueError(`Wrong value for ${def.name}.${name}: ${JSON.stringify(value)}`);
      }
      clean[name] = value === null ? false : Array.isArray(value) && field.type === 'many2one' ? value[0] : value;
    }
    return clean;
  }

  withDefaults(def: ModelDef, vals: Record<string, unknown>): Record<string, unknown> {
    const full = { ...vals };
    for (const [name, field] of Object.entries(def.fields)) if (full[name] === undefined && field.default !== undefined) full[name] = field.default;
    const missing = Object.entries(def.fields).filter(([name, field]) => field.required && (full[name] === undefined || full[name] === false || full[name] === ''));
    if (missing.length > 0) {
      // NOT NULL violations reach the client as ValidationError (service/model.py, reference/odoo.md §1.6).
      throw validationError(`The operation cannot be completed:\n- Create/update: a mandatory field is not set.\n- Delete: another model requires the record being deleted.\nModel: ${def.description} (${def.name}), Field: ${missing.map(([n]) => n).join(', ')}`);
    }
    return full;
  }
}

const isDistribution = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && Object.entries(value).every(([key, share]) => /^\d+(,\d+)*$/.test(key) && typeof share === 'number');

function displayName(def: ModelDef, row: Row): string {
  const value = row[def.nameField ?? 'name'] ?? row.name;
  return typeof value === 'string' && value ? value : `${def.name},${row.id}`;
}

function sortRows(rows: Row[], order: string): void {
  const keys = order.split(',').map((part) => {
    const [field, direction] = part.trim().split(/\s+/);
    return { field: field!, descending: direction?.toLowerCase() === 'desc' };
  });
  rows.sort((a, b) => {
    for (const { field, descending } of keys) {
      const x = a[field] ?? '';
      const y = b[field] ?? '';
      if (x === y) continue;
      const less = (x as string | number) < (y as string | number);
      return (less ? -1 : 1) * (descending ? -1 : 1);
    }
    return 0;
  });
}

/** Values of a model's non-stored computed fields for one record. */
async function computeFields(env: Env, model: string, row: Row): Promise<Record<string, unknown>> {
  return model === 'stock.warehouse.orderpoint' ? orderpointComputed(env, row) : {};
}
