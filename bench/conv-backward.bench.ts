// Convolution backward vs forward at the segmenter's sizes (src/train/segmenter.ts, batch 4 of
// 3×96×128, widths 16-32-64, 11 classes): `npx tsx bench/conv-backward.bench.ts [--warm N]
// [--filter text]`.
//
// Per shape: the forward conv2d, dx (conv2dBackwardInput) and dw (conv2dBackwardWeight, with db
// where the layer has a bias), each timed as the wall clock of the public function plus gpu.sync()
// after one untimed warm-up call; prints the median and the minimum of N warm samples (default 5),
// GFLOP/s from the median, and (dx + dw) / forward (of the medians). On SwiftShader these are CPU
// figures and move with the load of the machine (printed first).
import { loadavg } from 'node:os';
import { Gpu } from '../src/gpu/context.js';
import type { Tensor } from '../src/gpu/tensor.js';
import { conv2d, convFlops, convGeometry } from '../src/kernels/conv.js';
import { conv2dBackwardInput, conv2dBackwardWeight } from '../src/kernels/train/conv.js';

interface Shape {
  name: string;
  x: [number, number, number, number];
  cout: number;
  k: number;
  stride: number;
  padding: number;
  groups?: number;
  dilation?: number;
  bias?: boolean;
  /** The layer's input is the image: no dx. */
  weightOnly?: boolean;
}

const SHAPES: Shape[] = [
  { name: 'stem 3→16 3×3 s1 (dw only)', x: [4, 3, 96, 128], cout: 16, k: 3, stride: 1, padding: 1, weightOnly: true },
  { name: 'layers.0 16→16 3×3 s1', x: [4, 16, 48, 64], cout: 16, k: 3, stride: 1, padding: 1 },
  { name: 'layers.1.down 16→32 3×3 s2', x: [4, 16, 48, 64], cout: 32, k: 3, stride: 2, padding: 1 },
  { name: 'layers.1 32→32 3×3 s1', x: [4, 32, 24, 32], cout: 32, k: 3, stride: 1, padding: 1 },
  { name: 'layers.2.down 32→64 3×3 s2', x: [4, 32, 24, 32], cout: 64, k: 3, stride: 2, padding: 1 },
  { name: 'layers.2 64→64 3×3 s1', x: [4, 64, 12, 16], cout: 64, k: 3, stride: 1, padding: 1 },
  { name: 'classifier 64→11 1×1 bias', x: [4, 64, 12, 16], cout: 11, k: 1, stride: 1, padding: 0, bias: true },
];

/** With --extra: shapes outside the segmenter (a DeepLab-like map, depthwise, dilation). */
const EXTRA: Shape[] = [
  { name: 'x2×32×33×33 32→32 3×3', x: [2, 32, 33, 33], cout: 32, k: 3, stride: 1, padding: 1 },
  { name: 'depthwise 64 3×3 on 33×33', x: [2, 64, 33, 33], cout: 64, k: 3, stride: 1, padding: 1, groups: 64 },
  { name: 'x2×64×33×33 64→64 3×3 d2', x: [2, 64, 33, 33], cout: 64, k: 3, stride: 1, padding: 2, dilation: 2 },
];

function random(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/** Median and minimum over `warm` calls of wall-clock ms, or with `cpu` of this process's CPU ms. */
async function time(gpu: Gpu, warm: number, cpu: boolean, call: () => Promise<Tensor[]>): Promise<{ median: number; min: number }> {
  gpu.release(...(await call()));
  await gpu.sync();
  const ms: number[] = [];
  for (let i = 0; i < warm; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const out = await call();
    await gpu.sync();
    const c = process.cpuUsage(c0);
    ms.push(cpu ? (c.user + c.system) / 1000 : performance.now() - t0);
    gpu.release(...out);
  }
  ms.sort((a, b) => a - b);
  return { median: ms[Math.floor(ms.length / 2)]!, min: ms[0]! };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const flag = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const warm = Number(flag('--warm') ?? 5);
  const filter = flag('--filter');
  const shapes = args.includes('--extra') ? [...SHAPES, ...EXTRA] : SHAPES;
  const cpu = args.includes('--cpu');
  const gpu = await Gpu.open();
  console.log(`adapter: ${gpu.adapterName}; ${warm} warm samples per figure (median / min ${cpu ? 'CPU ms of this process, both SwiftShader threads' : 'wall-clock ms'}); load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log(`${'shape'.padEnd(30)} ${'forward'.padStart(16)} ${'dx'.padStart(16)} ${'dw'.padStart(16)}   GFLOP/s fwd/dx/dw   (dx+dw)/fwd`);
  const fmt = (t: { median: number; min: number } | undefined) => (t ? `${t.median.toFixed(1)} / ${t.min.toFixed(1)}` : '—').padStart(16);
  try {
    for (const s of shapes) {
      if (filter && !s.name.includes(filter)) continue;
      const groups = s.groups ?? 1;
      const wShape: [number, number, number, number] = [s.cout, s.k, s.k, s.x[1] / groups];
      const opts = { stride: s.stride, padding: s.padding, dilation: s.dilation ?? 1, groups };
      const g = convGeometry(s.x, wShape, opts);
      const flops = convFlops(g);
      const x = gpu.upload(random(s.x.reduce((a, b) => a * b), 1), s.x);
      const w = gpu.upload(random(wShape.reduce((a, b) => a * b), 2).map((v) => v * 0.1), wShape);
      const b = s.bias ? gpu.upload(random(s.cout, 3), [s.cout]) : undefined;
      const dy = gpu.upload(random(g.batch * g.cout * g.ho * g.wo, 4), [g.batch, g.cout, g.ho, g.wo]);
      const fwd = await time(gpu, warm, cpu, async () => [await conv2d(gpu, x, w, { ...opts, bias: b })]);
      const dx = s.weightOnly ? undefined : await time(gpu, warm, cpu, async () => [await conv2dBackwardInput(gpu, dy, w, s.x, opts)]);
      const dw = await time(gpu, warm, cpu, async () => {
        const r = await conv2dBackwardWeight(gpu, dy, x, wShape, { ...opts, bias: !!s.bias });
        return r.db ? [r.dw, r.db] : [r.dw];
      });
      const rate = (t: { median: number } | undefined) => (t ? (flops / t.median / 1e6).toFixed(2) : '—');
      const ratio = ((dx?.median ?? 0) + dw.median) / fwd.median;
      console.log(`${s.name.padEnd(30)} ${fmt(fwd)} ${fmt(dx)} ${fmt(dw)}   ${`${rate(fwd)}/${rate(dx)}/${rate(dw)}`.padEnd(19)} ${ratio.toFixed(2)}`);
      gpu.release(x, w, dy, ...(b ? [b] : []));
    }
  } finally {
    await gpu.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
