// Reverse-mode differentiation for small training graphs: a tape of eager forward ops on the Gpu's
// tensor pool, each recording the backward it needs (src/kernels/train/).
//
//   const tape = new Tape(gpu);
//   const x = tape.input(images);
//   const h = await tape.conv2d(x, tape.param(w), { padding: 1 });   // …more layers
//   const loss = await tape.crossEntropy(logits, labels);            // loss tensor [3], yours
//   const updated = await tape.backward();                            // parameter gradients written
//
// Losses. The objective is the sum of the tape's crossEntropy losses (several outputs, as
// DeepLab-v2's multi-scale training), each times its `scale` (gradient accumulation's 1/iterSize):
// backward seeds each loss's dlogits into its logits' gradient, adding where two losses read one
// value, and runs one reverse pass for all.
//
// Why a tape and not the static graph runner (src/graph/): training needs, besides the forward, a
// reverse pass over the same values, tensors kept from one to the other, and gradient sums where a
// value has several consumers. An eager tape on the pool gets all of that right with little code;
// planning the forward and backward together (the runner's static memory plan, recorded dispatches
// replayed per step) is the step after, once shapes are fixed per training run.
//
// Ownership. The tape owns every activation it creates and the tensors its ops keep for their
// backward (BN statistics, max-pool indices, the loss's dlogits). An activation is released once
// the forward is over (backward starts) and no backward still needs it; kept tensors are released
// right after their op's backward; a gradient is released once the op that produced its value has
// run its backward. Inputs and parameters belong to the caller. `dispose()` releases whatever is
// left (a tape that never runs backward, an error midway). Releasing a buffer whose readers are
// recorded but not yet submitted is safe: the pool hands it out only to work recorded later, and
// WebGPU runs dispatches in order.
//
// Gradient sums. A value read by several ops collects the sum of their gradients: the first
// arrives in a new tensor (or, for a parameter, overwrites its gradient buffer: there is no separate
// zero_grad; TapeOptions.accumulateGrads names parameters whose buffer already holds a gradient to
// add to instead, for sums across tapes), later ones are added by the kernel's `accumulate` (or
// accumulateGrad where a kernel cannot add). A residual add hands the same gradient to both inputs
// without copying: such a shared gradient is copied on write. Floating-point addition of two terms
// commutes, so the results do not depend on which arrived first; with three or more the order is
// the tape's, fixed: the same adapter gives bit-identical gradients from run to run.
import type { Gpu } from '../gpu/context.js';
import type { Shape, Tensor } from '../gpu/tensor.js';
import { bilinear } from '../kernels/bilinear.js';
import { conv2d, type ConvParams } from '../kernels/conv.js';
import { binary, unary } from '../kernels/elementwise.js';
import type { Pool2dOptions } from '../kernels/pool.js';
import { batchNormBackward, batchNormForward } from '../kernels/train/batchnorm.js';
import { bilinearBackward } from '../kernels/train/bilinear.js';
import { conv2dBackwardInput, conv2dBackwardWeight } from '../kernels/train/conv.js';
import { accumulateGrad, reluBackward } from '../kernels/train/elementwise.js';
import { softmaxCrossEntropy, type LabelLayout } from '../kernels/train/loss.js';
import { maxPool2dBackward, maxPool2dWithIndices } from '../kernels/train/pool.js';

export class AutodiffError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AutodiffError';
  }
}

/** A trainable tensor and its gradient buffer (same shape, f32), both owned by the caller. */
export interface Param {
  name: string;
  value: Tensor;
  grad: Tensor;
}

/** A gradient tensor and how many values hold it (a residual add hands one gradient to two). */
interface GradRef {
  t: Tensor;
  refs: number;
}

type VarKind = 'input' | 'param' | 'activation';

/** A value on the tape: an input, a parameter, or the output of a recorded op. */
export class Var {
  /** @internal */ grad: GradRef | undefined;
  /** @internal Backward passes still to run that read this value's tensor. */
  saves = 0;
  /** @internal Kept past the backward by the caller (see Tape.keep). */
  kept = false;
  /** @internal Released to the pool. */
  released = false;

  /** @internal */
  constructor(
    readonly tensor: Tensor,
    readonly kind: VarKind,
    readonly requiresGrad: boolean,
    readonly param?: Param,
  ) {}

  get shape(): Shape {
    return this.tensor.shape;
  }
}

interface Node {
  name: string;
  output: Var;
  /** Values this node's backward reads; their tensors stay alive until it has run. */
  saved: Var[];
  /** Tensors only this node's backward reads; released after it. */
  own: Tensor[];
  backward(g: GradRef): Promise<void>;
}

export interface TapeOptions {
  /** Batch norm in training mode (batch statistics, running averages move) or frozen. Default true. */
  training?: boolean;
  /**
   * Record backward passes. Default true; false runs the forward only (evaluation), and then every
   * activation is held until dispose() (the tape cannot know which one a later op still reads).
   */
  grad?: boolean;
  /**
   * Parameters whose gradient buffers already hold a gradient (an earlier tape's, in gradient
   * accumulation) that this tape's gradient is added to; true for every parameter. The others are
   * overwritten on their first gradient of the tape. Default none.
   */
  accumulateGrads?: boolean | ReadonlySet<Param>;
}

export interface TapeConvOptions extends ConvParams {
  bias?: Var;
}

export interface TapeBatchNormOptions {
  /** y = max(BN(x), 0), fused. Default false. */
  relu?: boolean;
  /** Default 1e-5. */
  eps?: number;
  /** Default 0.1. */
  momentum?: number;
}

export interface TapeCrossEntropyOptions {
  classWeights?: Tensor;
  /** Default 255. */
  ignoreIndex?: number;
  /** Default 'u32'. */
  labelLayout?: LabelLayout;
  /**
   * The loss's weight in the tape's objective (Σ scale·loss): its gradient is scaled by it. The loss
   * tensor returned is the unscaled loss. Default 1.
   */
  scale?: number;
}

export class Tape {
  readonly training: boolean;
  readonly grad: boolean;
  private readonly nodes: Node[] = [];
  private readonly activations: Var[] = [];
  private readonly paramVars = new Map<Param, Var>();
  /** Parameters whose gradient buffer holds this pass's gradient (written, not stale). */
  private readonly written = new Set<Param>();
  private readonly accumulateInto: ReadonlySet<Param> | 'all' | undefined;
  /** The losses' gradients with respect to their logits, in the order the losses were taken. */
  private readonly roots: { logits: Var; dlogits: Tensor }[] = [];
  private state: 'forward' | 'backward' | 'done' = 'forward';

  constructor(
    readonly gpu: Gpu,
    opts: TapeOptions = {},
  ) {
    this.training = opts.training ?? true;
    this.grad = opts.grad ?? true;
    const acc = opts.accumulateGrads;
    this.accumulateInto = acc === true ? 'all' : acc || undefined;
  }

  // ------------------------------------------------------------------------------------------
  // Leaves

  /** A value with no gradient (images, labels); the caller owns the tensor. */
  input(t: Tensor): Var {
    return new Var(t, 'input', false);
  }

  /** A parameter; its gradient goes to p.grad. One Var per parameter per tape. */
  param(p: Param): Var {
    let v = this.paramVars.get(p);
    if (!v) {
      if (p.grad.size !== p.value.size || p.grad.dtype !== 'f32') throw new AutodiffError(`parameter '${p.name}': gradient ${p.grad} does not match ${p.value}`);
      this.paramVars.set(p, (v = new Var(p.value, 'param', this.grad, p)));
    }
    return v;
  }

  /** Keep an activation's tensor past backward (e.g. the logits for metrics); the caller then releases it. */
  keep(v: Var): Tensor {
    if (v.kind !== 'activation') throw new AutodiffError('keep: only activations belong to the tape');
    if (v.released) throw new AutodiffError('keep: the tensor was already released');
    v.kept = true;
    return v.tensor;
  }

  // ------------------------------------------------------------------------------------------
  // Ops

  /** y = conv2d(x, w) + bias (weights [Cout, KH, KW, Cin/groups], see src/kernels/conv.ts). */
  async conv2d(x: Var, w: Var, opts: TapeConvOptions = {}): Promise<Var> {
    const params: ConvParams = { stride: opts.stride, padding: opts.padding, dilation: opts.dilation, groups: opts.groups };
    const bias = opts.bias;
    const y = this.activation(await conv2d(this.gpu, x.tensor, w.tensor, { ...params, bias: bias?.tensor }), [x, w, bias]);
    this.record('conv2d', y, [x, w], [], async (g) => {
      if (w.requiresGrad || bias?.requiresGrad) {
        await this.paramGrads([w, ...(bias ? [bias] : [])], async (outs, accumulate) => {
          await conv2dBackwardWeight(this.gpu, g.t, x.tensor, w.shape, { ...params, bias: !!bias, dwOut: outs[0], dbOut: outs[1], accumulate });
        });
      }
      await this.emit(x, true, (out, accumulate) => conv2dBackwardInput(this.gpu, g.t, w.tensor, x.shape, { ...params, out, accumulate }));
    });
    return y;
  }

  /**
   * BatchNorm2d over x [N, C, H, W] with affine γ, β and running buffers [C] (updated in place in
   * training mode), optionally followed by a fused ReLU.
   */
  async batchNorm(x: Var, gamma: Var, beta: Var, running: { mean: Tensor; var: Tensor }, opts: TapeBatchNormOptions = {}): Promise<Var> {
    const training = this.training;
    const relu = opts.relu ?? false;
    const layer = { gamma: gamma.tensor, beta: beta.tensor, runningMean: running.mean, runningVar: running.var, eps: opts.eps, momentum: opts.momentum };
    const r = await batchNormForward(this.gpu, x.tensor, layer, { training, relu });
    const y = this.activation(r.y, [x, gamma, beta]);
    if (!this.record('batch_norm', y, relu ? [x, gamma, y] : [x, gamma], [r.stats], async (g) => {
      // The ReLU's mask comes from y itself (y > 0 exactly where BN(x) > 0).
      const gIn = relu ? await reluBackward(this.gpu, g.t, y.tensor) : g.t;
      const run = async (paramOuts: Tensor[] | undefined, accumulate: boolean) => {
        // The kernel writes dx over a tensor but cannot add to one.
        const dx = this.claim(x, false);
        const b = await batchNormBackward(this.gpu, gIn, x.tensor, r.stats, gamma.tensor, {
          training, paramGrads: !!paramOuts, accumulate, dgammaOut: paramOuts?.[0], dbetaOut: paramOuts?.[1], out: dx?.out,
        });
        if (dx) await dx.done(b.dx);
        else this.gpu.release(b.dx);
      };
      if (gamma.requiresGrad || beta.requiresGrad) {
        if (!gamma.requiresGrad || !beta.requiresGrad) throw new AutodiffError('batch_norm: γ and β must both be trained or both frozen');
        await this.paramGrads([gamma, beta], run);
      } else {
        await run(undefined, false);
      }
      if (gIn !== g.t) this.gpu.release(gIn);
    })) this.gpu.release(r.stats);
    return y;
  }

  /** y = max(x, 0). */
  async relu(x: Var): Promise<Var> {
    const y = this.activation(await unary(this.gpu, x.tensor, 'relu'), [x]);
    this.record('relu', y, [y], [], async (g) => {
      await this.emit(x, true, (out, accumulate) => reluBackward(this.gpu, g.t, y.tensor, { out, accumulate }));
    });
    return y;
  }

  /** Max pooling (PyTorch's geometry: kernel, stride, padding, dilation, ceil_mode). */
  async maxPool(x: Var, opts: Omit<Pool2dOptions, 'countIncludePad' | 'out'>): Promise<Var> {
    const r = await maxPool2dWithIndices(this.gpu, x.tensor, opts);
    const y = this.activation(r.y, [x]);
    if (!this.record('max_pool', y, [], [r.indices], async (g) => {
      await this.emit(x, true, (out, accumulate) => maxPool2dBackward(this.gpu, g.t, r.indices, x.shape, { ...opts, out, accumulate }));
    })) this.gpu.release(r.indices);
    return y;
  }

  /** F.interpolate(x, size, mode='bilinear', align_corners). */
  async bilinear(x: Var, size: readonly [number, number], opts: { alignCorners?: boolean } = {}): Promise<Var> {
    const alignCorners = opts.alignCorners ?? false;
    const y = this.activation(await bilinear(this.gpu, x.tensor, size, { alignCorners }), [x]);
    const inSize: [number, number] = [x.shape[2]!, x.shape[3]!];
    this.record('bilinear', y, [], [], async (g) => {
      await this.emit(x, true, (out, accumulate) => bilinearBackward(this.gpu, g.t, inSize, { alignCorners, out, accumulate }));
    });
    return y;
  }

  /** y = a + b (same shapes), optionally max(·, 0): ResNet's "add the shortcut, then ReLU". */
  async add(a: Var, b: Var, opts: { relu?: boolean } = {}): Promise<Var> {
    if (a.tensor.size !== b.tensor.size || a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
      throw new AutodiffError(`add: shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] differ (broadcasting is not differentiated)`);
    }
    const relu = opts.relu ?? false;
    const y = this.activation(await binary(this.gpu, 'add', a.tensor, b.tensor, { activation: relu ? 'relu' : 'none' }), [a, b]);
    this.record('add', y, relu ? [y] : [], [], async (g) => {
      const gs: GradRef = relu ? { t: await reluBackward(this.gpu, g.t, y.tensor), refs: 0 } : g;
      await this.pass(a, gs);
      await this.pass(b, gs);
      if (gs !== g && gs.refs === 0) this.gpu.release(gs.t);
    });
    return y;
  }

  /**
   * Mean softmax cross-entropy of logits [N, C, H, W] against labels (see softmaxCrossEntropy): a
   * term of the tape's objective, which backward starts from. Returns the loss tensor f32 [3] =
   * (mean loss, Σ w·l, Σ w), unscaled, which the caller owns. The gradient (times opts.scale) is
   * computed here, with the loss.
   */
  async crossEntropy(logits: Var, labels: Tensor, opts: TapeCrossEntropyOptions = {}): Promise<Tensor> {
    if (this.state !== 'forward') throw new AutodiffError('crossEntropy: the tape is past its forward pass');
    const { scale, ...ce } = opts;
    const grad = this.grad && logits.requiresGrad;
    if (grad && logits.kind !== 'activation') throw new AutodiffError('crossEntropy: the logits must be computed on the tape');
    const r = await softmaxCrossEntropy(this.gpu, logits.tensor, labels, { ...ce, grad, ...(scale !== undefined ? { gradScale: scale } : {}) });
    if (grad) this.roots.push({ logits, dlogits: r.dlogits! });
    return r.loss;
  }

  // ------------------------------------------------------------------------------------------
  // Backward

  /**
   * Runs the backward passes from the losses, in reverse order of the forward, writing every
   * parameter gradient reached, and releases everything the tape holds (but kept values). Returns
   * the parameters whose gradient buffer now holds this pass's gradient; the others' buffers are
   * stale (as PyTorch leaves .grad None, an optimizer should skip them).
   */
  async backward(): Promise<Set<Param>> {
    if (this.state !== 'forward') throw new AutodiffError('backward: already run');
    if (this.roots.length === 0) throw new AutodiffError('backward: the tape has no loss (call crossEntropy first, with grad on)');
    this.state = 'backward';
    try {
      // Activations no backward reads are done with once the forward is.
      for (const v of this.activations) if (v.saves === 0) this.releaseVar(v);
      for (const { logits, dlogits } of this.roots.splice(0)) {
        if (!logits.grad) {
          logits.grad = { t: dlogits, refs: 1 };
        } else {
          // Released at once: the add is recorded before any later use of the pool's buffer.
          await accumulateGrad(this.gpu, logits.grad.t, dlogits);
          this.gpu.release(dlogits);
        }
      }
      for (let i = this.nodes.length - 1; i >= 0; i--) {
        const node = this.nodes[i]!;
        const out = node.output;
        const g = out.grad;
        if (g) {
          out.grad = undefined;
          await node.backward(g);
          this.unref(g);
        }
        this.gpu.release(...node.own);
        node.own = [];
        for (const v of node.saved) if (--v.saves === 0) this.releaseVar(v);
        node.saved = [];
      }
      this.nodes.length = 0;
      return new Set(this.written);
    } finally {
      this.dispose();
    }
  }

  /** Releases every tensor the tape still holds (kept values excepted). Safe to call twice. */
  dispose(): void {
    if (this.state === 'done') return;
    this.state = 'done';
    this.gpu.release(...this.roots.splice(0).map((r) => r.dlogits));
    for (const node of this.nodes) this.gpu.release(...node.own);
    this.nodes.length = 0;
    for (const v of this.activations) {
      if (v.grad) this.unref(v.grad);
      v.grad = undefined;
      this.releaseVar(v);
    }
    this.activations.length = 0;
  }

  // ------------------------------------------------------------------------------------------
  // Internals

  /** Whether p's next gradient overwrites its buffer (the tape's first, and nothing held to add to). */
  private firstWrite(p: Param): boolean {
    if (this.written.has(p)) return false;
    return this.accumulateInto === undefined || (this.accumulateInto !== 'all' && !this.accumulateInto.has(p));
  }

  private activation(t: Tensor, inputs: (Var | undefined)[]): Var {
    if (this.state !== 'forward') throw new AutodiffError('the tape is past its forward pass');
    const requiresGrad = this.grad && inputs.some((v) => v?.requiresGrad);
    const v = new Var(t, 'activation', requiresGrad);
    this.activations.push(v);
    return v;
  }

  /** Records a node when its output needs a gradient; false (nothing kept) otherwise. */
  private record(name: string, output: Var, saved: Var[], own: Tensor[], backward: Node['backward']): boolean {
    if (!output.requiresGrad) return false;
    for (const v of saved) v.saves++;
    this.nodes.push({ name, output, saved, own, backward });
    return true;
  }

  private releaseVar(v: Var): void {
    if (v.kind !== 'activation' || v.released || v.kept || v.saves > 0) return;
    v.released = true;
    this.gpu.release(v.tensor);
  }

  private unref(g: GradRef): void {
    if (--g.refs === 0) this.gpu.release(g.t);
  }

  /**
   * Where a new gradient of `v` goes: { out, accumulate } for the kernel that computes it (out
   * undefined: a new tensor), then done(result) files it. Null when v needs no gradient. A kernel
   * that cannot add (`canAccumulate` false) gets a fresh tensor where a gradient is already held,
   * and accumulateGrad adds the two.
   */
  private claim(v: Var, canAccumulate: boolean): { out: Tensor | undefined; accumulate: boolean; done(t: Tensor): Promise<void> } | null {
    if (!v.requiresGrad) return null;
    if (v.kind === 'param') {
      const p = v.param!;
      const first = this.firstWrite(p);
      this.written.add(p);
      if (first || canAccumulate) return { out: p.grad, accumulate: !first, done: async () => {} };
      return {
        out: undefined, accumulate: false,
        done: async (fresh) => {
          await accumulateGrad(this.gpu, p.grad, fresh);
          this.gpu.release(fresh);
        },
      };
    }
    const held = v.grad;
    if (!held) return { out: undefined, accumulate: false, done: async (t) => void (v.grad = { t, refs: 1 }) };
    if (held.refs === 1 && canAccumulate) return { out: held.t, accumulate: true, done: async () => {} };
    return {
      out: undefined, accumulate: false,
      done: async (fresh) => {
        // Copy on write: a shared gradient stays as its other holders see it.
        await accumulateGrad(this.gpu, fresh, held.t);
        this.unref(held);
        v.grad = { t: fresh, refs: 1 };
      },
    };
  }

  /** A gradient of `v` computed by `produce(out, accumulate)` (see claim). */
  private async emit(v: Var, canAccumulate: boolean, produce: (out: Tensor | undefined, accumulate: boolean) => Promise<Tensor>): Promise<void> {
    const c = this.claim(v, canAccumulate);
    if (c) await c.done(await produce(c.out, c.accumulate));
  }

  /** Hands gradient g on to v unchanged (a sum's inputs): shared, not copied, until written. */
  private async pass(v: Var, g: GradRef): Promise<void> {
    if (!v.requiresGrad) return;
    if (v.kind === 'param') {
      await this.emit(v, true, async (out, accumulate) => {
        if (!out) throw new AutodiffError('unreachable');
        return accumulate ? accumulateGrad(this.gpu, out, g.t) : unary(this.gpu, g.t, 'none', { out });
      });
      return;
    }
    const held = v.grad;
    if (!held) {
      g.refs++;
      v.grad = g;
    } else if (held.refs === 1) {
      await accumulateGrad(this.gpu, held.t, g.t);
    } else {
      const sum = await binary(this.gpu, 'add', held.t, g.t);
      this.unref(held);
      v.grad = { t: sum, refs: 1 };
    }
  }

  /**
   * Gradients of parameters computed together by one kernel (conv dw and db; BN dγ and dβ), which
   * take one accumulate flag: all of them are overwritten on their first gradient of the pass, or
   * all accumulated.
   */
  private async paramGrads(vars: Var[], run: (outs: Tensor[], accumulate: boolean) => Promise<void>): Promise<void> {
    const params = vars.map((v) => {
      if (v.kind !== 'param' || !v.param) throw new AutodiffError('weights, biases, γ and β must be parameters (Tape.param) or frozen inputs');
      return v.param;
    });
    const first = params.map((p) => this.firstWrite(p));
    if (first.some((f) => f !== first[0])) throw new AutodiffError(`parameters ${params.map((p) => p.name).join(', ')} are computed together but used apart`);
    await run(params.map((p) => p.grad), !first[0]);
    for (const p of params) this.written.add(p);
  }
}
