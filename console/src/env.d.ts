// Vite bundles imported CSS into the build's own stylesheet.
declare module '*.css';
