import { pino } from 'pino';
import { parseConfigText } from '../../src/config/index.ts';
import type { CarelaneConfig } from '../../src/config/index.ts';
import { Engine, HandlerRegistry, type DeliveryHandler } from '../../src/engine/index.ts';
import type { Database } from '../../src/store/database.ts';

export const silentLog = pino({ level: 'silent' });

export function testConfig(yaml = ''): CarelaneConfig {
  return parseConfigText(yaml, {});
}

export function startEngine(database: Database, config: CarelaneConfig, handlers: DeliveryHandler[], lanes?: string[]): Promise<Engine> {
  const registry = new HandlerRegistry();
  for (const handler of handlers) registry.register(handler);
  const engine = new Engine({ config, pool: database.pool, databaseUrl: database.url, registry, log: silentLog, ...(lanes ? { lanes } : {}) });
  return engine.start().then(() => engine);
}

export async function waitFor<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function countByStatus(database: Database): Promise<Record<string, number>> {
  const { rows } = await database.pool.query<{ status: string; n: number }>('select status, count(*)::int as n from carelane.deliveries group by status');
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}
