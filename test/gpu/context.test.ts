// The GPU context's contract: adapter discovery, binding checks that name kernel and binding,
// uniform packing by reflected name, specialisation errors.
import { describe, expect, it } from 'vitest';
import { DispatchRecording } from '../../src/gpu/context.js';
import { defineKernel } from '../../src/gpu/kernel.js';
import { listParams, specialize } from '../../src/gpu/shader.js';
import { bucketBytes } from '../../src/gpu/tensor.js';
import { unaryKernel } from '../../src/kernels/elementwise.js';
import { fillWords, gatherRows } from '../../src/kernels/layout.js';
import { testGpu } from '../helpers/gpu.js';

describe('device', () => {
  it('names its adapter and reports features and raised limits', async () => {
    const gpu = await testGpu();
    expect(gpu.adapterName.length).toBeGreaterThan(3);
    expect(typeof gpu.traits.features.timestampQuery).toBe('boolean');
    // seedmask asks for the adapter's maxima; the spec default storage binding is 128 MiB.
    expect(gpu.traits.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024);
  });
});

describe('specialisation', () => {
  const src = [
    'const A: u32 = 8u;   // @param',
    'const B: f32 = 1.0f; // @param scale',
    'const C: bool = false; // @param',
    'const D: u32 = 3u;   // not a param',
  ].join('\n');

  it('lists and rewrites @param constants only', () => {
    expect(listParams(src).map((p) => p.name)).toEqual(['A', 'B', 'C']);
    const out = specialize('t.wgsl', src, { A: 4, B: 0.5, C: true });
    expect(out).toContain('const A: u32 = 4u;');
    expect(out).toContain('const B: f32 = 0.5f;');
    expect(out).toContain('const C: bool = true;');
    expect(out).toContain('const D: u32 = 3u;');
  });

  it('rejects unknown names and ill-typed values, naming the file', () => {
    expect(() => specialize('t.wgsl', src, { D: 1 })).toThrow(/t\.wgsl: no '\/\/ @param' constant named D/);
    expect(() => specialize('t.wgsl', src, { A: -1 })).toThrow(/t\.wgsl: parameter A.*not a u32/);
    expect(() => specialize('t.wgsl', src, { C: 1 })).toThrow(/parameter C.*not a bool/);
  });
});

describe('buffer pool buckets', () => {
  it('wastes at most 12.5 % and never rounds down', () => {
    for (const n of [1, 7, 197, 256, 257, 4097, 768 * 197 * 4, 123456789]) {
      const b = bucketBytes(n);
      expect(b).toBeGreaterThanOrEqual(n);
      if (n > 256) expect(b / n).toBeLessThanOrEqual(1.125);
    }
  });
});

describe('dispatch checks', () => {
  const args = { count: 100, activation: 'relu' as const, alpha: 1, beta: 0 };

  it('a binding that is too small names kernel and binding', async () => {
    const gpu = await testGpu();
    const x = gpu.upload(new Float32Array(100), [100]);
    const y = gpu.empty([10]);
    await expect(gpu.run(unaryKernel, args, { x, y })).rejects.toThrow(/kernel 'unary', binding 'y': .*holds 10 f32, the kernel needs 100/);
    gpu.release(x, y);
  });

  it('a missing or unknown binding is named', async () => {
    const gpu = await testGpu();
    const x = gpu.upload(new Float32Array(100), [100]);
    await expect(gpu.run(unaryKernel, args, { x })).rejects.toThrow(/kernel 'unary', binding 'y': missing/);
    await expect(gpu.run(unaryKernel, args, { x, y: x, z: x })).rejects.toThrow(/binding 'z': not declared by the shader/);
    gpu.release(x);
  });

  it('an output aliasing an input is refused', async () => {
    const gpu = await testGpu();
    const x = gpu.upload(new Float32Array(100), [100]);
    await expect(gpu.run(unaryKernel, args, { x, y: x })).rejects.toThrow(/binding 'y': overlaps binding 'x'/);
    gpu.release(x);
  });

  it('uniforms are checked by name against the reflected struct', async () => {
    const gpu = await testGpu();
    const bad = defineKernel<null>({
      name: 'unary-bad-uniforms',
      shader: unaryKernel.shader,
      uniforms: () => ({ count: 1, alpha: 1, gamma: 2 }),
      workgroups: () => [1],
      sizes: () => ({ x: 1, y: 1 }),
    });
    const x = gpu.upload(new Float32Array(4), [4]), y = gpu.empty([4]);
    await expect(gpu.run(bad, null, { x, y })).rejects.toThrow(/kernel 'unary-bad-uniforms': unknown uniform 'gamma' \(the struct has: count, alpha, beta\)/);
    gpu.release(x, y);
  });

  it('a shader that does not compile is reported with file and line', async () => {
    const gpu = await testGpu();
    const broken = defineKernel<null>({ name: 'broken', shader: '../test/fixtures/shaders/broken.wgsl', workgroups: () => [1], sizes: () => ({ y: 1 }) });
    await expect(gpu.compile(broken, null)).rejects.toThrow(/kernel 'broken': .*broken\.wgsl does not compile:\n\s+line \d+/);
  });

  it('results survive many dispatches in one batch (uniform arena reuse)', async () => {
    const gpu = await testGpu();
    let x = gpu.upload(new Float32Array([1, 2, 3]), [3]);
    for (let i = 0; i < 300; i++) {
      const y = gpu.empty([3]);
      await gpu.run(unaryKernel, { count: 3, activation: 'none', alpha: 1, beta: 1 }, { x, y });
      gpu.release(x);
      x = y;
    }
    expect(Array.from(await gpu.readF32(x))).toEqual([301, 302, 303]);
    gpu.release(x);
  });
});

describe('optional bindings', () => {
  it('a binding stated as size 0 may be omitted; any other is still required', async () => {
    const gpu = await testGpu();
    // binary.wgsl reads `b`; claiming it needs 0 elements lets the caller omit it (a placeholder is
    // bound), which is how kernels skip an absent bias. Here b reads the placeholder's zeros.
    const k = defineKernel<null>({
      name: 'binary-optional-b',
      shader: 'elementwise/binary.wgsl',
      uniforms: () => ({ count: 3, out_shape: [1, 1, 1, 3], a_strides: [0, 0, 0, 1], b_strides: [0, 0, 0, 0] }),
      workgroups: () => [1],
      sizes: () => ({ a: 3, b: 0, y: 3 }),
    });
    const a = gpu.upload(new Float32Array([1, 2, 3]), [3]), y = gpu.empty([3]);
    await gpu.run(k, null, { a, y });
    expect(Array.from(await gpu.readF32(y))).toEqual([1, 2, 3]);
    await expect(gpu.run(k, null, { y })).rejects.toThrow(/binding 'a': missing/);
    gpu.release(a, y);
  });
});

describe('dispatch recordings', () => {
  it('a replay reads data uploaded while recording, even after later recorded work allocated buffers of its size', async () => {
    const gpu = await testGpu();
    const table = gpu.upload(Uint32Array.of(10, 11, 12, 13), [4, 1], 'u32');
    const rec = new DispatchRecording(gpu);
    const on = gpu.recorder(rec);
    try {
      const out = on.empty([3, 1], 'u32');
      // gatherRows uploads the indices and releases them; the next allocation has their size.
      await gatherRows(on, table, [2, 0, 1], { out });
      const scratch = on.empty([4], 'u32');
      await fillWords(on, scratch, 4, 3);
      expect(rec.replayable).toBe(true);
      expect(Array.from((await gpu.read(out)) as Uint32Array)).toEqual([12, 10, 11]);
      await fillWords(gpu, out, 3, 99);
      gpu.replay(rec);
      expect(Array.from((await gpu.read(out)) as Uint32Array)).toEqual([12, 10, 11]);
    } finally {
      rec.dispose();
      gpu.release(table);
    }
  });
});
