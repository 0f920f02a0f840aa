// Test helpers: fixture paths, temp dirs, and builders for hand-made (often deliberately broken)
// pickles, PyTorch zips and safetensors files.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { zipSync } from 'fflate';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TINY = join(ROOT, 'test', 'fixtures', 'weights', 'tiny');

/** The four CLIP formats of the tiny fixture (see weights/README.md). */
export const TINY_CLIP_FILES = {
  stateDict: join(TINY, 'clip_state_dict.pt'),
  torchScript: join(TINY, 'clip_torchscript.pt'),
  openaiSafetensors: join(TINY, 'clip_openai.safetensors'),
  hfSafetensors: join(TINY, 'hf', 'model.safetensors'),
} as const;

/** A fresh temp dir, removed by the returned cleanup. */
export function tempDir(): { dir: string; path: (name: string) => string; write: (name: string, bytes: Uint8Array | string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'seedmask-weights-'));
  return {
    dir,
    path: (name) => join(dir, name),
    write: (name, bytes) => {
      const p = join(dir, name);
      writeFileSync(p, bytes);
      return p;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Assembles pickle bytes opcode by opcode (protocol 2), enough for torch-style state dicts. */
export class PickleBuilder {
  private readonly out: number[] = [0x80, 0x02];

  raw(...bytes: number[]): this {
    this.out.push(...bytes);
    return this;
  }
  private u32(n: number): number[] {
    return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.raw(0x58, ...this.u32(b.length), ...b); // BINUNICODE
  }
  int(n: number): this {
    if (n >= 0 && n < 256) return this.raw(0x4b, n); // BININT1
    return this.raw(0x4a, ...this.u32(n >>> 0)); // BININT
  }
  global(module: string, name: string): this {
    return this.raw(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
  }
  mark(): this { return this.raw(0x28); }
  tuple(): this { return this.raw(0x74); }
  emptyTuple(): this { return this.raw(0x29); }
  emptyDict(): this { return this.raw(0x7d); }
  setitems(): this { return this.raw(0x75); }
  reduce(): this { return this.raw(0x52); }
  none(): this { return this.raw(0x4e); }
  bool(b: boolean): this { return this.raw(b ? 0x88 : 0x89); }
  binpersid(): this { return this.raw(0x51); }
  stop(): this { return this.raw(0x2e); }
  intTuple(xs: number[]): this {
    this.mark();
    for (const x of xs) this.int(x);
    return this.tuple();
  }
  /** _rebuild_tensor_v2((storage pid), offset, size, stride, False, OrderedDict()) */
  tensor(t: { storageType: string; key: string; numel: number; offset?: number; shape: number[]; stride?: number[] }): this {
    const stride = t.stride ?? rowMajorStride(t.shape);
    this.global('torch._utils', '_rebuild_tensor_v2').mark();
    this.mark().str('storage').global('torch', t.storageType).str(t.key).str('cpu').int(t.numel).tuple().binpersid();
    this.int(t.offset ?? 0).intTuple(t.shape).intTuple(stride).bool(false);
    this.global('collections', 'OrderedDict').emptyTuple().reduce();
    return this.tuple().reduce();
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

export function rowMajorStride(shape: number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

export interface FakeTensor {
  key: string;
  storageType?: string; // default FloatStorage
  storageKey?: string; // default: own storage named after the index
  numel?: number; // storage numel; default: product of shape
  offset?: number;
  shape: number[];
  stride?: number[];
}

/** Pickle of a flat {key: tensor} dict, as torch.save(state_dict) writes it. */
export function stateDictPickle(tensors: FakeTensor[]): Uint8Array {
  const p = new PickleBuilder().emptyDict().mark();
  tensors.forEach((t, i) => {
    const numel = t.numel ?? t.shape.reduce((a, b) => a * b, 1);
    p.str(t.key).tensor({ storageType: t.storageType ?? 'FloatStorage', key: t.storageKey ?? String(i), numel, offset: t.offset, shape: t.shape, stride: t.stride });
  });
  return p.setitems().stop().bytes();
}

/** A torch.save-like zip: '<prefix>/data.pkl', '<prefix>/data/<key>', '<prefix>/version'. Level 0 = stored. */
export function torchZip(pickle: Uint8Array, storages: Record<string, Uint8Array>, opts: { prefix?: string; level?: 0 | 6 } = {}): Uint8Array {
  const prefix = opts.prefix ?? 'archive';
  const level = opts.level ?? 0;
  const files: Record<string, [Uint8Array, { level: 0 | 6 }]> = {
    [`${prefix}/data.pkl`]: [pickle, { level: 0 }],
  };
  for (const [k, v] of Object.entries(storages)) files[`${prefix}/data/${k}`] = [v, { level }];
  files[`${prefix}/version`] = [new TextEncoder().encode('3\n'), { level: 0 }];
  return zipSync(files);
}

export function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

/** safetensors bytes from a literal header object and data, optionally lying about the header length. */
export function rawSafetensors(header: unknown, data: Uint8Array, headerLength?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** Asserts that `promise` rejects with a WeightFileError whose message matches every pattern. */
export async function expectWeightError(promise: Promise<unknown>, ...patterns: (RegExp | string)[]): Promise<string> {
  let error: unknown;
  try {
    await promise;
  } catch (err) {
    error = err;
  }
  if (!(error instanceof Error)) throw new Error('expected a rejection, got success');
  if (error.name !== 'WeightFileError') throw new Error(`expected WeightFileError, got ${error.name}: ${error.message}`);
  for (const p of patterns) {
    const ok = typeof p === 'string' ? error.message.includes(p) : p.test(error.message);
    if (!ok) throw new Error(`error message does not match ${String(p)}:\n${error.message}`);
  }
  return error.message;
}
