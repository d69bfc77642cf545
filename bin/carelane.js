#!/usr/bin/env node
// Thin launcher: the CLI is TypeScript run by Node's type stripping (Node >= 22.18 / 24).
// `npx carelane` puts node_modules/.bin first on PATH, so `node` here is the node@24 dev dependency.
import('../src/cli/main.ts').catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
