import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { CONSOLE_DIST } from '../../src/api/routes/console.ts';

const CONSOLE = path.resolve(import.meta.dirname, '../../console');

/**
 * Builds the console (scripts/build-console.mjs) unless console/dist is newer than every console source: a
 * browser test must drive the console as it is in this checkout, not a bundle left by an earlier `npm install`.
 */
export function ensureConsoleBuilt(): void {
  const index = path.join(CONSOLE_DIST, 'index.html');
  if (existsSync(index) && statSync(index).mtimeMs >= newestSourceMtime()) return;
  execFileSync(process.execPath, ['scripts/build-console.mjs'], { stdio: 'inherit', cwd: path.dirname(CONSOLE) });
}

function newestSourceMtime(): number {
  const sources = [
    path.join(CONSOLE, 'index.html'),
    path.join(CONSOLE, 'vite.config.ts'),
    ...readdirSync(path.join(CONSOLE, 'src'), { recursive: true, encoding: 'utf8' }).map((file) => path.join(CONSOLE, 'src', file)),
  ];
  return Math.max(...sources.map((file) => statSync(file).mtimeMs));
}
