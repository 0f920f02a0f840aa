import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { WeightFileError } from '../../src/weights/errors.js';
import { loadWeights } from '../../src/weights/index.js';
import { expectWeightError, f32Bytes, PickleBuilder, stateDictPickle, tempDir, TINY, TINY_CLIP_FILES, torchZip } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const CONVNET = join(TINY, 'convnet.pth');
type Expected = Record<string, { dtype: string; shape: number[]; values: number[] }>;
const expected = JSON.parse(readFileSync(join(TINY, 'convnet.expected.json'), 'utf8')) as Expected;

describe('torch.save archives', () => {
  it('reads every tensor of a generic checkpoint exactly: views, offsets, strides, shared storages, all dtypes', async () => {
    const f = await loadWeights(CONVNET);
    expect(f.format).toBe('torch-zip');
    expect([...f.keys].sort()).toEqual(Object.keys(expected).sort());
    for (const [key, e] of Object.entries(expected)) {
      expect(f.info(key), key).toEqual({ dtype: e.dtype, shape: e.shape });
      const got = await f.getF32(key);
      expect([...got], key).toEqual(e.values.map((v) => Math.fround(v)));
    }
    // int64 survives exactly through getRaw
    const raw = await f.getRaw('state_dict.bn1.num_batches_tracked');
    expect(new BigInt64Array(raw.buffer)[0]).toBe(1234567n);
    await f.close();
  });

  it('reads the same from a Blob (browser path) as from a file handle', async () => {
    const bytes = readFileSync(CONVNET);
    const blob = new Blob([bytes]);
    const f = await loadWeights(blob);
    expect(f.name).toBe('<blob>');
    for (const key of ['extras.transposed', 'extras.half_strided', 'extras.view_offset']) {
      expect([...(await f.getF32(key))]).toEqual(expected[key]!.values.map((v) => Math.fround(v)));
    }
  });

  it('recognises TorchScript archives and mixed Half/Float storages', async () => {
    const f = await loadWeights(TINY_CLIP_FILES.torchScript);
    expect(f.format).toBe('torchscript');
    expect(f.info('visual.transformer.resblocks.0.attn.in_proj_weight').dtype).toBe('F16');
    expect(f.info('visual.ln_pre.weight').dtype).toBe('F32');
    expect(f.info('input_resolution')).toEqual({ dtype: 'I64', shape: [] });
    expect([...(await f.getF32('input_resolution'))]).toEqual([48]);
    await f.close();
  });

  it('reads hand-built archives with shared storages and offsets', async () => {
    const pickle = stateDictPickle([
      { key: 'a', storageKey: 's', numel: 6, shape: [2, 2], stride: [1, 2] }, // transposed view
      { key: 'b', storageKey: 's', numel: 6, offset: 4, shape: [2] },
    ]);
    const f = await loadWeights(torchZip(pickle, { s: f32Bytes([0, 1, 2, 3, 4, 5]) }), { name: 'shared.pt' });
    expect([...(await f.getF32('a'))]).toEqual([0, 2, 1, 3]);
    expect([...(await f.getF32('b'))]).toEqual([4, 5]);
  });
});

describe('PyTorch archives: bad files get a named error', () => {
  it('a .pt that is not a zip', async () => {
    const path = tmp.write('notzip.pt', 'this is plainly not a checkpoint\n');
    await expectWeightError(loadWeights(path), path, 'is not a zip archive', '74 68 69 73');
    const legacy = tmp.write('legacy.pt', Uint8Array.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8]));
    await expectWeightError(loadWeights(legacy), legacy, 'not a zip archive but a bare pickle', 'legacy (PyTorch < 1.6) torch.save');
    const empty = tmp.write('empty.pt', '');
    await expectWeightError(loadWeights(empty), empty, 'the file is empty');
  });

  it('truncated archive (cut anywhere)', async () => {
    const bytes = readFileSync(TINY_CLIP_FILES.stateDict);
    for (const keep of [bytes.length - 1, bytes.length - 30, Math.floor(bytes.length / 2), 100]) {
      const path = tmp.write(`cut-${keep}.pt`, bytes.subarray(0, keep));
      await expectWeightError(loadWeights(path), path, /truncated/);
    }
  });

  it('a pickle naming a forbidden global (os.system) inside a .pt', async () => {
    const pickle = new PickleBuilder().global('os', 'system').str('echo pwned').raw(0x85).reduce().stop().bytes();
    const path = tmp.write('evil.pt', torchZip(pickle, {}));
    await expectWeightError(loadWeights(path), path, "pickle 'archive/data.pkl'", "forbidden global 'os.system'", 'nothing was executed');
  });

  it('a whole pickled nn.Module (its class is a forbidden global)', async () => {
    const pickle = new PickleBuilder().global('__main__', 'Net').emptyTuple().raw(0x81).stop().bytes();
    const path = tmp.write('module.pt', torchZip(pickle, {}));
    await expectWeightError(loadWeights(path), path, "forbidden global '__main__.Net'", 'save a state_dict');
  });

  it('missing storage, storage too small, view outside its storage', async () => {
    const p1 = tmp.write('missing.pt', torchZip(stateDictPickle([{ key: 'w', storageKey: '7', shape: [2] }]), {}));
    await expectWeightError(loadWeights(p1), p1, "tensor 'w': storage entry 'archive/data/7' is missing");
    const p2 = tmp.write('small.pt', torchZip(stateDictPickle([{ key: 'w', storageKey: '0', numel: 100, shape: [100] }]), { '0': f32Bytes([1, 2]) }));
    await expectWeightError(loadWeights(p2), p2, "storage 'archive/data/0' holds 8 bytes but 100 F32 elements need 400");
    const p3 = tmp.write('view.pt', torchZip(stateDictPickle([{ key: 'w', storageKey: '0', numel: 2, offset: 1, shape: [2] }]), { '0': f32Bytes([1, 2]) }));
    await expectWeightError(loadWeights(p3), p3, "tensor 'w': view (offset 1, size [2], stride [1]) reaches element 2 of a 2-element storage");
  });

  it('a compressed storage (archive re-packed by a zip tool)', async () => {
    const path = tmp.write('deflated.pt', torchZip(stateDictPickle([{ key: 'w', shape: [64] }]), { '0': new Uint8Array(256) }, { level: 6 }));
    await expectWeightError(loadWeights(path), path, 'compressed or encrypted (method 8)');
  });

  it('a zip that is not a PyTorch archive', async () => {
    const { zipSync } = await import('fflate');
    const path = tmp.write('other.pt', zipSync({ 'readme.txt': new TextEncoder().encode('hi') }));
    await expectWeightError(loadWeights(path), path, 'has no data.pkl');
  });

  it('NaN/Inf in a storage', async () => {
    const path = tmp.write('nan.pt', torchZip(stateDictPickle([{ key: 'layer.weight', shape: [3] }]), { '0': f32Bytes([1, Infinity, 2]) }));
    const f = await loadWeights(path);
    await expectWeightError(f.getF32('layer.weight'), path, "tensor 'layer.weight'", 'non-finite', 'Infinity at flat index 1');
    await f.close();
  });

  it('never crashes: every truncation and byte flip of a real data.pkl gives data or a WeightFileError', async () => {
    const entries = unzipSync(readFileSync(TINY_CLIP_FILES.torchScript));
    const pklName = Object.keys(entries).find((n) => n.endsWith('/data.pkl'))!;
    const pkl = entries[pklName]!;
    const { unpickle } = await import('../../src/weights/unpickle.js');
    const attempt = (bytes: Uint8Array): void => {
      try {
        unpickle(bytes, { file: 'fuzz.pt', entry: pklName, torchScriptClasses: true });
      } catch (err) {
        if (!(err instanceof WeightFileError)) throw err;
      }
    };
    for (let cut = 0; cut < pkl.length; cut += 7) attempt(pkl.subarray(0, cut));
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 2000; i++) {
      const copy = pkl.slice();
      for (let j = 0; j < 3; j++) copy[rand(copy.length)] = rand(256);
      attempt(copy);
    }
  });
});

describe('container fuzzing', () => {
  // Flips bytes in the region holding the headers and reads every tensor: the outcome must be
  // data or a WeightFileError, never a RangeError, hang or crash.
  async function fuzz(bytes: Uint8Array, from: number, to: number, rounds: number, name: string): Promise<void> {
    let seed = 777;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < rounds; i++) {
      const copy = bytes.slice();
      for (let j = 0; j < 2; j++) copy[from + rand(to - from)] = rand(256);
      try {
        const f = await loadWeights(copy, { name, nonFinite: 'allow' });
        for (const key of f.keys) await f.getF32(key);
      } catch (err) {
        if (!(err instanceof WeightFileError)) throw new Error(`round ${i}: ${(err as Error).stack}`);
      }
    }
  }

  it('zip central directory and local headers', async () => {
    const bytes = new Uint8Array(readFileSync(CONVNET));
    await fuzz(bytes, bytes.length - 1200, bytes.length, 1500, 'fuzz.pth');
    await fuzz(bytes, 0, 200, 300, 'fuzz.pth');
  });

  it('safetensors header', async () => {
    const bytes = new Uint8Array(readFileSync(TINY_CLIP_FILES.openaiSafetensors));
    const headerEnd = 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true));
    await fuzz(bytes, 0, headerEnd, 1500, 'fuzz.safetensors');
  });
});
