// Headless Chromium on a page served from localhost (WebGPU needs a secure context). SwiftShader
// flags unless SEEDMASK_BROWSER_GPU=1 asks for the real GPU (docs/environment.md lists the flags).
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';

const CONTENT_TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json' };

export const CHROMIUM_FLAGS = ['--headless=new', '--enable-unsafe-webgpu', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
export const SWIFTSHADER_FLAGS = ['--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader', '--use-angle=swiftshader'];
export const REAL_GPU_FLAGS = ['--enable-webgpu-developer-features'];

export function chromiumFlags(): string[] {
  return [...CHROMIUM_FLAGS, ...(process.env.SEEDMASK_BROWSER_GPU === '1' ? REAL_GPU_FLAGS : SWIFTSHADER_FLAGS)];
}

/** Serve a built folder on an ephemeral localhost port. */
export async function serveStatic(root: string): Promise<{ server: Server; url: string }> {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname)).replace(/^(\.\.[/\\])+/, '');
    const file = join(root, path === '/' ? 'index.html' : path);
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, 'localhost', resolve));
  return { server, url: `http://localhost:${(server.address() as { port: number }).port}/` };
}

export interface PageRun<T> {
  browser: string;
  flags: string[];
  result: T;
}

/** Open `page` of a built harness and wait for it to publish `window.__seedmask`. */
export async function runHarnessPage<T>(root: string, page = '', timeoutMs = 120_000): Promise<PageRun<T>> {
  const { server, url } = await serveStatic(root);
  const flags = chromiumFlags();
  let browser: Browser | undefined;
  try {
    browser = await puppeteer.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: flags, headless: true });
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
