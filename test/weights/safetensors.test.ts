import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadWeights } from '../../src/weights/index.js';
import { MAX_HEADER_BYTES, encodeSafetensors, writeSafetensorsFile, type SafetensorsEntry } from '../../src/weights/safetensors.js';
import { expectWeightError, f32Bytes, rawSafetensors, tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const u16 = (xs: number[]): Uint8Array => new Uint8Array(Uint16Array.from(xs).buffer);

const ENTRIES: SafetensorsEntry[] = [
  { name: 'f32', dtype: 'F32', shape: [2, 3], data: f32Bytes([1, -2, 3.5, 0, 1e-3, -7]) },
  { name: 'f16', dtype: 'F16', shape: [3], data: u16([0x3c00, 0xc000, 0x7bff]) },
  { name: 'bf16', dtype: 'BF16', shape: [2], data: u16([0x3f80, 0xc040]) },
  { name: 'f64', dtype: 'F64', shape: [1], data: new Uint8Array(Float64Array.from([0.25]).buffer) },
  { name: 'i64', dtype: 'I64', shape: [1, 2], data: new Uint8Array(BigInt64Array.from([-3n, 77n]).buffer) },
  { name: 'scalar', dtype: 'F32', shape: [], data: f32Bytes([42]) },
  { name: 'empty', dtype: 'F32', shape: [0, 4], data: new Uint8Array(0) },
];
const EXPECTED: Record<string, number[]> = {
  f32: [1, -2, 3.5, 0, Math.fround(1e-3), -7], f16: [1, -2, 65504], bf16: [1, -3], f64: [0.25], i64: [-3, 77], scalar: [42], empty: [],
};

describe('safetensors reader', () => {
  it('reads every dtype from a path, a Blob and bytes alike', async () => {
    const bytes = await encodeSafetensors(ENTRIES, { note: 'hello' });
    const path = tmp.write('all.safetensors', bytes);
    for (const input of [path, new Blob([bytes]), bytes]) {
      const f = await loadWeights(input);
      expect(f.format).toBe('safetensors');
      expect(f.keys).toEqual(ENTRIES.map((e) => e.name));
      expect(f.metadata).toEqual({ note: 'hello' });
      for (const e of ENTRIES) {
        expect(f.info(e.name)).toEqual({ dtype: e.dtype, shape: e.shape });
        expect([...(await f.getF32(e.name))]).toEqual(EXPECTED[e.name]);
      }
      expect([...new BigInt64Array((await f.getRaw('i64')).buffer)]).toEqual([-3n, 77n]);
      await f.close();
    }
  });

  it('writes files tensor by tensor that read back identically, data 8-byte aligned', async () => {
    const path = tmp.path('written.safetensors');
    await writeSafetensorsFile(path, ENTRIES.map((e) => ({ ...e, data: async () => e.data as Uint8Array })), { a: 'b' });
    const bytes = readFileSync(path);
    expect(Number(bytes.readBigUInt64LE(0)) % 8).toBe(0);
    const f = await loadWeights(path);
    for (const e of ENTRIES) expect([...(await f.getF32(e.name))]).toEqual(EXPECTED[e.name]);
    await f.close();
  });

  it('names the file and the tensor for an unknown key', async () => {
    const f = await loadWeights(await encodeSafetensors(ENTRIES), { name: 'mem.safetensors' });
    await expectWeightError(f.getF32('nope'), "mem.safetensors: tensor 'nope': no such tensor");
  });
});

describe('safetensors: bad files get a named error', () => {
  const good = (): Promise<Uint8Array> => encodeSafetensors(ENTRIES);

  it('truncated file', async () => {
    const bytes = await good();
    const path = tmp.write('truncated.safetensors', bytes.subarray(0, bytes.length - 5));
    await expectWeightError(loadWeights(path), path, "tensor 'i64'", 'past the end of the data section', 'truncated');
  });

  it('header offsets past the end', async () => {
    const path = tmp.write('offsets.safetensors', rawSafetensors({ w: { dtype: 'F32', shape: [4], data_offsets: [16, 32] } }, f32Bytes([1, 2, 3, 4])));
    await expectWeightError(loadWeights(path), path, "tensor 'w'", 'data_offsets [16, 32) go past the end of the data section (16 bytes)');
  });

  it('overlapping tensors', async () => {
    const header = {
      a: { dtype: 'F32', shape: [3], data_offsets: [0, 12] },
      b: { dtype: 'F32', shape: [3], data_offsets: [8, 20] },
    };
    const path = tmp.write('overlap.safetensors', rawSafetensors(header, new Uint8Array(20)));
    await expectWeightError(loadWeights(path), path, "tensors 'a' [0, 12) and 'b' [8, 20) overlap");
  });

  it('dtype/shape mismatch', async () => {
    const path = tmp.write('mismatch.safetensors', rawSafetensors({ w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] } }, new Uint8Array(20)));
    await expectWeightError(loadWeights(path), path, "tensor 'w'", 'dtype/shape mismatch: F32 [2,3] needs 24 bytes but data_offsets [0, 20) hold 20');
  });

  it('absurd header length', async () => {
    const path = tmp.write('absurd.safetensors', rawSafetensors({}, new Uint8Array(8), 2n ** 62n));
    await expectWeightError(loadWeights(path), path, `header length ${2n ** 62n} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  });

  it('header length larger than the file', async () => {
    const path = tmp.write('long.safetensors', rawSafetensors({}, new Uint8Array(8), 5000n));
    await expectWeightError(loadWeights(path), path, 'header length 5000 bytes runs past the end of the file');
  });

  it('malformed headers: JSON, dtype, shape, offsets, metadata', async () => {
    await expectWeightError(loadWeights(rawSafetensors('{"w": ', new Uint8Array(0)), { name: 'x.safetensors' }), 'x.safetensors', 'not valid JSON');
    await expectWeightError(loadWeights(rawSafetensors('[1,2]', new Uint8Array(0)), { name: 'x.safetensors' }), 'not a JSON object');
    await expectWeightError(
      loadWeights(rawSafetensors({ w: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), { name: 'x.safetensors' }),
      "tensor 'w': unsupported dtype \"F8_E4M3\"",
    );
    await expectWeightError(
      loadWeights(rawSafetensors({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), { name: 'x.safetensors' }),
      'not a list of non-negative integers',
    );
    await expectWeightError(
      loadWeights(rawSafetensors({ w: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, new Uint8Array(4)), { name: 'x.safetensors' }),
      'data_offsets [4,0] is not a [begin, end] pair',
    );
    await expectWeightError(loadWeights(Uint8Array.from([1, 2, 3]), { name: 'tiny.safetensors' }), 'too small to be a safetensors file');
  });

  it('lists every header problem in one error', async () => {
    const header = {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] },
      b: { dtype: 'F32', shape: [1], data_offsets: [4, 400] },
    };
    await expectWeightError(loadWeights(rawSafetensors(header, new Uint8Array(8)), { name: 'x.safetensors' }), '2 problem(s)', "tensor 'a'", "tensor 'b'");
  });

  it('NaN/Inf in weights: error by default, warning or silence by option', async () => {
    const bytes = await encodeSafetensors([
      { name: 'ok', dtype: 'F32', shape: [2], data: f32Bytes([1, 2]) },
      { name: 'bad', dtype: 'F16', shape: [3], data: u16([0x3c00, 0x7e00, 0xfc00]) },
    ]);
    const path = tmp.write('nan.safetensors', bytes);
    const f = await loadWeights(path);
    expect([...(await f.getF32('ok'))]).toEqual([1, 2]);
    await expectWeightError(f.getF32('bad'), path, "tensor 'bad'", '2 non-finite value(s) (first: NaN at flat index 1)');
    await f.close();

    const warnings: string[] = [];
    const w = await loadWeights(path, { nonFinite: 'warn', onWarning: (m) => warnings.push(m) });
    const data = await w.getF32('bad');
    expect(Number.isNaN(data[1]!)).toBe(true);
    expect(data[2]).toBe(-Infinity);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`${path}: tensor 'bad': holds 2 non-finite`);
    await w.close();

    const a = await loadWeights(path, { nonFinite: 'allow', onWarning: () => { throw new Error('no warning expected'); } });
    await a.getF32('bad');
    await a.close();
  });
});
