// Browser smoke page: opens WebGPU through the same GPU layer as Node, runs elementwise kernels and
// the tiny test CLIP's image tower (weights served at /weights/tiny/), and publishes the results on
// window.__seedmask for a driver (puppeteer) to read.
import { Gpu } from '../src/browser.js';
import { binary, unary } from '../src/kernels/elementwise.js';
import { ClipModel } from '../src/models/clip/model.js';
import { clipImage } from './lib/clip-cases.js';
import { publish } from './lib/publish.js';

const log = document.getElementById('log')!;

/** The tiny CLIP (test/fixtures/weights/tiny) on clipImage(48, 48): features [10, 32] of every token. */
async function tinyClip(gpu: Gpu): Promise<number[]> {
  const response = await fetch('/weights/tiny/clip_openai.safetensors');
  if (!response.ok) throw new Error(`/weights/tiny/clip_openai.safetensors: HTTP ${response.status}`);
  const model = await ClipModel.load(gpu, await response.blob(), { tokenizer: false });
  try {
    const graph = await model.visionGraph(48, 48);
    const { outputs } = await graph.run({ image: clipImage(48, 48) });
    return Array.from(outputs.get('features') as Float32Array);
  } finally {
    await model.destroy();
  }
}

async function main(): Promise<unknown> {
  const gpu = await Gpu.open();
  const x = gpu.upload(new Float32Array([-1, 0.5, 2]), [3]);
  const y = await unary(gpu, x, 'relu');
  const z = await binary(gpu, 'mul', y, x);
  return {
    adapter: gpu.adapterName,
    relu: Array.from(await gpu.readF32(y)),
    mul: Array.from(await gpu.readF32(z)),
    clipFeatures: await tinyClip(gpu),
  };
}

publish(main(), log);
