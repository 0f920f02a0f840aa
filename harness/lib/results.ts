// The browser benchmark's result records: what the page returns for each case, what the driver
// writes to bench/results/browser-<adapter>-<date>.json, and what harness/report.ts renders.
// Plain JSON data (it crosses puppeteer's evaluate and the file system).

/** The engines a case can run on. seedmask is the subject; the others are peers. */
export const ENGINES = ['seedmask', 'ort-jsep', 'ort-native', 'tfjs'] as const;
export type EngineId = (typeof ENGINES)[number];
export const PEERS = ENGINES.filter((e) => e !== 'seedmask') as Exclude<EngineId, 'seedmask'>[];
export type PeerId = (typeof PEERS)[number];

/** The page prefixes its progress lines on the console with this; the driver shows them. */
export const PROGRESS_MARK = '[bench] ';

/** Times in ms over the warm runs. */
export interface Stats {
  p50: number;
  p90: number;
  min: number;
  max: number;
  mean: number;
  /** Every warm run, in order. */
  runs: number[];
}

export interface Timing {
  /** Session or graph creation before the first run (model parse, weight upload, planning), ms. */
  initMs?: number;
  /** The first run (pays pipeline compilation), ms. */
  coldMs: number;
  warm: Stats;
}

/** A fingerprint of one output: enough to tell two runs computed the same thing, small enough to commit. */
export interface Checksum {
  n: number;
  /** NaN and ±Infinity values (they do not survive JSON). */
  nonFinite: number;
  sum: number;
  absSum: number;
  sumSq: number;
  absMax: number;
  /** [index, value] at fixed, spread-out indices. */
  samples: Array<[number, number]>;
}

/** How far an engine's output is from seedmask's. */
export interface Agreement {
  maxAbsDiff: number;
  /** maxAbsDiff / max |seedmask output|. */
  relDiff: number;
  /** relDiff ≤ the case's tolerance. */
  agree: boolean;
}

export interface EngineRun {
  engine: EngineId;
  /** Human-readable, with version, e.g. 'onnxruntime-web 1.30.0 webgpu (JSEP)'. */
  name: string;
  /** 'gpu-resident': inputs and outputs stay on the GPU while timed; 'host': upload + download inside each run. */
  io: 'gpu-resident' | 'host';
  /** Details worth keeping (variant picked, ops composed, ...). */
  note?: string;
  timing?: Timing;
  checksum?: Checksum;
  /** Peers only: against seedmask's output. */
  agreement?: Agreement;
  error?: string;
}

export interface CaseResult {
  kind: 'kernel' | 'clip';
  /** Unique over a run, e.g. 'matmul 197×768×768 ·Bᵀ', 'clip tiny 48×48'. */
  name: string;
  family: string;
  shape: string;
  role: string;
  /** Work per run: FLOPs or bytes moved (memory-bound kernels). */
  work: number;
  unit: 'GFLOP/s' | 'GB/s';
  /** Allowed relDiff between seedmask and a peer, and between a run and the baseline. */
  tolerance: number;
  seedmask: EngineRun;
  peers: EngineRun[];
  /** Share of the host's CPU time busy just before the case (other processes skew SwiftShader figures). */
  cpuBusyBefore?: number;
  error?: string;
}

export interface BrowserInfo {
  version: string;
  userAgent: string;
  flags: string[];
  /** 'swiftshader' (software Vulkan) or 'hardware'. */
  mode: 'swiftshader' | 'hardware';
  crossOriginIsolated: boolean;
}

export interface AdapterInfo {
  name: string;
  kind: string;
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  features: string[];
}

export interface BrowserBenchResults {
  tool: 'seedmask browser benchmark';
  date: string;
  browser: BrowserInfo;
  adapter: AdapterInfo;
  /** Peer versions as loaded in the page. */
  versions: Record<string, string>;
  host: { cpu: string; node: string };
  options: Record<string, unknown>;
  timing: string;
  cases: CaseResult[];
}

/** peer warm p50 / seedmask warm p50: above 1 seedmask is faster. Undefined when either is missing. */
export function speedRatio(c: CaseResult, peer: EngineRun): number | undefined {
  const s = c.seedmask.timing?.warm.p50, p = peer.timing?.warm.p50;
  return s !== undefined && p !== undefined && s > 0 ? p / s : undefined;
}
