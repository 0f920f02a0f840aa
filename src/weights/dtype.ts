// Element types found in weight files and their conversion to float32.
//
// Names follow safetensors ("F32", "BF16", ...). PyTorch storage classes map onto the same names
// (see TORCH_STORAGE_DTYPES). Everything is converted to Float32Array on load; integer tensors
// (BatchNorm's num_batches_tracked, HF's position_ids) convert too, which is exact below 2^24.
//
// All files store little-endian data. Typed arrays use the host byte order, so the conversions
// below assume a little-endian host (every platform Node and browsers ship on); `assertLittleEndian`
// turns the exotic case into a clear error instead of silently byte-swapped weights.

/** Element type of a stored tensor, named as in safetensors; every type is converted to float32 on load. */
export type DType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const DTYPE_SIZE: Readonly<Record<DType, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

export function isDType(s: unknown): s is DType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZE, s);
}

export function isFloatDType(d: DType): boolean {
  return d === 'F64' || d === 'F32' || d === 'F16' || d === 'BF16';
}

/** PyTorch storage class name (the GLOBAL after `torch.`) → element type. */
export const TORCH_STORAGE_DTYPES: Readonly<Record<string, DType>> = {
  DoubleStorage: 'F64',
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function assertLittleEndian(): void {
  if (!HOST_LITTLE_ENDIAN) throw new Error('seedmask weight loading needs a little-endian host');
}

// ---------------------------------------------------------------------------------------------
// float16 / bfloat16 → float32

let f16Table: Uint32Array | undefined;
const scratchF = new Float32Array(1);
const scratchU = new Uint32Array(scratchF.buffer);

/**
 * float32 bit patterns of all 65536 float16 values. A table lookup is both exact (it works on
 * bits, so NaN payloads and -0 survive) and several times faster than decoding each value.
 */
function halfToFloatTable(): Uint32Array {
  if (f16Table) return f16Table;
  const t = new Uint32Array(65536);
  const f = new Float32Array(t.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0x1f) {
      t[h] = (sign | 0x7f800000 | (mant << 13)) >>> 0; // Inf, or NaN with its payload
    } else if (exp === 0) {
      f[h] = (sign ? -1 : 1) * mant * 2 ** -24; // zero or subnormal: exact in float32
    } else {
      t[h] = (sign | ((exp - 15 + 127) << 23) | (mant << 13)) >>> 0;
    }
  }
  f16Table = t;
  return t;
}

export function f16BitsToF32(h: number): number {
  scratchU[0] = halfToFloatTable()[h & 0xffff]!;
  return scratchF[0]!;
}

// ---------------------------------------------------------------------------------------------
// float32 → float16 / bfloat16 (round to nearest, ties to even), used by the writer

/** float16 bit pattern nearest to `x` (ties to even; overflow gives ±Inf, NaN stays NaN). */
export function f32ToF16Bits(x: number): number {
  scratchF[0] = x;
  const bits = scratchU[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15; // float16 biased exponent
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // The result is a float16 subnormal (or zero): its unit is 2^-24.
    if (e < -10) return sign;
    const full = mant | 0x800000; // restore the implicit leading bit
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rem = full & ((1 << shift) - 1);
    let m = full >>> shift;
    if (rem > half || (rem === half && (m & 1) === 1)) m++; // may carry into the smallest normal: correct
    return sign | m;
  }
  let h = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++; // a carry may reach Inf: also correct
  return h;
}

/** bfloat16 bit pattern nearest to `x` (ties to even; NaN stays a quiet NaN). */
export function f32ToBF16Bits(x: number): number {
  scratchF[0] = x;
  const bits = scratchU[0]!;
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x40) & 0xffff;
  return Math.floor((bits + 0x7fff + ((bits >>> 16) & 1)) / 65536) & 0xffff;
}

/** Converts float32 values to float16 bits. Returns the count of finite inputs that overflowed. */
export function f32ArrayToF16(src: Float32Array, dst: Uint16Array): number {
  let overflow = 0;
  for (let i = 0; i < src.length; i++) {
    const h = f32ToF16Bits(src[i]!);
    if ((h & 0x7fff) === 0x7c00 && Number.isFinite(src[i]!)) overflow++;
    dst[i] = h;
  }
  return overflow;
}

// ---------------------------------------------------------------------------------------------
// raw little-endian bytes → Float32Array

/** Views `bytes` as a typed array when its offset is aligned, else copies it to a fresh buffer. */
function view<T>(bytes: Uint8Array, align: number, make: (b: ArrayBufferLike, off: number, n: number) => T): T {
  const n = bytes.byteLength / align;
  if (bytes.byteOffset % align === 0) return make(bytes.buffer, bytes.byteOffset, n);
  return make(bytes.slice().buffer, 0, n);
}

/**
 * Converts `bytes` (little-endian elements of `dtype`) to float32. For F32 input the result may
 * share memory with `bytes`: callers pass buffers they own.
 */
export function toF32(dtype: DType, bytes: Uint8Array): Float32Array {
  assertLittleEndian();
  switch (dtype) {
    case 'F32':
      return view(bytes, 4, (b, o, n) => new Float32Array(b, o, n));
    case 'F16': {
      const src = view(bytes, 2, (b, o, n) => new Uint16Array(b, o, n));
      const table = halfToFloatTable();
      const out = new Float32Array(src.length);
      const outBits = new Uint32Array(out.buffer);
      for (let i = 0; i < src.length; i++) outBits[i] = table[src[i]!]!;
      return out;
    }
    case 'BF16': {
      // bfloat16 is the top half of a float32: shifting the bits back is exact.
      const src = view(bytes, 2, (b, o, n) => new Uint16Array(b, o, n));
      const out = new Float32Array(src.length);
      const outBits = new Uint32Array(out.buffer);
      for (let i = 0; i < src.length; i++) outBits[i] = src[i]! << 16;
      return out;
    }
    case 'F64':
      return Float32Array.from(view(bytes, 8, (b, o, n) => new Float64Array(b, o, n)));
    case 'I64': {
      const src = view(bytes, 8, (b, o, n) => new BigInt64Array(b, o, n));
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = Number(src[i]!);
      return out;
    }
    case 'I32':
      return Float32Array.from(view(bytes, 4, (b, o, n) => new Int32Array(b, o, n)));
    case 'I16':
      return Float32Array.from(view(bytes, 2, (b, o, n) => new Int16Array(b, o, n)));
    case 'I8':
      return Float32Array.from(new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    case 'U8':
      return Float32Array.from(bytes);
    case 'BOOL':
      return Float32Array.from(bytes, (v) => (v !== 0 ? 1 : 0));
  }
}

/** Index of the first NaN or ±Inf in `a`, or -1. */
export function firstNonFinite(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    // v - v is NaN exactly when v is NaN or ±Inf; one comparison per element.
    if (v - v !== 0) return i;
  }
  return -1;
}
