import { readFileSync } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { CROSSWALK_KINDS, CsvImportError, importCsv, isCrosswalkKind } from '../flows/master-data/index.ts';
import { withDatabase } from './database.ts';

/** `carelane crosswalks import <kind> <file.csv>` (docs/master-data.md): all rows or none, problems with line and column. */
export function crosswalkCommands(program: Command, configPath: () => string | undefined, actor: () => string): void {
  const crosswalks = program.command('crosswalks').description('crosswalks: EHR codes ↔ Odoo products, supplier items, locations, preference cards');
  crosswalks
    .command('import <kind> <file>')
    .description(`import a CSV file (header row names the columns); kind: ${CROSSWALK_KINDS.join(' | ')}`)
    .action(async (kind: string, file: string) => {
      if (!isCrosswalkKind(kind)) throw new InvalidArgumentError(`kind must be one of ${CROSSWALK_KINDS.join(', ')}`);
      const text = readFileSync(file, 'utf8');
      await withDatabase(configPath(), async (database) => {
        try {
          const { counts, autoReplay } = await importCsv(database.pool, kind, text, { actor: actor(), fileName: path.basename(file) });
          console.log(`${kind}: ${counts.created} created, ${counts.updated} updated, ${counts.unchanged} unchanged; ${autoReplay.replayed.length} parked message(s) replayed`);
        } catch (error) {
          if (!(error instanceof CsvImportError)) throw error;
          for (const problem of error.problems) console.error(`${file}:${problem.line}${problem.column ? ` (${problem.column})` : ''}: ${problem.message}`);
          // thrown, not process.exitCode: the shared error path exits 1 (an exit code set here did not survive)
          throw new Error(`nothing imported from ${file}: ${error.problems.length} problem(s)`);
        }
      });
    });
}
