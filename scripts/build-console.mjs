// Builds the web console (console/ → console/dist) with Vite. Runs on `npm install` / `npm ci` (the prepare
// script) so `npm install && npm start` serves it, and on `npm run build:console`. Plain JavaScript: it may run
// before the project's own Node 24 is in place. A production install without dev dependencies has no Vite:
// it says so and goes on (build the console where dev dependencies are installed, e.g. in the image build).
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
let vite;
try {
  vite = await import('vite');
} catch {
  console.log('console: Vite is not installed (dev dependencies omitted); the console is not built. Run npm run build:console where it is.');
  process.exit(0);
}
await vite.build({ configFile: `${root}console/vite.config.ts`, logLevel: 'warn' });
console.log('console: built into console/dist');
