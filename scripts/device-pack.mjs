#!/usr/bin/env node
// `npm run pack:device`: everything bench/device.bench.ts needs on a machine that has a GPU but no
// Node.js and no network, in the ignored folder .device/ (scripts/device-run.sh unpacks and runs it):
//
//   node.xz            this Node binary (process.execPath), xz-compressed. Debian's node links only
//                      libc, libm, libstdc++ and libgcc_s, which any machine with PyTorch has.
//   dawn.node.xz       the `webgpu` package's Dawn addon for linux-x64
//   webgpu/            that package's index.js and package.json: kept out of the bundle because
//                      index.js finds dawn.node by a path relative to itself
//                      (dist/<platform>-<arch>/dawn.node), so device-run.sh rebuilds that layout
//   bench-device.mjs   bench/device.bench.ts bundled by esbuild with every other JS dependency, the
//                      WGSL shaders registered in memory (src/generated/shaders.ts), so it reads no
//                      shaders/ folder and no node_modules
//   manifest.json      what went in (sources, sizes), and how to run it
//
// and the Vulkan loader for machines that lack one: the libvulkan1 .deb in the ignored folder .gl/
// (`apt-get download`, for amd64; device-run.sh unpacks it when `ldconfig -p` has no libvulkan).
// Carry both folders to the GPU machine: `.device` and `.gl`.
//
// The two .xz files are remade only when their source changed (xz -9 of node takes about a
// minute); the bundle is remade every time. Options: --no-gl skips the .gl step.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateAssets } from './build.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, '.device');
const glDir = path.join(root, '.gl');
const MAX_BYTES = 40 * 2 ** 20;

function log(line) {
  console.log(line);
}

const mib = (b) => `${(b / 2 ** 20).toFixed(1)} MiB`;

/** xz -9 of `src` into `dest`, unless the manifest says `dest` was made from this very file. */
function xz(src, dest, previous) {
  const st = statSync(src);
  const stamp = { source: src, bytes: st.size, mtimeMs: st.mtimeMs };
  const old = previous?.[path.basename(dest)];
  if (old && existsSync(dest) && old.source === stamp.source && old.bytes === stamp.bytes && old.mtimeMs === stamp.mtimeMs) {
    log(`  ${path.relative(root, dest)}: up to date (${mib(statSync(dest).size)})`);
    return stamp;
  }
  const t = Date.now();
  const tmp = `${dest}.partial`;
  const r = spawnSync('xz', ['-9', '-c', src], { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 30 });
  if (r.error || r.status !== 0) throw new Error(`xz -9 ${src} failed: ${r.error?.message ?? `status ${r.status}`} (is xz-utils installed?)`);
  writeFileSync(tmp, r.stdout);
  renameSync(tmp, dest);
  log(`  ${path.relative(root, dest)}: ${mib(st.size)} → ${mib(r.stdout.length)} in ${((Date.now() - t) / 1000).toFixed(0)} s`);
  return stamp;
}

async function bundle() {
  const esbuild = await import('esbuild');
  const entry = [
    "import { registerShaderSources } from './src/gpu/shader.ts';",
    "import { SHADER_SOURCES } from './src/generated/shaders.ts';",
    'registerShaderSources(SHADER_SOURCES);',
    // A dynamic import, so that the bench's module (which starts its main) runs after the registration.
    "await import('./bench/device.bench.ts');",
  ].join('\n');
  const outfile = path.join(outDir, 'bench-device.mjs');
  const result = await esbuild.build({
    stdin: { contents: entry, resolveDir: root, sourcefile: 'device-entry.ts', loader: 'ts' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    external: ['webgpu'],
    // CommonJS dependencies inlined into an ES module may still call require() for Node built-ins.
    banner: { js: "import { createRequire as __seedmaskRequire } from 'node:module';\nconst require = __seedmaskRequire(import.meta.url);" },
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
  });
  const inputs = Object.keys(result.metafile.inputs);
  const packages = [...new Set(inputs.filter((f) => f.includes('node_modules/')).map((f) => f.replace(/^.*node_modules\/((?:@[^/]+\/)?[^/]+).*$/, '$1')))].sort();
  log(`  ${path.relative(root, outfile)}: ${mib(statSync(outfile).size)}, ${inputs.length} modules; inlined packages: ${packages.join(', ') || 'none'}`);
  return { modules: inputs.length, packages };
}

/** The Vulkan loader .deb for amd64 in .gl/ (kept out of git through .git/info/exclude). */
function prepareGl() {
  mkdirSync(glDir, { recursive: true });
  const exclude = execFileSync('git', ['rev-parse', '--git-path', 'info/exclude'], { cwd: root, encoding: 'utf8' }).trim();
  const excludeFile = path.resolve(root, exclude);
  const text = existsSync(excludeFile) ? readFileSync(excludeFile, 'utf8') : '';
  if (!text.split('\n').includes('/.gl/')) {
    mkdirSync(path.dirname(excludeFile), { recursive: true });
    writeFileSync(excludeFile, `${text}${text && !text.endsWith('\n') ? '\n' : ''}/.gl/\n`);
  }
  const debs = () => readdirSync(glDir).filter((f) => /^libvulkan1_.*\.deb$/.test(f));
  if (debs().length) {
    log(`  .gl/${debs().join(', ')}: present`);
    return debs();
  }
  // Package lists of our own in /tmp, for amd64 only, so the host's apt state is left alone.
  const lists = '/tmp/amd64';
  mkdirSync(path.join(lists, 'partial'), { recursive: true });
  const opts = ['-oAPT::Architecture=amd64', '-oAPT::Architectures=amd64', `-oDir::State::Lists=${lists}`];
  for (const args of [[...opts, 'update'], [...opts, 'download', 'libvulkan1']]) {
    const r = spawnSync('apt-get', args, { cwd: glDir, stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.error || r.status !== 0) throw new Error(`apt-get ${args.at(-1)} failed (${r.error?.message ?? `status ${r.status}`}); run it by hand: cd .gl && apt-get ${opts.join(' ')} download libvulkan1`);
  }
  log(`  .gl/${debs().join(', ')}: downloaded`);
  return debs();
}

async function main() {
  const noGl = process.argv.includes('--no-gl');
  mkdirSync(outDir, { recursive: true });
  const manifestFile = path.join(outDir, 'manifest.json');
  const previous = existsSync(manifestFile) ? JSON.parse(readFileSync(manifestFile, 'utf8')).files : undefined;

  log('shaders → src/generated/shaders.ts');
  const shaders = generateAssets();
  log(`  ${shaders} shaders`);

  log('bundle');
  const bundled = await bundle();

  log('Node and Dawn');
  const dawn = path.join(root, 'node_modules', 'webgpu', 'dist', 'linux-x64', 'dawn.node');
  if (!existsSync(dawn)) throw new Error(`${dawn} not found: npm install first`);
  const files = {
    'node.xz': xz(process.execPath, path.join(outDir, 'node.xz'), previous),
    'dawn.node.xz': xz(dawn, path.join(outDir, 'dawn.node.xz'), previous),
  };
  const webgpuOut = path.join(outDir, 'webgpu');
  rmSync(webgpuOut, { recursive: true, force: true });
  mkdirSync(webgpuOut);
  for (const f of ['index.js', 'package.json', 'LICENSE.md']) copyFileSync(path.join(root, 'node_modules', 'webgpu', f), path.join(webgpuOut, f));

  let gl = [];
  if (!noGl) {
    log('Vulkan loader → .gl/');
    gl = prepareGl();
  }

  const webgpuVersion = JSON.parse(readFileSync(path.join(root, 'node_modules', 'webgpu', 'package.json'), 'utf8')).version;
  writeFileSync(manifestFile, JSON.stringify({
    made: new Date().toISOString(), node: process.version, webgpu: webgpuVersion, shaders, bundle: bundled, files, gl,
    run: 'carry .device and .gl; bash scripts/device-run.sh [--profile full|tiny] (OUT=dir for the reports)',
  }, null, 2) + '\n');

  const size = (dir) => readdirSync(dir, { withFileTypes: true }).reduce((s, e) => s + (e.isDirectory() ? size(path.join(dir, e.name)) : statSync(path.join(dir, e.name)).size), 0);
  const total = size(outDir), glTotal = existsSync(glDir) ? size(glDir) : 0;
  log(`\n.device: ${mib(total)}; .gl: ${mib(glTotal)}`);
  if (total > MAX_BYTES) {
    console.error(`.device is ${mib(total)}, over the ${mib(MAX_BYTES)} it should stay under (the device tool carries 64 MiB with the working tree)`);
    return 1;
  }
  log('next: carry .device and .gl, then run `bash scripts/device-run.sh` from the repository root');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err.stack ?? err.message);
    process.exit(2);
  },
);
