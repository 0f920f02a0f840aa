// Browser benchmark: `npm run bench:browser -- [options]` (= `tsx harness/bench-driver.ts`).
//
// Builds the benchmark page (harness/bench.html) with vite, serves it on localhost together with
// onnxruntime-web's wasm files and the weights, launches the system Chromium headless (the GPU when
// Chromium finds one, else SwiftShader), and runs in that one browser session, case by case:
// seedmask's kernels at the shapes of bench/kernels.bench.ts and the CLIP image tower, each against
// onnxruntime-web's WebGPU EP (JSEP and native builds) and, for kernels, tfjs-webgpu. Every output
// gets a checksum and every peer output is compared with seedmask's. Writes
// bench/results/browser-<adapter>-<date>.json and an HTML report next to it; --check diffs the
// numerics against bench/baselines/browser-numerics.json (exit 1 on a mismatch).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'puppeteer-core';
import type { BenchApi, KernelCaseInfo, PageEnv, RunSpec } from './bench.js';
import { baselineFrom, checkAgainstBaseline, type NumericsBaseline } from './lib/baseline.js';
import { launchChromium, serveStatic, type GpuMode } from './lib/browser.js';
import { buildHarness } from './lib/build.js';
import { CLIP_TOLERANCE, type ClipCaseSpec } from './lib/clip-cases.js';
import type { MeasureOptions } from './lib/measure.js';
import { PEERS, PROGRESS_MARK, speedRatio, type BrowserBenchResults, type CaseResult, type PeerId } from './lib/results.js';
import { fmtMs, fmtRate } from '../bench/lib/driver.js';
import { cpuBusy } from '../bench/lib/suite.js';
import { renderReport } from './report.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const BASELINE = path.join(ROOT, 'bench', 'baselines', 'browser-numerics.json');
const TINY_DIR = path.join(ROOT, 'test', 'fixtures', 'weights', 'tiny');
const GENERATED_DIR = path.join(ROOT, 'weights', 'generated');
const VITB16_WEIGHTS = path.join(GENERATED_DIR, 'vitb16', 'clip_openai.safetensors');

const USAGE = `usage: npm run bench:browser -- [options]
  --quick             the quick kernel subset (one ViT matmul, 1024³, layernorm, softmax,
                      attention), 3 warm runs, and the tiny CLIP
  --full              also the ViT-B/16-sized CLIP at 224 (needs weights/generated/vitb16; its ONNX
                      export is made on demand with /usr/bin/python3 weights/export_onnx.py)
  --filter a,b        only cases whose name contains one of these (e.g. matmul,clip)
  --peers LIST        peers to run: ort-jsep,ort-native,tfjs (default all); --no-peer for none
  --min-runs N        at least N warm runs per engine and case (default 10, quick 3)
  --time MS           keep running warm runs until MS ms are spent (default 2000, quick 500)
  --clip-warm N       warm runs of each CLIP forward (default 3; 1 for ViT-B/16 on SwiftShader)
  --wait-idle S       before each case wait up to S seconds for the host CPU to go quiet (other
                      processes slow SwiftShader down; the 'busy' column says how busy it was)
  --gpu MODE          auto | hardware | swiftshader (default auto: the GPU if Chromium finds one)
  --unsafe            Chromium with Dawn's robustness transform off (all engines alike)
  --check [FILE]      diff the numerics against the baseline (default bench/baselines/
                      browser-numerics.json); exit 1 on a mismatch
  --update-baseline   write this run's checksums into the baseline file
  --out FILE          JSON output (default bench/results/browser-<adapter>-<date>.json; the HTML
                      report goes next to it with .html)
  --no-report         skip the HTML report
  --verbose           echo the page's console
  --list              list the selected cases and exit`;

/** A bad command line: printed without a stack. */
class UsageError extends Error {}

interface Cli {
  quick: boolean;
  full: boolean;
  filters: string[];
  peers: PeerId[];
  minRuns: number | undefined;
  timeMs: number | undefined;
  clipWarm: number | undefined;
  waitIdleS: number;
  gpu: GpuMode | 'auto';
  unsafe: boolean;
  check: string | undefined;
  updateBaseline: boolean;
  out: string | undefined;
  report: boolean;
  verbose: boolean;
  list: boolean;
}

function parseArgs(argv: string[]): Cli {
  const cli: Cli = {
    quick: false, full: false, filters: [], peers: [...PEERS], minRuns: undefined, timeMs: undefined, clipWarm: undefined,
    waitIdleS: 0, gpu: 'auto', unsafe: false, check: undefined, updateBaseline: false, out: undefined, report: true, verbose: false, list: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${arg} needs a value\n${USAGE}`);
      return v;
    };
    const positive = (v: string) => {
      const x = Number(v);
      if (!Number.isInteger(x) || x < 1) throw new UsageError(`${arg} needs a positive integer, got '${v}'`);
      return x;
    };
    if (arg === '--quick') cli.quick = true;
    else if (arg === '--full') cli.full = true;
    else if (arg === '--filter') cli.filters.push(...value().split(',').filter(Boolean));
    else if (arg === '--peers') {
      const list = value().split(',').filter(Boolean);
      const unknown = list.filter((p) => !(PEERS as readonly string[]).includes(p));
      if (unknown.length) throw new UsageError(`--peers: unknown peer ${unknown.map((u) => `'${u}'`).join(', ')} (known: ${PEERS.join(', ')})`);
      cli.peers = list as PeerId[];
    } else if (arg === '--no-peer') cli.peers = [];
    else if (arg === '--min-runs') cli.minRuns = positive(value());
    else if (arg === '--time') cli.timeMs = positive(value());
    else if (arg === '--clip-warm') cli.clipWarm = positive(value());
    else if (arg === '--wait-idle') cli.waitIdleS = positive(value());
    else if (arg === '--gpu') {
      const v = value();
      if (v !== 'auto' && v !== 'hardware' && v !== 'swiftshader') throw new UsageError(`--gpu: '${v}' is not auto, hardware or swiftshader`);
      cli.gpu = v;
    } else if (arg === '--unsafe') cli.unsafe = true;
    else if (arg === '--check') cli.check = argv[i + 1] && !argv[i + 1]!.startsWith('--') ? argv[++i]! : BASELINE;
    else if (arg === '--update-baseline') cli.updateBaseline = true;
    else if (arg === '--out') cli.out = value();
    else if (arg === '--no-report') cli.report = false;
    else if (arg === '--verbose') cli.verbose = true;
    else if (arg === '--list') cli.list = true;
    else if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new UsageError(`unknown argument '${arg}'\n${USAGE}`);
  }
  return cli;
}

const IDLE_BUSY = 0.15;

/** Host CPU busy share, after waiting up to `seconds` for it to drop to IDLE_BUSY. */
async function waitIdle(seconds: number): Promise<number> {
  const deadline = Date.now() + seconds * 1000;
  let busy = await cpuBusy();
  while (busy > IDLE_BUSY && Date.now() < deadline) busy = await cpuBusy(500);
  return busy;
}

const matches = (cli: Cli, name: string) => cli.filters.length === 0 || cli.filters.some((f) => name.includes(f));

/** The CLIP cases to run: tiny always, ViT-B/16 with --full (its ONNX export made when missing). */
function clipCases(cli: Cli, log: (s: string) => void): ClipCaseSpec[] {
  const specs: ClipCaseSpec[] = [];
  const tinyOnnx = path.join(TINY_DIR, 'clip_vision_48x48.onnx');
  specs.push({
    model: 'tiny', weightsUrl: '/weights/tiny/clip_openai.safetensors', height: 48, width: 48, tolerance: CLIP_TOLERANCE,
    ...(existsSync(tinyOnnx) ? { onnxUrl: '/weights/tiny/clip_vision_48x48.onnx' } : {}),
  });
  if (cli.full) {
    if (!existsSync(VITB16_WEIGHTS)) {
      log(`--full: ${path.relative(ROOT, VITB16_WEIGHTS)} not found; make it with\n  /usr/bin/python3 weights/make_test_weights.py --size vitb16 --out weights/generated/vitb16`);
    } else {
      const onnx = path.join(GENERATED_DIR, 'vitb16', 'clip_vision_224x224.onnx');
      if (!existsSync(onnx) && cli.peers.some((p) => p.startsWith('ort'))) {
        log(`exporting ${path.relative(ROOT, onnx)} (weights/export_onnx.py, about 20 s)…`);
        const r = spawnSync('/usr/bin/python3', [path.join(ROOT, 'weights', 'export_onnx.py'), '--weights', VITB16_WEIGHTS, '--out', onnx], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
        if (r.status !== 0) log(`ONNX export failed (${r.error?.message ?? `status ${r.status}`}): ${(r.stderr || '').trim().split('\n').slice(-2).join(' | ')}`);
      }
      specs.push({
        model: 'vitb16', weightsUrl: '/weights/generated/vitb16/clip_openai.safetensors', height: 224, width: 224, tolerance: CLIP_TOLERANCE,
        ...(existsSync(onnx) ? { onnxUrl: '/weights/generated/vitb16/clip_vision_224x224.onnx' } : {}),
      });
    }
  }
  return specs.filter((s) => matches(cli, `clip ${s.model} ${s.width}×${s.height}`));
}

// ---------------------------------------------------------------------------------------------
// Printing

// Ratios here are peer time / seedmask time, mostly above 1: one decimal from 10 on.
const fmtRatio = (r: number) => (r >= 10 ? r.toFixed(1) : r.toFixed(2));

function caseRow(c: CaseResult, peers: PeerId[]): string[] {
  const s = c.seedmask;
  const cells = [c.name.padEnd(34)];
  if (s.error || !s.timing) cells.push(`seedmask FAILED: ${s.error}`);
  else {
    const rate = c.work / (s.timing.warm.p50 * 1e6);
    cells.push(`${fmtMs(s.timing.warm.p50).padStart(8)} ms ${`${fmtRate(rate)} ${c.unit}`.padStart(14)} (cold ${fmtMs(s.timing.coldMs)})`.padEnd(44));
  }
  for (const id of peers) {
    const p = c.peers.find((x) => x.engine === id);
    if (!p) cells.push('–'.padStart(24));
    else if (p.error) cells.push(`${id}: error`.padStart(24));
    else {
      const r = speedRatio(c, p);
      const ok = p.agreement ? (p.agreement.agree ? '=' : '≠') : '?';
      cells.push(`${fmtMs(p.timing!.warm.p50)} ms ${r !== undefined ? `${fmtRatio(r)}×` : ''}${ok}`.padStart(24));
    }
  }
  return cells;
}

// ---------------------------------------------------------------------------------------------

/** The page's progress lines go to stderr (stdout keeps the table); --verbose adds the rest of its console. */
async function openBenchPage(page: Page, url: string, verbose: boolean): Promise<void> {
  page.on('console', (m) => {
    const text = m.text();
    if (text.startsWith(PROGRESS_MARK)) process.stderr.write(`  … ${text.slice(PROGRESS_MARK.length)}\n`);
    else if (verbose) console.log(`  [page] ${text}`);
  });
  page.on('pageerror', (e) => console.log(`  [page error] ${(e as Error).message}`));
  await page.goto(url);
  await page.waitForFunction('window.__bench !== undefined', { timeout: 60_000 });
}

const callPage = <T>(page: Page, fn: (api: BenchApi, ...args: never[]) => Promise<T> | T, ...args: unknown[]): Promise<T> =>
  page.evaluate(`(${fn.toString()})(window.__bench, ...${JSON.stringify(args)})`) as Promise<T>;

function defaultOut(adapter: PageEnv['adapter'], date: string): string {
  const name = (adapter.kind === 'swiftshader' ? 'swiftshader' : adapter.architecture || adapter.vendor || 'gpu').replace(/[^A-Za-z0-9._-]+/g, '-');
  return path.join(ROOT, 'bench', 'results', `browser-${name}-${date.slice(0, 19).replace(/[:T]/g, '-')}.json`);
}

async function main(): Promise<number> {
  const cli = parseArgs(process.argv.slice(2));
  const log = (s: string) => console.log(s);
  const measure: MeasureOptions = { minRuns: cli.minRuns ?? (cli.quick ? 3 : 10), timeMs: cli.timeMs ?? (cli.quick ? 500 : 2000), maxRuns: 100 };

  const outDir = path.join(ROOT, 'dist', 'harness');
  await buildHarness(outDir, ['bench']);
  const { server, url } = await serveStatic({
    '/': outDir,
    '/ort/': path.join(ROOT, 'node_modules', 'onnxruntime-web', 'dist'),
    '/weights/tiny/': TINY_DIR,
    '/weights/generated/': GENERATED_DIR,
  });
  const pageUrl = `${url}bench.html`;
  const chromium = await launchChromium(cli.gpu, pageUrl, { unsafe: cli.unsafe, log });
  try {
    let page = await chromium.browser.newPage();
    await openBenchPage(page, pageUrl, cli.verbose);
    const env = await callPage<PageEnv>(page, (api, peers: PeerId[]) => api.env(peers), cli.peers);
    const peers = cli.peers.filter((p) => !env.versions[p]?.startsWith('unavailable'));
    for (const p of cli.peers) if (!peers.includes(p)) log(`peer ${p} ${env.versions[p]}`);

    const allKernels = await callPage<KernelCaseInfo[]>(page, (api) => api.kernelCases());
    const kernels = allKernels.filter((k) => (!cli.quick || k.quick) && matches(cli, k.name));
    const clips = clipCases(cli, log);
    if (cli.list) {
      for (const k of kernels) log(`${k.name}  [${k.peers.filter((p) => peers.includes(p)).join(', ') || 'no peer'}]${k.quick ? '  (quick)' : ''}`);
      for (const c of clips) log(`clip ${c.model} ${c.width}×${c.height}  [${c.onnxUrl ? peers.filter((p) => p !== 'tfjs').join(', ') : 'no ONNX export: no peer'}]`);
      return 0;
    }
    if (kernels.length + clips.length === 0) {
      console.error(`no case matches${cli.filters.length ? ` --filter ${cli.filters.join(',')}` : ''}`);
      return 1;
    }

    const version = await chromium.browser.version();
    const date = new Date().toISOString();
    log(`seedmask browser benchmark — ${version}, adapter ${env.adapter.name} [${env.adapter.kind}], ${chromium.mode}${cli.unsafe ? ', robustness off' : ''}`);
    for (const [engine, v] of Object.entries(env.versions)) log(`  ${engine}: ${v}`);
    log(`timing: wall clock in the page (performance.now) around each run until its GPU work is done; kernels with inputs and outputs resident on the GPU, CLIP with upload + download (as graph.run / session.run are called); per engine and case a cold run, then warm runs: kernels until ≥ ${measure.minRuns} runs and ≥ ${measure.timeMs} ms, CLIP ${cli.clipWarm ?? '3 (ViT-B/16 on SwiftShader: 1)'}`);
    log(`columns: seedmask warm p50, rate, cold; per peer: warm p50, speed ratio peer/seedmask (above 1: seedmask faster), '=' output agrees with seedmask, '≠' it does not; busy: host CPU busy just before the case\n`);
    log(['case'.padEnd(34), 'seedmask'.padEnd(44), ...peers.map((p) => p.padStart(24)), 'busy'.padStart(6)].join(' '));

    const results: CaseResult[] = [];
    const runCase = async (label: string, call: (p: Page) => Promise<CaseResult>) => {
      const cpuBusyBefore = await waitIdle(cli.waitIdleS);
      try {
        results.push({ ...(await call(page)), cpuBusyBefore });
      } catch (err) {
        // The tab may have died (out of memory, device lost): record the case and start a new tab.
        const message = (err as Error).message;
        results.push({ kind: label.startsWith('clip') ? 'clip' : 'kernel', name: label, family: label.split(' ')[0]!, shape: '', role: '', work: 0, unit: 'GFLOP/s', tolerance: 0, seedmask: { engine: 'seedmask', name: 'seedmask', io: 'gpu-resident', error: message }, peers: [], cpuBusyBefore, error: message });
        await page.close().catch(() => undefined);
        page = await chromium.browser.newPage();
        await openBenchPage(page, pageUrl, cli.verbose);
      }
      const done = results.at(-1)!;
      log([...caseRow(done, peers), `${Math.round(100 * cpuBusyBefore)} %`.padStart(6)].join(' '));
      for (const p of done.peers) if (p.error) log(`  ${p.engine}: ${p.error}`);
    };
    for (const k of kernels) {
      const spec: RunSpec = { peers: peers.filter((p) => k.peers.includes(p)), measure };
      await runCase(k.name, (p) => callPage<CaseResult>(p, (api, name: string, s: RunSpec) => api.runKernel(name, s), k.name, spec));
    }
    for (const c of clips) {
      const warm = cli.clipWarm ?? (c.model === 'vitb16' && env.adapter.kind === 'swiftshader' ? 1 : 3);
      const spec: RunSpec = { peers: peers.filter((p) => p !== 'tfjs'), measure: { minRuns: warm, maxRuns: warm, timeMs: 0 } };
      await runCase(`clip ${c.model} ${c.width}×${c.height}`, (p) => callPage<CaseResult>(p, (api, clip: ClipCaseSpec, s: RunSpec) => api.runClip(clip, s), c, spec));
    }

    const results_: BrowserBenchResults = {
      tool: 'seedmask browser benchmark',
      date,
      browser: { version, userAgent: env.userAgent, flags: chromium.flags, mode: chromium.mode, crossOriginIsolated: env.crossOriginIsolated },
      adapter: env.adapter,
      versions: env.versions,
      host: { cpu: `${os.cpus()[0]?.model ?? 'unknown'} ×${os.cpus().length}`, node: process.version },
      options: { quick: cli.quick, full: cli.full, filters: cli.filters, peers, measure, clipWarm: cli.clipWarm ?? null, waitIdleS: cli.waitIdleS, unsafe: cli.unsafe },
      timing: 'wall clock (performance.now) in the page around each run until the GPU queue is drained; kernels GPU-resident, CLIP including input upload and output download',
      cases: results,
    };
    summarise(results_, log);

    const file = path.resolve(cli.out ?? defaultOut(env.adapter, date));
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(results_, null, 2) + '\n');
    log(`\nwrote ${path.relative(process.cwd(), file)}`);
    if (cli.report) {
      const html = file.replace(/\.json$/, '') + '.html';
      writeFileSync(html, renderReport(results_));
      log(`wrote ${path.relative(process.cwd(), html)}`);
    }

    let status = results.some((r) => r.error || r.seedmask.error) ? 1 : 0;
    if (cli.updateBaseline) {
      const previous = existsSync(BASELINE) ? (JSON.parse(readFileSync(BASELINE, 'utf8')) as NumericsBaseline) : undefined;
      mkdirSync(path.dirname(BASELINE), { recursive: true });
      writeFileSync(BASELINE, JSON.stringify(baselineFrom(results_, previous), null, 2) + '\n');
      log(`wrote ${path.relative(process.cwd(), BASELINE)}`);
    }
    if (cli.check) {
      if (!existsSync(cli.check)) throw new UsageError(`--check: ${cli.check} not found (make it with --update-baseline)`);
      const report = checkAgainstBaseline(results_, JSON.parse(readFileSync(cli.check, 'utf8')) as NumericsBaseline);
      log(`\nnumerics check against ${path.relative(process.cwd(), cli.check)}: ${report.matched.length} cases match, ${report.failures.length} problems`);
      for (const n of report.notes) log(`  note: ${n}`);
      for (const f of report.failures) log(`  MISMATCH: ${f}`);
      if (report.failures.length) status = 1;
    }
    return status;
  } finally {
    await chromium.browser.close();
    server.close();
  }
}

/** Geometric-mean speed ratio per peer over the cases where both ran, and the disagreements. */
function summarise(r: BrowserBenchResults, log: (s: string) => void): void {
  if (!r.cases.some((c) => c.peers.some((p) => p.timing))) return;
  log('\nseedmask speed relative to each peer (peer p50 / seedmask p50; above 1: seedmask faster):');
  for (const peer of PEERS) {
    const ratios = r.cases.flatMap((c) => {
      const p = c.peers.find((x) => x.engine === peer);
      const q = p && speedRatio(c, p);
      return q !== undefined ? [{ name: c.name, q, agree: p!.agreement?.agree ?? false }] : [];
    });
    if (!ratios.length) continue;
    const geo = Math.exp(ratios.reduce((s, x) => s + Math.log(x.q), 0) / ratios.length);
    const disagree = ratios.filter((x) => !x.agree).map((x) => x.name);
    log(`  ${peer.padEnd(11)} geometric mean ${fmtRatio(geo)}× over ${ratios.length} cases (${ratios.map((x) => `${x.name}: ${fmtRatio(x.q)}×`).join('; ')})${disagree.length ? `; OUTPUTS DIFFER: ${disagree.join(', ')}` : '; all outputs agree with seedmask'}`);
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(err instanceof UsageError ? err.message : (err.stack ?? err.message));
    process.exit(2);
  },
);
