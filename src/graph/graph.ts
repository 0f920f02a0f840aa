// The graph IR: values (inputs, weights, node results) and nodes (an op applied to values).
// Shapes are inferred when a node is added, so a model that wires two layers wrongly fails while
// it is being built, with the node's name in the message, long before anything reaches the GPU.
import type { Gpu } from '../gpu/context.js';
import { GpuError } from '../gpu/errors.js';
import { checkShape, numel, type DType, type Shape, type Tensor } from '../gpu/tensor.js';

/** Host-side tensor data; Uint16Array holds raw f16 bits. */
export type HostData = Float32Array | Int32Array | Uint32Array | Uint16Array;

export interface Value {
  readonly id: number;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly kind: 'input' | 'weight' | 'node';
  /** Input or weight name, or `<node name>:<output index>`. */
  readonly name: string;
}

export interface OutputSpec {
  shape: number[];
  dtype?: DType;
}

/**
 * An op the runner can execute. `infer` checks the input shapes and returns the output shapes
 * (throwing with a clear message); `run` records the dispatches that compute the outputs into the
 * already planned output tensors. An optional input is passed as `undefined`.
 */
export interface OpDef<A> {
  name: string;
  infer(inputs: ReadonlyArray<Value | undefined>, attrs: A): OutputSpec[];
  run(gpu: Gpu, inputs: ReadonlyArray<Tensor | undefined>, outputs: readonly Tensor[], attrs: A): Promise<void>;
  /** Floating-point operations, for profiles (optional). */
  flops?(inputs: ReadonlyArray<Value | undefined>, attrs: A): number;
}

export interface Node {
  readonly id: number;
  readonly name: string;
  readonly op: OpDef<unknown>;
  readonly inputs: ReadonlyArray<Value | undefined>;
  readonly outputs: readonly Value[];
  readonly attrs: unknown;
}

export class GraphError extends GpuError {
  override name = 'GraphError';
}

export class Graph {
  readonly values: Value[] = [];
  readonly nodes: Node[] = [];
  readonly inputs = new Map<string, Value>();
  readonly weights = new Map<string, { value: Value; data: HostData }>();
  readonly outputs = new Map<string, Value>();
  private readonly names = new Set<string>();

  private newValue(shape: readonly number[], dtype: DType, kind: Value['kind'], name: string): Value {
    checkShape(shape, `${name}: shape`);
    const v: Value = { id: this.values.length, shape: [...shape], dtype, kind, name };
    this.values.push(v);
    return v;
  }

  private claim(name: string): void {
    if (this.names.has(name)) throw new GraphError(`graph: the name '${name}' is used twice`);
    this.names.add(name);
  }

  input(name: string, shape: Shape, dtype: DType = 'f32'): Value {
    this.claim(name);
    const v = this.newValue(shape, dtype, 'input', name);
    this.inputs.set(name, v);
    return v;
  }

  weight(name: string, data: HostData, shape: Shape, dtype: DType = data instanceof Float32Array ? 'f32' : data instanceof Int32Array ? 'i32' : data instanceof Uint16Array ? 'f16' : 'u32'): Value {
    this.claim(name);
    if (data.length !== numel(shape)) throw new GraphError(`weight '${name}': ${data.length} values for shape [${shape.join(', ')}]`);
    const v = this.newValue(shape, dtype, 'weight', name);
    this.weights.set(name, { value: v, data });
    return v;
  }

  /** Add a node; returns its output values. */
  apply<A>(op: OpDef<A>, inputs: ReadonlyArray<Value | undefined>, attrs: A, name = `${op.name}${this.nodes.length}`): Value[] {
    this.claim(name);
    for (const v of inputs) {
      if (v && this.values[v.id] !== v) throw new GraphError(`${name}: an input value does not belong to this graph`);
    }
    let specs: OutputSpec[];
    try {
      specs = op.infer(inputs, attrs);
    } catch (err) {
      throw new GraphError(`${name} (${op.name}): ${(err as Error).message}`);
    }
    const outputs = specs.map((s, i) => this.newValue(s.shape, s.dtype ?? 'f32', 'node', `${name}:${i}`));
    this.nodes.push({ id: this.nodes.length, name, op: op as OpDef<unknown>, inputs: [...inputs], outputs, attrs });
    return outputs;
  }

  output(name: string, value: Value): void {
    if (this.outputs.has(name)) throw new GraphError(`graph: output '${name}' is declared twice`);
    if (value.kind === 'weight') throw new GraphError(`graph: output '${name}' is a weight; outputs must be computed`);
    this.outputs.set(name, value);
  }
}
