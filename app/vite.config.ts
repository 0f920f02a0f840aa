// The browser app: `npm run app` serves it, `npm run build:app` writes a static folder (dist/app)
// that any static host can serve. The world CLIP and OpenAI's CLIP vocabulary are served beside the
// page (world-clip/, clip/), copied from the repository.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const root = (p: string) => fileURLToPath(new URL(`../${p}`, import.meta.url));
const ASSETS: Record<string, string> = {
  'world-clip/model.safetensors': 'weights/world-clip/model.safetensors',
  'world-clip/config.json': 'weights/world-clip/config.json',
  'world-clip/vocab.json': 'weights/world-clip/vocab.json',
  'world-clip/merges.txt': 'weights/world-clip/merges.txt',
  'clip/bpe_simple_vocab_16e6.txt.gz': 'assets/clip/bpe_simple_vocab_16e6.txt.gz',
};

function bundledAssets(): Plugin {
  return {
    name: 'seedmask-app-assets',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const path = req.url?.split('?')[0]?.replace(/^\//, '') ?? '';
        if (!(path in ASSETS)) return next();
        res.setHeader('Content-Type', 'application/octet-stream');
        res.end(readFileSync(root(ASSETS[path]!)));
      });
    },
    generateBundle() {
      for (const [fileName, from] of Object.entries(ASSETS)) this.emitFile({ type: 'asset', fileName, source: readFileSync(root(from)) });
    },
  };
}

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  publicDir: false,
  plugins: [bundledAssets()],
  server: { fs: { allow: ['..'] } },
  worker: { format: 'es' },
  build: { outDir: '../dist/app', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 2048 },
});
