// Browser smoke page: opens WebGPU through the same GPU layer as Node, runs elementwise kernels,
// and publishes the result on window.__seedmask for a driver (puppeteer) to read.
import { Gpu } from '../src/gpu/browser.js';
import { binary, unary } from '../src/kernels/elementwise.js';

const log = document.getElementById('log')!;

async function main(): Promise<unknown> {
  const gpu = await Gpu.open();
  const x = gpu.upload(new Float32Array([-1, 0.5, 2]), [3]);
  const y = await unary(gpu, x, 'relu');
  const z = await binary(gpu, 'mul', y, x);
  return { adapter: gpu.adapterName, relu: Array.from(await gpu.readF32(y)), mul: Array.from(await gpu.readF32(z)) };
}

main().then(
  (result) => {
    (window as unknown as { __seedmask: unknown }).__seedmask = { ok: true, result };
    log.textContent = JSON.stringify(result, null, 2);
  },
  (err: Error) => {
    (window as unknown as { __seedmask: unknown }).__seedmask = { ok: false, error: err.message };
    log.textContent = `error: ${err.message}`;
  },
);
