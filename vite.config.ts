import { defineConfig } from 'vite';

// The browser harness: `vite build` bundles harness/ with every shader inlined (src/gpu/browser.ts).
export default defineConfig({
  root: 'harness',
  publicDir: false,
  server: { fs: { allow: ['..'] } },
  build: { outDir: '../dist/harness', emptyOutDir: true, target: 'es2022' },
});
