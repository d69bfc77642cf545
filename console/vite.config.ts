import { defineConfig } from 'vite';

// The console is a static bundle served by the engine at / (src/api/routes/console.ts). Everything it needs is
// in the bundle: no CDN, no web fonts, no external requests. JSX is compiled by Vite's own transformer (oxc),
// so no React plugin is needed (it would only add fast refresh in development).
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    // one bundle: the console is small and is served from the same origin as the API
    chunkSizeWarningLimit: 1024,
  },
  server: {
    // `npm run console:dev`: the API of a running Carelane (npm start) behind the dev server
    // (and the sign-in relay, docs/console.md "Signing in")
    proxy: { '/api': 'http://127.0.0.1:8080', '/console/oidc': 'http://127.0.0.1:8080' },
  },
});
