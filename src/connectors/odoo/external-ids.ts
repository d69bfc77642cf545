import { createHash } from 'node:crypto';
import type { OdooClient } from './client.ts';
import { many2oneId } from './types.ts';

/** Module of every external id Carelane creates in ir.model.data, shown in Odoo as `carelane.<name>`. */
export const CARELANE_MODULE = 'carelane';

/**
 * ir.model.data names are identifiers (letters, digits, `_`; a dot would split module from name). The key is
 * slugged for people reading Odoo and suffixed with a hash of the exact key, so two keys that slug alike
 * ('PO-1', 'po_1') never share an external id.
 */
export function externalIdName(idempotencyKey: string): string {
  const slug = idempotencyKey.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 60);
  const digest = createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 12);
  return `${slug || 'key'}_${digest}`;
}

/** One round trip: which keys already have a record of `model` in Odoo. */
export async function findByExternalIds(client: OdooClient, model: string, keys: string[]): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  if (keys.length === 0) return found;
  const byName = new Map(keys.map((key) => [externalIdName(key), key]));
  const rows = await client.searchRead(
    'ir.model.data',
    [
      ['module', '=', CARELANE_MODULE],
      ['model', '=', model],
      ['name', 'in', [...byName.keys()]],
    ],
    { fields: ['name', 'res_id'] },
  );
  for (const row of rows) {
    const key = byName.get(String(row.name));
    const id = many2oneId(row.res_id);
    if (key !== undefined && id !== undefined) found.set(key, id);
  }
  return found;
}

export interface IdempotentItem {
  key: string;
  values: Record<string, unknown>;
}

export interface IdempotentCreateOptions {
  /**
   * Finds records created by an earlier attempt whose external id was never written: the create committed but
   * its answer was lost (timeout after commit), so the ir.model.data create never ran. Keyed by idempotency key.
   */
  findUnbound?: (keys: string[]) => Promise<Map<string, number>>;
  context?: Record<string, unknown>;
}

export interface IdempotentResult {
  id: number;
  created: boolean;
}

/**
 * Creates the records that do not exist yet, each bound to `carelane.<name(key)>` in ir.model.data (DESIGN.md
 * principle 2). Round trips: 1 lookup, [1 reference lookup], 1 create of all missing records (list of values),
 * 1 create of their external ids. Odoo runs each call in its own transaction (reference/odoo.md §1.4), so the
 * record and its external id are two commits; `findUnbound` closes the gap between them.
 * Creating ir.model.data rows needs the Settings (base.group_system) right in standard Odoo [K].
 */
export async function createIdempotent(client: OdooClient, model: string, items: IdempotentItem[], options: IdempotentCreateOptions = {}): Promise<Map<string, IdempotentResult>> {
  const results = new Map<string, IdempotentResult>();
  const keys = [...new Set(items.map((item) => item.key))];
  for (const [key, id] of await findByExternalIds(client, model, keys)) results.set(key, { id, created: false });
  let missing = keys.filter((key) => !results.has(key));
  const toBind: Array<[string, number]> = [];
  if (missing.length > 0 && options.findUnbound) {
    for (const [key, id] of await options.findUnbound(missing)) {
      results.set(key, { id, created: false });
      toBind.push([key, id]);
    }
    missing = missing.filter((key) => !results.has(key));
  }
  if (missing.length > 0) {
    const byKey = new Map(items.map((item) => [item.key, item.values]));
    const ids = await client.create(model, missing.map((key) => byKey.get(key)!), options.context ? { context: options.context } : {});
    missing.forEach((key, index) => {
      const id = ids[index]!;
      results.set(key, { id, created: true });
      toBind.push([key, id]);
    });
  }
  if (toBind.length > 0) {
    await client.create(
      'ir.model.data',
      // noupdate: Odoo's module updates must never touch records an integration owns.
      toBind.map(([key, id]) => ({ module: CARELANE_MODULE, name: externalIdName(key), model, res_id: id, noupdate: true })),
    );
  }
  return results;
}
