// Minimal ONNX models for CPU peers, encoded by hand: an ONNX file is a protobuf `ModelProto`
// (onnx/onnx.proto), and the few messages a one-node graph needs are small enough to write here
// without a protobuf library.
//
// Wire format: each field is a varint key (field number << 3 | wire type) then its value; wire
// type 0 is a varint, 2 a length-delimited byte string (strings and nested messages), 5 a
// little-endian 32-bit value (float).

class ProtoWriter {
  private bytes: number[] = [];

  /** Varint; a negative int64 is its 64-bit two's complement (ten bytes), as protobuf does. */
  private varint(value: number): void {
    if (!Number.isSafeInteger(value)) throw new Error(`protobuf varint must be a safe integer, got ${value}`);
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.bytes.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.bytes.push(Number(v));
  }

  int(field: number, value: number): this {
    this.varint((field << 3) | 0);
    this.varint(value);
    return this;
  }

  bytesField(field: number, data: Uint8Array): this {
    this.varint((field << 3) | 2);
    this.varint(data.length);
    for (const b of data) this.bytes.push(b);
    return this;
  }

  /** A float field: wire type 5, four little-endian bytes. */
  float(field: number, value: number): this {
    this.varint((field << 3) | 5);
    for (const b of new Uint8Array(new Float32Array([value]).buffer)) this.bytes.push(b);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytesField(field, new TextEncoder().encode(s));
  }

  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytesField(field, inner.finish());
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

// Field numbers from onnx.proto.
const MODEL = { irVersion: 1, producerName: 2, graph: 7, opsetImport: 8 };
const OPSET = { domain: 1, version: 2 };
const GRAPH = { node: 1, name: 2, input: 11, output: 12 };
const NODE = { input: 1, output: 2, name: 3, opType: 4, attribute: 5 };
const ATTRIBUTE = { name: 1, f: 2, i: 3, ints: 8, type: 20 };
const ATTRIBUTE_TYPE = { FLOAT: 1, INT: 2, INTS: 7 };
const VALUE_INFO = { name: 1, type: 2 };
const TYPE = { tensorType: 1 };
const TENSOR_TYPE = { elemType: 1, shape: 2 };
const SHAPE = { dim: 1 };
const DIM = { value: 1 };
const FLOAT = 1; // TensorProto.DataType.FLOAT

export interface OnnxValue {
  name: string;
  shape: readonly number[];
}

export interface OnnxNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  /** Integer, float and integer-list attributes (e.g. Gemm's transB, alpha; Transpose's perm). */
  attributes?: Record<string, { int: number } | { float: number } | { ints: number[] }>;
}

function valueInfo(w: ProtoWriter, v: OnnxValue): void {
  w.string(VALUE_INFO.name, v.name).message(VALUE_INFO.type, (t) =>
    t.message(TYPE.tensorType, (tt) =>
      tt.int(TENSOR_TYPE.elemType, FLOAT).message(TENSOR_TYPE.shape, (s) => {
        for (const d of v.shape) s.message(SHAPE.dim, (dim) => dim.int(DIM.value, d));
      }),
    ),
  );
}

/** A one-graph f32 model of the default ONNX domain at `opset` as ONNX bytes. */
export function onnxModel(nodes: OnnxNode[], inputs: OnnxValue[], outputs: OnnxValue[], opset = 13): Uint8Array {
  const w = new ProtoWriter();
  w.int(MODEL.irVersion, opset >= 21 ? 10 : opset >= 19 ? 9 : 8);
  w.string(MODEL.producerName, 'seedmask-bench');
  w.message(MODEL.opsetImport, (o) => o.string(OPSET.domain, '').int(OPSET.version, opset));
  w.message(MODEL.graph, (g) => {
    nodes.forEach((node, i) =>
      g.message(GRAPH.node, (n) => {
        for (const x of node.inputs) n.string(NODE.input, x);
        for (const y of node.outputs) n.string(NODE.output, y);
        n.string(NODE.name, `${node.opType}_${i}`);
        n.string(NODE.opType, node.opType);
        for (const [name, value] of Object.entries(node.attributes ?? {})) {
          n.message(NODE.attribute, (a) => {
            a.string(ATTRIBUTE.name, name);
            if ('int' in value) a.int(ATTRIBUTE.i, value.int).int(ATTRIBUTE.type, ATTRIBUTE_TYPE.INT);
            else if ('float' in value) a.float(ATTRIBUTE.f, value.float).int(ATTRIBUTE.type, ATTRIBUTE_TYPE.FLOAT);
            else {
              // Unpacked repeated int64: one key + varint per element (parsers accept both forms).
              for (const x of value.ints) a.int(ATTRIBUTE.ints, x);
              a.int(ATTRIBUTE.type, ATTRIBUTE_TYPE.INTS);
            }
          });
        }
      }),
    );
    g.string(GRAPH.name, 'bench');
    for (const v of inputs) g.message(GRAPH.input, (x) => valueInfo(x, v));
    for (const v of outputs) g.message(GRAPH.output, (x) => valueInfo(x, v));
  });
  return w.finish();
}

/**
 * C = op(A)·op(B) as one ONNX node with A and B as graph inputs (as seedmask's matmul takes them):
 * `Gemm` (2-D, with transA/transB attributes) for single matrices, `MatMul` for batches, where B is
 * either one matrix broadcast over A's batch or a batch of its own (`batchB`). MatMul has no
 * transpose flags, so batched models take B already laid out [K, N].
 */
export function matmulModel(opts: { m: number; n: number; k: number; batch?: number; batchB?: boolean; transA?: boolean; transB?: boolean }): Uint8Array {
  const { m, n, k } = opts;
  const batch = opts.batch ?? 1;
  const transA = opts.transA ?? false, transB = opts.transB ?? false;
  if (batch > 1) {
    if (transA || transB) throw new Error('matmulModel: batched MatMul has no transposes');
    const bShape = opts.batchB ? [batch, k, n] : [k, n];
    return onnxModel([{ opType: 'MatMul', inputs: ['a', 'b'], outputs: ['c'] }], [{ name: 'a', shape: [batch, m, k] }, { name: 'b', shape: bShape }], [{ name: 'c', shape: [batch, m, n] }]);
  }
  return onnxModel(
    [{ opType: 'Gemm', inputs: ['a', 'b'], outputs: ['c'], attributes: { transA: { int: transA ? 1 : 0 }, transB: { int: transB ? 1 : 0 } } }],
    [
      { name: 'a', shape: transA ? [k, m] : [m, k] },
      { name: 'b', shape: transB ? [n, k] : [k, n] },
    ],
    [{ name: 'c', shape: [m, n] }],
  );
}
