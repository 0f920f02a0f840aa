import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const page = (file: string) => fileURLToPath(new URL(`./harness/${file}`, import.meta.url));

// The browser harness: `vite build` bundles harness/ with every shader inlined (src/browser.ts):
// the smoke page (index.html), the benchmark page (bench.html), the decoding page (decode.html), the world accuracy page (accuracy.html) and the soak page (soak.html). harness/lib/build.ts builds a
// chosen subset of them into a given folder.
export default defineConfig({
  root: 'harness',
  publicDir: false,
  server: { fs: { allow: ['..'] } },
  build: {
    outDir: '../dist/harness',
    emptyOutDir: true,
    target: 'es2022',
    // tfjs alone is over 500 kB; this is a local benchmark page, not something downloaded.
    chunkSizeWarningLimit: 4096,
    rollupOptions: { input: { smoke: page('index.html'), bench: page('bench.html'), decode: page('decode.html'), accuracy: page('accuracy.html'), soak: page('soak.html') } },
  },
});
