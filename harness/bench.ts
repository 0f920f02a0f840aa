// The browser benchmark page. It runs nothing by itself: the driver (harness/bench-driver.ts) calls
// window.__bench one case at a time, so that it controls the order, prints progress, and keeps what
// finished if a later case brings the tab down. Each case runs seedmask, then each requested peer,
// on the same inputs; every output gets a checksum, and each peer's output is compared with
// seedmask's element by element.
import { Gpu } from '../src/browser.js';
import { SEEDMASK_NAME, prepareSeedmaskClip, prepareSeedmaskKernel } from './engines/seedmask.js';
import { loadOrt, ortName, prepareOrtClip, prepareOrtKernel, type OrtFlavour } from './engines/ort.js';
import { loadTfjs, prepareTfjsKernel, tfjsName } from './engines/tfjs.js';
import type { PreparedRun } from './engines/types.js';
import { agreement, checksum } from './lib/checksum.js';
import { clipImage, type ClipCaseSpec } from './lib/clip-cases.js';
import { kernelCases, type KernelCase } from './lib/kernel-cases.js';
import { measure, type MeasureOptions } from './lib/measure.js';
import { PROGRESS_MARK, type AdapterInfo, type CaseResult, type EngineId, type EngineRun, type PeerId } from './lib/results.js';

export interface KernelCaseInfo {
  name: string;
  family: string;
  shape: string;
  quick: boolean;
  peers: PeerId[];
}

export interface PageEnv {
  adapter: AdapterInfo;
  userAgent: string;
  crossOriginIsolated: boolean;
  /** Engine → name with version, or 'unavailable: <why>'. */
  versions: Record<string, string>;
}

export interface RunSpec {
  peers: PeerId[];
  measure: MeasureOptions;
}

export interface BenchApi {
  env(peers: PeerId[]): Promise<PageEnv>;
  kernelCases(): KernelCaseInfo[];
  runKernel(name: string, spec: RunSpec): Promise<CaseResult>;
  runClip(clip: ClipCaseSpec, spec: RunSpec): Promise<CaseResult>;
}

const log = document.getElementById('log')!;
/** Progress: on the page, and on the console with a marker the driver picks out. */
const say = (line: string) => {
  log.textContent += `${line}\n`;
  console.log(PROGRESS_MARK + line);
};

let gpuPromise: Promise<Gpu> | undefined;
const seedmaskGpu = () => (gpuPromise ??= Gpu.open());
const cases = kernelCases();
const ORT_FLAVOUR: Record<string, OrtFlavour> = { 'ort-jsep': 'jsep', 'ort-native': 'native' };

function peersOf(c: KernelCase): PeerId[] {
  return [...(c.onnx ? (['ort-jsep', 'ort-native'] as const) : []), ...(c.tfjs ? (['tfjs'] as const) : [])];
}

interface EngineOutcome {
  run: EngineRun;
  output?: Float32Array;
}

/** Prepare, time, read and free one engine's run; an error becomes part of the record. */
async function runEngine(engine: EngineId, fallbackName: string, prepare: () => Promise<PreparedRun>, opts: MeasureOptions): Promise<EngineOutcome> {
  let prepared: PreparedRun | undefined;
  try {
    prepared = await prepare();
    const timing = await measure(() => prepared!.run(), opts, prepared.initMs);
    const output = await prepared.read();
    const run: EngineRun = { engine, name: prepared.name, io: prepared.io, timing, checksum: checksum(output) };
    if (prepared.note) run.note = prepared.note;
    return { run, output };
  } catch (err) {
    return { run: { engine, name: prepared?.name ?? fallbackName, io: prepared?.io ?? 'gpu-resident', error: (err as Error).message || String(err) } };
  } finally {
    await prepared?.dispose().catch(() => undefined);
  }
}

/** Checksum in seedmask's layout and agreement with seedmask's output. */
function comparePeer(outcome: EngineOutcome, reference: Float32Array | undefined, tolerance: number, fromPeer?: (y: Float32Array) => Float32Array): EngineRun {
  const { run, output } = outcome;
  if (!output) return run;
  const y = fromPeer ? fromPeer(output) : output;
  run.checksum = checksum(y);
  if (reference) run.agreement = agreement(reference, y, tolerance);
  return run;
}

const peerFallbackName = (p: PeerId) => (p === 'tfjs' ? 'tfjs webgpu backend' : `onnxruntime-web ${p}`);

const api: BenchApi = {
  async env(peers) {
    const gpu = await seedmaskGpu();
    const a = gpu.traits.adapter;
    const versions: Record<string, string> = { seedmask: SEEDMASK_NAME };
    for (const p of peers) {
      try {
        if (p === 'tfjs') {
          await loadTfjs();
          versions[p] = tfjsName();
        } else versions[p] = ortName(await loadOrt(ORT_FLAVOUR[p]!), ORT_FLAVOUR[p]!);
      } catch (err) {
        versions[p] = `unavailable: ${(err as Error).message}`;
      }
    }
    return {
      adapter: { name: gpu.adapterName, kind: a.kind, vendor: a.vendor, architecture: a.architecture, device: a.device, description: a.description, features: [...gpu.device.features].sort() },
      userAgent: navigator.userAgent,
      crossOriginIsolated: globalThis.crossOriginIsolated ?? false,
      versions,
    };
  },

  kernelCases: () => cases.map((c) => ({ name: c.name, family: c.family, shape: c.shape, quick: c.quick, peers: peersOf(c) })),

  async runKernel(name, spec) {
    const c = cases.find((x) => x.name === name);
    if (!c) throw new Error(`no kernel case '${name}' (cases: ${cases.map((x) => x.name).join(', ')})`);
    say(`${c.name}: seedmask…`);
    const inputs = c.inputs();
    const gpu = await seedmaskGpu();
    const mine = await runEngine('seedmask', SEEDMASK_NAME, () => prepareSeedmaskKernel(gpu, c, inputs), spec.measure);
    const peers: EngineRun[] = [];
    for (const p of spec.peers.filter((x) => peersOf(c).includes(x))) {
      say(`${c.name}: ${p}…`);
      const prepare = p === 'tfjs' ? () => prepareTfjsKernel(c, inputs) : () => prepareOrtKernel(ORT_FLAVOUR[p]!, c, inputs);
      peers.push(comparePeer(await runEngine(p, peerFallbackName(p), prepare, spec.measure), mine.output, c.tolerance, c.fromPeer));
    }
    return { kind: 'kernel', name: c.name, family: c.family, shape: c.shape, role: c.role, work: c.work, unit: c.unit, tolerance: c.tolerance, seedmask: mine.run, peers };
  },

  async runClip(clip, spec) {
    const image = clipImage(clip.height, clip.width);
    const name = `clip ${clip.model} ${clip.width}×${clip.height}`;
    say(`${name}: seedmask…`);
    const gpu = await seedmaskGpu();
    let shape = `${clip.width}×${clip.height}`;
    let flops = 0;
    const mine = await runEngine('seedmask', SEEDMASK_NAME, async () => {
      const p = await prepareSeedmaskClip(gpu, { weightsUrl: clip.weightsUrl, height: clip.height, width: clip.width, image });
      flops = p.flops;
      shape = `${clip.width}×${clip.height} → ${p.tokens}×${p.embedDim}`;
      return p;
    }, spec.measure);
    const peers: EngineRun[] = [];
    for (const p of spec.peers.filter((x) => x !== 'tfjs')) {
      if (!clip.onnxUrl) {
        peers.push({ engine: p, name: peerFallbackName(p), io: 'host', error: 'no ONNX export of this model (weights/export_onnx.py)' });
        continue;
      }
      say(`${name}: ${p}…`);
      const onnxUrl = clip.onnxUrl;
      const outcome = await runEngine(p, peerFallbackName(p), () => prepareOrtClip(ORT_FLAVOUR[p]!, { onnxUrl, height: clip.height, width: clip.width, image }), spec.measure);
      peers.push(comparePeer(outcome, mine.output, clip.tolerance));
    }
    return {
      kind: 'clip', name, family: 'clip', shape, role: `CLIP image tower (${clip.model}), features of every token`,
      work: flops, unit: 'GFLOP/s', tolerance: clip.tolerance, seedmask: mine.run, peers,
    };
  },
};

(window as unknown as { __bench: BenchApi }).__bench = api;
say('ready: the driver calls window.__bench');
