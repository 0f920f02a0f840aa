// Executes a Graph on a Gpu: plans memory once, uploads weights once, compiles every pipeline in
// an explicit `compile()` (a warm-up run), then records each run's dispatches into one command
// encoder and one compute pass (the Gpu context batches them) and submits once. The first run's
// dispatches are recorded with their bind groups and uniforms (DispatchRecording); later runs replay
// them without executing the ops' TypeScript again.
import { DispatchRecording, type Gpu } from '../gpu/context.js';
import { Tensor } from '../gpu/tensor.js';
import { copy } from '../kernels/layout.js';
import { GraphError, type Graph, type HostData, type Node } from './graph.js';
import { planMemory, type MemoryPlan } from './planner.js';

export interface NodeProfile {
  node: string;
  op: string;
  dispatches: number;
  /** GPU time from timestamp queries, summed over the node's dispatches. */
  ms: number;
  flops: number;
}

export interface RunOptions {
  /** Per-node GPU time (needs timestamp-query); dispatches then go one per pass. */
  profile?: boolean;
  /** Read back every node's outputs (for layer-by-layer comparison with a reference). */
  debug?: boolean;
  /**
   * Outputs to read back to the host (default all). The others stay on the GPU, in
   * `outputTensor(name)`, until the next run of this graph overwrites them.
   */
  read?: readonly string[];
}

/**
 * Weights shared by several compiled graphs (e.g. one graph per image size over the same model):
 * a weight is uploaded once per host array (by object identity) and freed when the last graph
 * using it is destroyed. Graphs compiled without a cache own their weights.
 */
export class WeightCache {
  private readonly entries = new Map<HostData, { tensor: Tensor; users: number }>();

  constructor(readonly gpu: Gpu) {}

  /** The tensor holding `data`, uploaded on first use; each call is one more user. */
  acquire(data: HostData, shape: readonly number[], dtype: Tensor['dtype'], label: string): Tensor {
    const hit = this.entries.get(data);
    if (hit) {
      if (hit.tensor.dtype !== dtype || hit.tensor.size !== data.length) throw new GraphError(`weight '${label}': its data is already uploaded as ${hit.tensor}`);
      hit.users++;
      // Same bytes, this graph's shape.
      return hit.tensor.view(shape);
    }
    const tensor = this.gpu.upload(data, shape, dtype, label);
    this.entries.set(data, { tensor, users: 1 });
    return tensor;
  }

  /** One user fewer; the upload is freed when none is left. */
  releaseData(data: HostData): void {
    const hit = this.entries.get(data);
    if (!hit) return;
    if (--hit.users === 0) {
      this.entries.delete(data);
      this.gpu.release(hit.tensor);
    }
  }

  /** Bytes currently uploaded. */
  get bytes(): number {
    let n = 0;
    for (const { tensor } of this.entries.values()) n += tensor.byteLength;
    return n;
  }

  get size(): number {
    return this.entries.size;
  }
}

export interface CompileOptions {
  /** Share weight uploads with other graphs (see WeightCache). */
  weights?: WeightCache;
  /**
   * Run the graph once at compile time so that every pipeline is built before the first real run
   * (default true). Pipelines are cached per Gpu, so a graph whose kernels another graph already
   * compiled gains nothing from it and can skip the warm-up (a whole forward on zeros).
   */
  warmup?: boolean;
}

export interface RunResult {
  outputs: Map<string, HostData>;
  profile?: NodeProfile[];
  /** Node output name (`<node>:<index>`) → values, when `debug` was set. */
  dumps?: Map<string, HostData>;
}

export class CompiledGraph {
  private constructor(
    readonly gpu: Gpu,
    readonly graph: Graph,
    readonly plan: MemoryPlan,
    private readonly tensors: Map<number, Tensor>,
    private readonly buffers: GPUBuffer[],
    readonly weightBytes: number,
    private readonly cache: WeightCache | undefined,
  ) {}

  /** Plan, allocate, upload weights and compile every pipeline (by running the graph once). */
  static async compile(gpu: Gpu, graph: Graph, opts: CompileOptions = {}): Promise<CompiledGraph> {
    if (graph.outputs.size === 0) throw new GraphError('graph: no outputs declared');
    const plan = planMemory(graph);
    const buffers = plan.slotBytes.map((bytes, i) => gpu.device.createBuffer({ size: bytes, usage: 0x80 | 0x04 | 0x08, label: `graph slot ${i}` }));
    const tensors = new Map<number, Tensor>();
    for (const [id, slot] of plan.slotOf) {
      const v = graph.values[id]!;
      tensors.set(id, new Tensor(v.shape, v.dtype, buffers[slot]!));
    }
    let weightBytes = 0;
    const cache = opts.weights;
    if (cache && cache.gpu !== gpu) throw new GraphError('graph: the weight cache belongs to another Gpu');
    for (const { value, data } of graph.weights.values()) {
      const t = cache ? cache.acquire(data, value.shape, value.dtype, value.name) : gpu.upload(data, value.shape, value.dtype, value.name);
      tensors.set(value.id, t);
      weightBytes += t.byteLength;
    }
    const compiled = new CompiledGraph(gpu, graph, plan, tensors, buffers, weightBytes, cache);
    if (opts.warmup ?? true) {
      await compiled.record(); // compiles every pipeline; inputs hold zeros, results are discarded
      await gpu.sync();
    }
    return compiled;
  }

  private tensor(id: number): Tensor {
    const t = this.tensors.get(id);
    if (!t) throw new GraphError(`graph: value ${this.graph.values[id]?.name ?? id} has no tensor`);
    return t;
  }

  private async runNode(node: Node, gpu: Gpu): Promise<void> {
    const inputs = node.inputs.map((v) => (v ? this.tensor(v.id) : undefined));
    const outputs = node.outputs.map((v) => this.tensor(v.id));
    try {
      await node.op.run(gpu, inputs, outputs, node.attrs);
    } catch (err) {
      throw new GraphError(`${node.name} (${node.op.name}): ${(err as Error).message}`);
    }
  }

  private async record(each?: (node: Node, dispatchesBefore: number) => Promise<void>, gpu: Gpu = this.gpu): Promise<void> {
    for (const node of this.graph.nodes) {
      const before = this.gpu.dispatchCount;
      await this.runNode(node, gpu);
      if (each) await each(node, before);
    }
  }

  /** The first plain run's dispatches, replayed by later plain runs (undefined until recorded). */
  private recording: DispatchRecording | undefined;
  /** Set while a run records its dispatches: a second run at the same time would be recorded too. */
  private running = false;

  /**
   * The planned tensor of a declared output: valid after a run, until the next run of this graph
   * writes it again (copy it to keep it longer).
   */
  outputTensor(name: string): Tensor {
    const v = this.graph.outputs.get(name);
    if (!v) throw new GraphError(`graph: unknown output '${name}' (outputs: ${[...this.graph.outputs.keys()].join(', ')})`);
    return this.tensor(v.id);
  }

  private queue: Promise<unknown> = Promise.resolve();

  /**
   * Runs `job` once every job given before it on this graph has settled. Runs of one compiled graph
   * share its input and planned buffers, so a run and the reads of its outputs must not interleave
   * with another run.
   */
  exclusive<T>(job: () => Promise<T>): Promise<T> {
    const run = this.queue.then(job, job);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Inputs are host arrays (uploaded) or tensors already on this Gpu (copied on the GPU). A second
   * run while one is in progress is refused: both would use the same buffers (see exclusive).
   */
  async run(inputs: Record<string, HostData | Tensor>, opts: RunOptions = {}): Promise<RunResult> {
    if (this.running) throw new GraphError('graph: a run of this compiled graph is already in progress; runs of one graph share its buffers (queue them with exclusive())');
    this.running = true;
    try {
      return await this.runOnce(inputs, opts);
    } finally {
      this.running = false;
    }
  }

  private async runOnce(inputs: Record<string, HostData | Tensor>, opts: RunOptions): Promise<RunResult> {
    for (const name of Object.keys(inputs)) {
      if (!this.graph.inputs.has(name)) throw new GraphError(`graph: unknown input '${name}' (inputs: ${[...this.graph.inputs.keys()].join(', ')})`);
    }
    const read = opts.read ?? [...this.graph.outputs.keys()];
    for (const name of read) {
      if (!this.graph.outputs.has(name)) throw new GraphError(`graph: cannot read unknown output '${name}' (outputs: ${[...this.graph.outputs.keys()].join(', ')})`);
    }
    for (const [name, v] of this.graph.inputs) {
      const data = inputs[name];
      if (!data) throw new GraphError(`graph: input '${name}' [${v.shape.join(', ')}] not given`);
      const planned = this.tensor(v.id);
      if (data instanceof Tensor) {
        if (data.dtype !== v.dtype || data.size !== planned.size) throw new GraphError(`graph: input '${name}' is ${data}, expected [${v.shape.join(', ')}] ${v.dtype}`);
        await copy(this.gpu, data, { out: planned });
      } else this.gpu.write(planned, data);
    }

    const wasProfiling = this.gpu.profiling;
    if (opts.profile) this.gpu.profiling = true;
    if (opts.profile) this.gpu.takeTimings(); // drop times of earlier, unrelated dispatches
    const spans: Array<{ node: Node; first: number; count: number }> = [];
    const dumps = opts.debug ? new Map<string, HostData>() : undefined;
    const firstDispatch = this.gpu.dispatchCount;
    try {
      const plain = !opts.profile && !dumps && !this.gpu.precompiling;
      if (plain && this.recording) {
        this.gpu.replay(this.recording);
      } else if (plain) {
        const rec = new DispatchRecording(this.gpu);
        try {
          await this.record(undefined, this.gpu.recorder(rec));
        } catch (err) {
          rec.dispose();
          throw err;
        }
        if (rec.replayable) this.recording = rec;
        else rec.dispose(); // its kept buffers are reused only by work recorded after these dispatches
      } else {
        await this.record(async (node, before) => {
          spans.push({ node, first: before - firstDispatch, count: this.gpu.dispatchCount - before });
          if (dumps) for (const v of node.outputs) dumps.set(v.name, await this.gpu.read(this.tensor(v.id)));
        });
      }
      const outputs = new Map<string, HostData>();
      const values = await this.gpu.readMany(read.map((name) => this.tensor(this.graph.outputs.get(name)!.id)));
      read.forEach((name, i) => outputs.set(name, values[i]!));
      // A run that reads nothing back leaves its work queued: the caller's next read waits for it
      // (and reports its errors), so the host never stalls in the middle of a GPU-resident pipeline.
      if (read.length > 0 || opts.profile || dumps) await this.gpu.sync();
      let profile: NodeProfile[] | undefined;
      if (opts.profile) {
        const times = this.gpu.takeTimings();
        profile = spans.map(({ node, first, count }) => ({
          node: node.name,
          op: node.op.name,
          dispatches: count,
          ms: times.slice(first, first + count).reduce((s, t) => s + t.ms, 0),
          flops: node.op.flops?.(node.inputs, node.attrs) ?? 0,
        }));
      }
      return { outputs, profile, dumps };
    } finally {
      if (opts.profile) this.gpu.profiling = wasProfiling;
    }
  }

  /** Free the planned activation buffers and the weights. */
  destroy(): void {
    // Work recorded but not yet submitted (a run that read nothing back) may use these buffers:
    // submitted, it keeps them alive until the GPU is done with it.
    this.gpu.flush();
    this.recording?.dispose();
    this.recording = undefined;
    for (const b of this.buffers) {
      this.gpu.forgetBuffer(b);
      b.destroy();
    }
    for (const { value, data } of this.graph.weights.values()) {
      if (this.cache) this.cache.releaseData(data);
      else this.gpu.release(this.tensor(value.id));
    }
  }
}
