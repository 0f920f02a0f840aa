// Generic deterministic building blocks over u32 arrays (shaders/scan/*.wgsl):
//   exclusiveScan   in-place exclusive prefix sum (chunk sums, scanned recursively, then each chunk)
//   radixSortPairs  stable LSD radix sort of (key, value) pairs, 6 bits per pass
// Both give the same result on every run and every device: integer sums only, and the sort places
// items by scanned counts, never by the order in which atomics happen to land.
import type { Gpu } from '../gpu/context.js';
import { KernelError } from '../gpu/errors.js';
import { ceilDiv, defineKernel, grid1d } from '../gpu/kernel.js';
import type { Tensor } from '../gpu/tensor.js';

const WG = 256;
/** Values per invocation of the scan. Each invocation of the scan and of the sort works through a
 *  chunk of consecutive items serially, so neither needs workgroup memory or barriers (with them,
 *  on SwiftShader, a CPU driver, the scans and sorts of a 500×375 image's lattice took ~8× longer);
 *  the per-chunk sums and counts go through the next level of the scan. */
const IPT = 64;

const chunksOf = (n: number, ipt = IPT) => ceilDiv(n, ipt);

/**
 * The sort moves RADIX_BITS-bit digits (ceil(bits / RADIX_BITS) passes), each invocation owning
 * RADIX_IPT items. Fixed, not fitted to each key width, so that the pipelines a sort compiles do not
 * depend on its data (a warm-up on a blank image then builds those of every image). Measured on
 * SwiftShader sorting 1.7M pairs by 19-bit keys (the CSR table of a 500×375 image): 4 bits / 64
 * items 590 ms, 5 / 128 480–510 ms, 5 / 256 445 ms, 7 / 256 440–450 ms; more items per invocation
 * mean fewer per-chunk counts to scan.
 */
const RADIX_BITS = 6;
const RADIX_IPT = 256;

export const scanReduceKernel = defineKernel<{ n: number }>({
  name: 'scan_reduce',
  shader: 'scan/scan_reduce.wgsl',
  params: () => ({ WG, IPT }),
  uniforms: (a) => ({ n: a.n, chunks: chunksOf(a.n) }),
  workgroups: (a, t) => grid1d(ceilDiv(chunksOf(a.n), WG), t),
  sizes: (a) => ({ data: a.n, sums: chunksOf(a.n) }),
  cost: (a) => ({ flops: a.n, bytes: 4 * a.n }),
});

export const scanApplyKernel = defineKernel<{ n: number }>({
  name: 'scan_apply',
  shader: 'scan/scan_apply.wgsl',
  params: (a) => ({ WG, IPT, OFFSETS: a.n > IPT }),
  uniforms: (a) => ({ n: a.n, chunks: chunksOf(a.n) }),
  workgroups: (a, t) => grid1d(ceilDiv(chunksOf(a.n), WG), t),
  sizes: (a) => ({ data: a.n, offsets: a.n > IPT ? chunksOf(a.n) : 0 }),
  cost: (a) => ({ flops: a.n, bytes: 8 * a.n }),
});

export interface RadixArgs {
  n: number;
  shift: number;
  /** Bits per digit, and items per invocation. */
  bits: number;
  ipt: number;
}

const radixParams = (a: RadixArgs) => ({ WG, IPT: a.ipt, DIGITS: 2 ** a.bits });
const radixUniforms = (a: RadixArgs) => ({ n: a.n, shift: a.shift, chunks: chunksOf(a.n, a.ipt) });

export const radixCountKernel = defineKernel<RadixArgs>({
  name: 'radix_count',
  shader: 'scan/radix_count.wgsl',
  params: radixParams,
  uniforms: radixUniforms,
  workgroups: (a, t) => grid1d(ceilDiv(chunksOf(a.n, a.ipt), WG), t),
  sizes: (a) => ({ keys: a.n, hist: 2 ** a.bits * chunksOf(a.n, a.ipt) }),
  cost: (a) => ({ flops: 2 * a.n, bytes: 4 * a.n + 4 * 2 ** a.bits * chunksOf(a.n, a.ipt) }),
});

export const radixScatterKernel = defineKernel<RadixArgs>({
  name: 'radix_scatter',
  shader: 'scan/radix_scatter.wgsl',
  params: radixParams,
  uniforms: radixUniforms,
  workgroups: (a, t) => grid1d(ceilDiv(chunksOf(a.n, a.ipt), WG), t),
  sizes: (a) => {
    const hist = 2 ** a.bits * chunksOf(a.n, a.ipt);
    return { keys_in: a.n, vals_in: a.n, offsets: hist, keys_out: a.n, vals_out: a.n };
  },
  cost: (a) => ({ flops: 4 * a.n, bytes: 16 * a.n + 4 * 2 ** a.bits * chunksOf(a.n, a.ipt) }),
});

/** Exclusive prefix sum of data[0 .. n) in place (u32, wrapping): data[i] = Σ_{j<i} data[j]. */
export async function exclusiveScan(gpu: Gpu, data: Tensor, n: number): Promise<void> {
  if (data.dtype !== 'u32' || data.size < n) throw new KernelError('exclusiveScan', `${data} must be u32 with at least ${n} values`, 'data');
  if (n === 0) return;
  if (n <= IPT) {
    await gpu.run(scanApplyKernel, { n }, { data });
    return;
  }
  const chunks = chunksOf(n);
  const sums = gpu.empty([chunks], 'u32', 'scan chunk sums');
  try {
    await gpu.run(scanReduceKernel, { n }, { data, sums });
    await exclusiveScan(gpu, sums, chunks);
    await gpu.run(scanApplyKernel, { n }, { data, offsets: sums });
  } finally {
    // Only dispatches recorded after this one can reuse the buffer, and WebGPU orders them after it.
    gpu.release(sums);
  }
}

/** Bits needed for keys 0 .. maxKey. */
export function keyBits(maxKey: number): number {
  return maxKey <= 0 ? 0 : 32 - Math.clz32(maxKey);
}

/**
 * Stable sort of the pairs (keys[i], vals[i]), i < n, by the low `bits` bits of the key (higher bits
 * must be 0). Ping-pongs between the given tensors and two of its own; returns the pair holding the
 * result (the given one or a new one) and `spare`, the pair that does not: the caller owns both and
 * releases all four tensors (the given ones included) when done.
 */
export async function radixSortPairs(
  gpu: Gpu,
  keys: Tensor,
  vals: Tensor,
  n: number,
  bits: number,
): Promise<{ keys: Tensor; vals: Tensor; spare: [Tensor, Tensor] }> {
  for (const [t, name] of [[keys, 'keys'], [vals, 'vals']] as const) {
    if (t.dtype !== 'u32' || t.size < n) throw new KernelError('radixSortPairs', `${t} must be u32 with at least ${n} values`, name);
  }
  if (!Number.isInteger(bits) || bits < 0 || bits > 32) throw new KernelError('radixSortPairs', `bits = ${bits} must be an integer in 0..32`);
  let src = { keys, vals };
  let dst = { keys: gpu.empty([Math.max(n, 1)], 'u32', 'sort keys'), vals: gpu.empty([Math.max(n, 1)], 'u32', 'sort values') };
  if (n <= 1) return { ...src, spare: [dst.keys, dst.vals] };
  const digit = RADIX_BITS;
  const ipt = RADIX_IPT;
  const histLength = 2 ** digit * chunksOf(n, ipt);
  const hist = gpu.empty([histLength], 'u32', 'sort histogram');
  try {
    for (let shift = 0; shift < bits; shift += digit) {
      const args = { n, shift, bits: digit, ipt };
      await gpu.run(radixCountKernel, args, { keys: src.keys, hist });
      await exclusiveScan(gpu, hist, histLength);
      await gpu.run(radixScatterKernel, args, { keys_in: src.keys, vals_in: src.vals, offsets: hist, keys_out: dst.keys, vals_out: dst.vals });
      [src, dst] = [dst, src];
    }
  } finally {
    gpu.release(hist);
  }
  return { ...src, spare: [dst.keys, dst.vals] };
}
