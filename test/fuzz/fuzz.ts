// Fuzzing the file readers: weight files (safetensors, PyTorch zip, TorchScript), images (JPEG,
// PNG), label PNGs, .npy files, label-set JSON and VOC split lists, mutated from valid seeds by
// truncation, bit flips, byte overwrites, lying lengths, huge shapes, a deep pickle and a zip bomb.
// Every input must end in a correct load or a named error (IoError, WeightFileError,
// LabelSetError), within a time limit, without the process growing past a memory bound. A run is
// reproducible from its seed; each finding names the input index to replay.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync, unzipSync, zipSync } from 'fflate';
import { IoError } from '../../src/io/errors.js';
import { decodeImage } from '../../src/io/image.js';
import { decodeLabelPng } from '../../src/io/labelpng.js';
import { decodeNpy, encodeNpy } from '../../src/io/npy.js';
import { parseSplitList } from '../../src/io/voc.js';
import { WeightFileError } from '../../src/weights/errors.js';
import { loadClip, loadWeights } from '../../src/weights/index.js';
import { worldLabelSetJson } from '../../src/world/labelset.js';
import { LabelSetError, parseLabelSet } from '../../src/wsss/labelset.js';
import { rng } from '../helpers/rng.js';

const ROOT = join(import.meta.dirname, '..', '..');
const FIXTURES = join(ROOT, 'test', 'fixtures');

/** Named errors: what a bad input must end in. */
const NAMED = [IoError, WeightFileError, LabelSetError];

export interface FuzzOptions {
  inputs: number;
  seed: number;
  /** A single input exceeding this many ms is reported as a hang. */
  timeLimitMs?: number;
  /** Process RSS above this many bytes is reported. */
  memoryLimitBytes?: number;
  /** Run only input `only` (replay). */
  only?: number;
  onProgress?: (done: number) => void;
}

export interface Finding {
  index: number;
  target: string;
  mutation: string;
  problem: 'unnamed exception' | 'hang' | 'memory';
  detail: string;
}

export interface FuzzReport {
  seed: number;
  inputs: number;
  loaded: number;
  namedErrors: number;
  byTarget: Record<string, { inputs: number; loaded: number; named: number }>;
  findings: Finding[];
  slowestMs: number;
  peakRssBytes: number;
  seconds: number;
}

interface Target {
  name: string;
  seeds: Uint8Array[];
  /** Extra crafted inputs for this target (deep pickle, zip bomb, lying lengths, huge shapes). */
  crafted?: () => [string, Uint8Array][];
  load(bytes: Uint8Array): Promise<unknown>;
}

const read = (...p: string[]) => new Uint8Array(readFileSync(join(FIXTURES, ...p)));
const text = (s: string) => new TextEncoder().encode(s);

/** A torch.save zip whose data.pkl is replaced by `pickle` (the other entries kept). */
function withPickle(zip: Uint8Array, pickle: Uint8Array): Uint8Array {
  const entries = unzipSync(zip);
  const name = Object.keys(entries).find((n) => n.endsWith('data.pkl'))!;
  entries[name] = pickle as Uint8Array<ArrayBuffer>;
  return zipSync(Object.fromEntries(Object.entries(entries).map(([n, b]) => [n, [b, { level: 0 }]])));
}

function deepPickle(depth: number): Uint8Array {
  // PROTO 2, then `depth` MARKs, an empty list, `depth` LIST ops folding it into nested lists, STOP.
  const out = new Uint8Array(3 + depth + 1 + depth + 1);
  out.set([0x80, 0x02], 0);
  out.fill(0x28, 2, 2 + depth); // '('
  out[2 + depth] = 0x5d; // ']'
  out.fill(0x6c, 3 + depth, 3 + 2 * depth); // 'l'
  out[out.length - 1] = 0x2e; // '.'
  return out;
}

function targets(): Target[] {
  const safetensors = read('weights', 'tiny', 'clip_openai.safetensors');
  const stateDict = read('weights', 'tiny', 'clip_state_dict.pt');
  const torchscript = read('weights', 'tiny', 'clip_torchscript.pt');
  const convnet = read('weights', 'tiny', 'convnet.pth');
  const jpegs = ['baseline_420.jpg', 'progressive_420.jpg', 'cmyk_adobe.jpg', 'arithmetic.jpg', 'restart.jpg'].map((f) => read('decode', f));
  const pngs = ['interlaced_rgba16.png', 'palette4.png', 'grey16.png', 'rgb_trns.png'].map((f) => read('decode', f));
  const labelPngs = ['labels_palette.png', 'labels_grey.png', 'labels_palette_4bit.png'].map((f) => read('io', f));
  const npy = encodeNpy(Float32Array.from({ length: 60 }, (_, i) => Math.sin(i)), [3, 4, 5]);
  const labelSet = text(JSON.stringify(worldLabelSetJson()));
  const split = text('2007_000032\n2007_000039 1\n2007_000063\n');
  const loadAll = async (bytes: Uint8Array) => {
    const file = await loadWeights(bytes, { name: 'fuzz' });
    try {
      for (const key of file.keys) await file.getF32(key);
    } finally {
      await file.close();
    }
  };
  return [
    {
      name: 'safetensors',
      seeds: [safetensors],
      load: (b) => loadClip(b),
      crafted: () => {
        const headerLength = Number(new DataView(safetensors.buffer, safetensors.byteOffset).getBigUint64(0, true));
        const lying = safetensors.slice();
        new DataView(lying.buffer).setBigUint64(0, 2n ** 40n, true);
        const header = new TextDecoder().decode(safetensors.subarray(8, 8 + headerLength));
        const huge = header.replace(/"shape":\[(\d+)/, '"shape":[1000000000000');
        const hugeBytes = text(huge);
        const hugeFile = new Uint8Array(8 + hugeBytes.length + safetensors.length - 8 - headerLength);
        new DataView(hugeFile.buffer).setBigUint64(0, BigInt(hugeBytes.length), true);
        hugeFile.set(hugeBytes, 8);
        hugeFile.set(safetensors.subarray(8 + headerLength), 8 + hugeBytes.length);
        return [
          ['lying header length', lying],
          ['huge shape', hugeFile],
        ];
      },
    },
    {
      name: 'torch zip',
      seeds: [stateDict, convnet],
      load: loadAll,
      crafted: () => {
        // 64 MiB of zeros behind a 64 kB deflate stream: the reader must not inflate it blindly.
        const bomb = zipSync({ 'archive/data.pkl': [new Uint8Array(64 * 2 ** 20), { level: 9 }] });
        return [
          ['deep pickle (100,000 levels)', withPickle(stateDict, deepPickle(100_000))],
          ['zip bomb', bomb],
          ['deflated data.pkl', zipSync(Object.fromEntries(Object.entries(unzipSync(stateDict)).map(([n, b]) => [n, [b, { level: 6 }]])))],
          ['raw deflate, no zip', deflateSync(stateDict.subarray(0, 4096))],
        ];
      },
    },
    { name: 'torchscript', seeds: [torchscript], load: (b) => loadClip(b) },
    { name: 'jpeg', seeds: jpegs, load: (b) => decodeImage(b, 'fuzz.jpg') },
    { name: 'png', seeds: pngs, load: (b) => decodeImage(b, 'fuzz.png') },
    { name: 'label png', seeds: labelPngs, load: async (b) => decodeLabelPng(b, 'fuzz.png') },
    { name: 'npy', seeds: [npy], load: async (b) => decodeNpy(b, 'fuzz.npy') },
    {
      name: 'label set',
      seeds: [labelSet],
      load: async (b) => {
        let json: unknown;
        try {
          json = JSON.parse(new TextDecoder().decode(b));
        } catch (err) {
          // A file that is not JSON: loadLabelSet reports it as a LabelSetError naming the file.
          throw new LabelSetError(`fuzz.json: not JSON (${(err as Error).message})`);
        }
        return parseLabelSet(json, 'fuzz.json');
      },
    },
    { name: 'split list', seeds: [split], load: async (b) => parseSplitList(new TextDecoder().decode(b), 'fuzz.txt') },
  ];
}

function mutate(seed: Uint8Array, random: () => number): [string, Uint8Array] {
  const kind = Math.floor(random() * 5);
  const at = () => Math.floor(random() * seed.length);
  if (kind === 0) {
    const keep = at();
    return [`truncate to ${keep} bytes`, seed.slice(0, keep)];
  }
  const out = seed.slice();
  if (kind === 1) {
    const n = 1 + Math.floor(random() * 8);
    for (let i = 0; i < n; i++) {
      const p = at();
      out[p] ^= 1 << Math.floor(random() * 8);
    }
    return [`flip ${n} bits`, out];
  }
  if (kind === 2) {
    const n = 1 + Math.floor(random() * 16);
    for (let i = 0; i < n; i++) out[at()] = [0x00, 0xff, 0x7f, 0x80, Math.floor(random() * 256)][Math.floor(random() * 5)]!;
    return [`overwrite ${n} bytes`, out];
  }
  if (kind === 3) {
    // A 32-bit field (a length, an offset, a size) set to a lie: 0, tiny, huge.
    const p = Math.min(at(), Math.max(0, seed.length - 4));
    const lie = [0, 1, 0x7fffffff, 0xffffffff, seed.length * 1000][Math.floor(random() * 5)]!;
    new DataView(out.buffer).setUint32(p, lie >>> 0, random() < 0.5);
    return [`lying 32-bit field at ${p}`, out];
  }
  // Cut a slice out of the middle.
  const from = at();
  const length = Math.floor(random() * Math.min(4096, seed.length - from));
  const cut = new Uint8Array(seed.length - length);
  cut.set(seed.subarray(0, from));
  cut.set(seed.subarray(from + length), from);
  return [`remove ${length} bytes at ${from}`, cut];
}

export async function fuzz(options: FuzzOptions): Promise<FuzzReport> {
  const timeLimit = options.timeLimitMs ?? 5000;
  const memoryLimit = options.memoryLimitBytes ?? 3 * 2 ** 30;
  const all = targets();
  const crafted = all.flatMap((t) => (t.crafted?.() ?? []).map(([what, bytes]) => ({ target: t, what, bytes })));
  const report: FuzzReport = { seed: options.seed, inputs: 0, loaded: 0, namedErrors: 0, byTarget: {}, findings: [], slowestMs: 0, peakRssBytes: 0, seconds: 0 };
  const started = performance.now();
  for (let index = 0; index < options.inputs; index++) {
    // Each input has its own generator, so input i replays alone from (seed, i).
    const random = rng(options.seed * 1_000_003 + index);
    let target: Target;
    let mutation: string;
    let bytes: Uint8Array;
    if (index < crafted.length) ({ target, what: mutation, bytes } = crafted[index]!);
    else {
      target = all[Math.floor(random() * all.length)]!;
      [mutation, bytes] = mutate(target.seeds[Math.floor(random() * target.seeds.length)]!, random);
    }
    if (options.only !== undefined && index !== options.only) continue;
    const stats = (report.byTarget[target.name] ??= { inputs: 0, loaded: 0, named: 0 });
    stats.inputs++;
    report.inputs++;
    const t0 = performance.now();
    try {
      await target.load(bytes);
      stats.loaded++;
      report.loaded++;
    } catch (err) {
      if (NAMED.some((E) => err instanceof E)) {
        stats.named++;
        report.namedErrors++;
      } else {
        report.findings.push({ index, target: target.name, mutation, problem: 'unnamed exception', detail: err instanceof Error ? `${err.name}: ${err.message}`.slice(0, 300) : String(err) });
      }
    }
    const ms = performance.now() - t0;
    report.slowestMs = Math.max(report.slowestMs, ms);
    if (ms > timeLimit) report.findings.push({ index, target: target.name, mutation, problem: 'hang', detail: `${ms.toFixed(0)} ms` });
    const rss = process.memoryUsage().rss;
    report.peakRssBytes = Math.max(report.peakRssBytes, rss);
    if (rss > memoryLimit) report.findings.push({ index, target: target.name, mutation, problem: 'memory', detail: `RSS ${(rss / 2 ** 20).toFixed(0)} MiB` });
    options.onProgress?.(index + 1);
  }
  report.seconds = (performance.now() - started) / 1000;
  return report;
}
