import { loadConfig, type LoadedConfig } from '../config/index.ts';
import { openDatabase } from '../app.ts';
import { createLogger } from '../observability/logger.ts';
import type { Database } from '../store/database.ts';

/**
 * Runs a CLI command against Carelane's database: the configured one, or the embedded one — borrowed from a
 * running `carelane start`, or started for the command and stopped after it.
 */
export async function withDatabase<T>(configPath: string | undefined, work: (database: Database, loaded: LoadedConfig) => Promise<T>): Promise<T> {
  const loaded = loadConfig(configPath, process.env);
  const { database, embedded } = await openDatabase(loaded, createLogger('warn'));
  try {
    return await work(database, loaded);
  } finally {
    await database.close();
    await embedded?.stop();
  }
}

export function printTable(rows: Array<Record<string, unknown>>, columns: string[]): void {
  if (rows.length === 0) {
    console.log('(none)');
    return;
  }
  const text = (value: unknown) => (value instanceof Date ? value.toISOString() : value === null || value === undefined ? '' : String(value));
  const widths = columns.map((c) => Math.min(60, Math.max(c.length, ...rows.map((r) => text(r[c]).length))));
  const line = (cells: string[]) => cells.map((cell, i) => cell.slice(0, widths[i]).padEnd(widths[i]!)).join('  ');
  console.log(line(columns));
  for (const row of rows) console.log(line(columns.map((c) => text(row[c]))));
}
