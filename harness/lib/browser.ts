// Headless Chromium on pages served from localhost (WebGPU needs a secure context).
//
// Adapter modes: 'swiftshader' (software Vulkan: the flags of docs/environment.md), 'hardware'
// (the machine's GPU; full-precision timestamps), or 'auto': try the hardware flags and fall back
// to SwiftShader when Chromium finds no adapter, or only a software one, that way.
// SEEDMASK_BROWSER_GPU=1 / =0 force hardware / SwiftShader where a caller does not choose.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  // Served as wasm so that the browser may compile it while it streams in.
  '.wasm': 'application/wasm',
};

export const CHROMIUM_FLAGS = ['--headless=new', '--enable-unsafe-webgpu', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
export const SWIFTSHADER_FLAGS = ['--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader', '--use-angle=swiftshader'];
// Vulkan for Dawn on Linux GPUs; developer features give timestamps at full precision (not 100 µs).
export const REAL_GPU_FLAGS = ['--enable-features=Vulkan', '--ignore-gpu-blocklist', '--enable-webgpu-developer-features'];
/** Dawn's bounds-clamping transform off (measurements of in-bounds kernels only; never for users). */
export const UNSAFE_FLAGS = ['--enable-dawn-features=disable_robustness'];

export type GpuMode = 'swiftshader' | 'hardware';

function envMode(): GpuMode | undefined {
  const v = process.env.SEEDMASK_BROWSER_GPU;
  return v === '1' ? 'hardware' : v === '0' ? 'swiftshader' : undefined;
}

export function chromiumFlags(mode: GpuMode = envMode() ?? 'swiftshader', opts: { unsafe?: boolean } = {}): string[] {
  return [...CHROMIUM_FLAGS, ...(mode === 'hardware' ? REAL_GPU_FLAGS : SWIFTSHADER_FLAGS), ...(opts.unsafe ? UNSAFE_FLAGS : [])];
}

/**
 * Serve folders on an ephemeral localhost port: `mounts` maps URL prefixes ('/', '/ort/') to
 * folders, the longest prefix winning (a string serves one folder at '/'). Files stream (weights
 * can be hundreds of MB). Cross-origin isolation headers give the page SharedArrayBuffer and
 * fine-grained performance.now().
 */
export async function serveStatic(mounts: string | Record<string, string>): Promise<{ server: Server; url: string }> {
  const table = Object.entries(typeof mounts === 'string' ? { '/': mounts } : mounts).sort((a, b) => b[0].length - a[0].length);
  for (const [prefix] of table) if (!prefix.startsWith('/') || !prefix.endsWith('/')) throw new Error(`serveStatic: mount '${prefix}' must start and end with '/'`);
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    const mount = table.find(([prefix]) => path.startsWith(prefix));
    // normalize() resolves '..'; a path that climbs out of its folder is refused.
    const rel = mount ? normalize(path.slice(mount[0].length) || 'index.html') : '';
    if (!mount || rel.startsWith('..')) {
      res.writeHead(404).end();
      return;
    }
    const file = join(mount[1], rel);
    try {
      const info = await stat(file);
      if (!info.isFile()) throw new Error('not a file');
      res.writeHead(200, {
        'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
        'content-length': info.size,
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-embedder-policy': 'require-corp',
        'cache-control': 'no-store',
      });
      createReadStream(file).pipe(res);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, 'localhost', resolve));
  return { server, url: `http://localhost:${(server.address() as { port: number }).port}/` };
}

export interface LaunchedBrowser {
  browser: Browser;
  mode: GpuMode;
  flags: string[];
}

const CHROMIUM = () => process.env.CHROMIUM ?? '/usr/bin/chromium';

async function launch(mode: GpuMode, unsafe: boolean): Promise<LaunchedBrowser> {
  const flags = chromiumFlags(mode, { unsafe });
  // protocolTimeout 0: a page call may run for minutes (a ViT-B/16 forward on SwiftShader).
  const browser = await puppeteer.launch({ executablePath: CHROMIUM(), args: flags, headless: true, protocolTimeout: 0 });
  return { browser, mode, flags };
}

/** The adapter a page at `url` gets ('' when none), as "vendor architecture device". */
async function probeAdapter(browser: Browser, url: string): Promise<string> {
  const tab = await browser.newPage();
  try {
    await tab.goto(url);
    return (await tab.evaluate(`(async () => {
      const a = await navigator.gpu?.requestAdapter();
      return a ? [a.info.vendor, a.info.architecture, a.info.device, a.info.description].join(' ') : '';
    })()`)) as string;
  } finally {
    await tab.close();
  }
}

/**
 * Chromium in the given mode; 'auto' tries the GPU first (probing with a page of `probeUrl`, any
 * page on the localhost server) and falls back to SwiftShader.
 */
export async function launchChromium(mode: GpuMode | 'auto', probeUrl: string, opts: { unsafe?: boolean; log?: (line: string) => void } = {}): Promise<LaunchedBrowser> {
  const unsafe = opts.unsafe ?? false;
  if (mode !== 'auto') return launch(mode, unsafe);
  const hw = await launch('hardware', unsafe);
  const adapter = await probeAdapter(hw.browser, probeUrl).catch(() => '');
  if (adapter && !/swiftshader|llvmpipe|lavapipe|software/i.test(adapter)) return hw;
  opts.log?.(`no hardware WebGPU adapter in Chromium (${adapter || 'none'}); using SwiftShader`);
  await hw.browser.close();
  return launch('swiftshader', unsafe);
}

export interface PageRun<T> {
  browser: string;
  flags: string[];
  result: T;
}

/**
 * Open `page` of a built harness (`root`, plus any extra `mounts`) and wait for it to publish
 * `window.__seedmask`.
 */
export async function runHarnessPage<T>(root: string, page = '', timeoutMs = 120_000, mounts: Record<string, string> = {}): Promise<PageRun<T>> {
  const { server, url } = await serveStatic({ ...mounts, '/': root });
  const flags = chromiumFlags();
  let browser: Browser | undefined;
  try {
    // protocolTimeout 0: a page may work for many minutes (a soak, a ViT-B/16 forward on SwiftShader).
    browser = await puppeteer.launch({ executablePath: CHROMIUM(), args: flags, headless: true, protocolTimeout: 0 });
    const tab = await browser.newPage();
    await tab.goto(url + page);
    await tab.waitForFunction('window.__seedmask !== undefined', { timeout: timeoutMs });
    const result = (await tab.evaluate('window.__seedmask')) as T;
    return { browser: await browser.version(), flags, result };
  } finally {
    await browser?.close();
    server.close();
  }
}
