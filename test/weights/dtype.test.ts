import { describe, expect, it } from 'vitest';
import { f16BitsToF32, f32ToBF16Bits, f32ToF16Bits, firstNonFinite, toF32 } from '../../src/weights/dtype.js';

const u16 = (xs: number[]): Uint8Array => new Uint8Array(Uint16Array.from(xs).buffer);

describe('float16 → float32', () => {
  it('decodes special and boundary values exactly', () => {
    const cases: [number, number][] = [
      [0x0000, 0], [0x3c00, 1], [0xc000, -2], [0x3555, 0.333251953125], [0x7bff, 65504],
      [0x0001, 2 ** -24], [0x03ff, 1023 * 2 ** -24], [0x0400, 2 ** -14], [0x7c00, Infinity], [0xfc00, -Infinity],
    ];
    for (const [h, v] of cases) expect(f16BitsToF32(h)).toBe(v);
    expect(Object.is(f16BitsToF32(0x8000), -0)).toBe(true);
    expect(Number.isNaN(f16BitsToF32(0x7e00))).toBe(true);
  });

  it('array conversion matches the scalar one for all 65536 patterns, and float32 → float16 inverts it', () => {
    const all = Array.from({ length: 65536 }, (_, i) => i);
    const f = toF32('F16', u16(all));
    const bad: number[] = [];
    for (let h = 0; h < 65536; h++) {
      const v = f16BitsToF32(h);
      if (Number.isNaN(v)) {
        if (!Number.isNaN(f[h]!) || (f32ToF16Bits(f[h]!) & 0x7c00) !== 0x7c00) bad.push(h);
      } else if (!Object.is(f[h], v) || f32ToF16Bits(v) !== h) bad.push(h);
    }
    expect(bad).toEqual([]);
  });

  it('rounds to nearest, ties to even, with overflow to Inf and underflow through subnormals', () => {
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even (down)
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(f32ToF16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01); // above the tie
    expect(f32ToF16Bits(65519)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // rounds up to Inf
    expect(f32ToF16Bits(-1e6)).toBe(0xfc00);
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000); // exactly half the smallest subnormal: even → 0
    expect(f32ToF16Bits(1.5 * 2 ** -25)).toBe(0x0001);
    expect(f32ToF16Bits(1.5 * 2 ** -24)).toBe(0x0002); // tie between 1 and 2 units → 2
    expect(f32ToF16Bits(2 ** -14 - 2 ** -25)).toBe(0x0400); // carries from subnormal to the smallest normal
    expect(f32ToF16Bits(1e-10)).toBe(0x0000);
  });
});

describe('bfloat16', () => {
  it('decodes as the top half of float32', () => {
    const f = toF32('BF16', u16([0x3f80, 0xc040, 0x7f80, 0x0001, 0x8000]));
    expect([...f.slice(0, 3)]).toEqual([1, -3, Infinity]);
    expect(f[3]).toBe(2 ** -133); // a float32 subnormal
    expect(Object.is(f[4], -0)).toBe(true);
  });

  it('encodes with round-to-nearest-even', () => {
    expect(f32ToBF16Bits(1)).toBe(0x3f80);
    expect(f32ToBF16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie → even
    expect(f32ToBF16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(f32ToBF16Bits(3.4e38)).toBe(0x7f80); // overflow → Inf
    expect(f32ToBF16Bits(NaN) & 0x7fc0).toBe(0x7fc0);
  });
});

describe('other dtypes', () => {
  it('converts integers, bools and float64', () => {
    expect([...toF32('I64', new Uint8Array(BigInt64Array.from([-5n, 0n, 1234567n]).buffer))]).toEqual([-5, 0, 1234567]);
    expect([...toF32('I32', new Uint8Array(Int32Array.from([-7, 1 << 20]).buffer))]).toEqual([-7, 1 << 20]);
    expect([...toF32('I16', new Uint8Array(Int16Array.from([-300, 300]).buffer))]).toEqual([-300, 300]);
    expect([...toF32('I8', Uint8Array.from([0xff, 0x7f]))]).toEqual([-1, 127]);
    expect([...toF32('U8', Uint8Array.from([0, 255]))]).toEqual([0, 255]);
    expect([...toF32('BOOL', Uint8Array.from([0, 1, 2]))]).toEqual([0, 1, 1]);
    expect([...toF32('F64', new Uint8Array(Float64Array.from([0.5, -1e30]).buffer))]).toEqual([0.5, Math.fround(-1e30)]);
  });

  it('handles unaligned input buffers', () => {
    const backing = new Uint8Array(9);
    backing.set(new Uint8Array(Float32Array.from([1.5, -2]).buffer), 1);
    expect([...toF32('F32', backing.subarray(1))]).toEqual([1.5, -2]);
    const h = new Uint8Array(5);
    h.set(u16([0x3c00, 0xc000]), 1);
    expect([...toF32('F16', h.subarray(1))]).toEqual([1, -2]);
  });

  it('finds the first non-finite value', () => {
    expect(firstNonFinite(Float32Array.from([1, 2, 3]))).toBe(-1);
    expect(firstNonFinite(Float32Array.from([1, Infinity, NaN]))).toBe(1);
    expect(firstNonFinite(Float32Array.from([0, -0, NaN]))).toBe(2);
  });
});
