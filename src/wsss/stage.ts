// The plug-in shape of the seed pipeline. A CAM source turns the image and its labels into class
// activation maps on the patch grid (plus the attention affinity CAA needs); seed stages then each
// turn what is in the context into one label map. Both see only the per-image SeedContext: every
// GPU tensor a source or stage makes is handed to `ctx.own` and freed when the image is done, so no
// stage releases buffers by hand.
//
// The registry (src/wsss/registry.ts) lists the sources and stages; the pipeline, the CLIs, the
// report and the benches read it instead of keeping lists of their own.

import type { Gpu } from '../gpu/context.js';
import { packRgba } from '../kernels/image.js';
import type { Tensor } from '../gpu/tensor.js';
import type { RgbaImage } from '../io/image.js';
import type { ClipModel } from '../models/clip/model.js';
import type { LabelSet } from './labelset.js';
import { textRows, textRowsOnGpu, type LabelSetEmbeddings } from './text.js';
import type { SeedOptions } from './seeds.js';

/** Bad input to the seed pipeline (an image whose data does not match its size, an unknown refiner or stage, an image too large for the device). */
export class SeedError extends Error {
  /** 'SeedError'. */
  override name = 'SeedError';
}

/** What a CAM source gives the stages after it. */
export interface CamMaps {
  /** Patch grid [gh, gw]; n = gh·gw. */
  grid: [number, number];
  /** CAMs [K, n] on the GPU, in [0, 1], row k = label k. */
  cams: Tensor;
  /** Image-level softmax over the K label rows and the M background rows [K + M], on the GPU. */
  probs: Tensor;
  /** [n, n] on the GPU: mean head-averaged attention of the last blocks, class token dropped (CAA's W). */
  affinity: Tensor;
  /** Patch features [D, n] on the GPU, when a stage asked for 'features'. */
  features?: Tensor;
  /** Milliseconds per sub-step, reported as `<source>.<key>`. */
  timings?: Record<string, number>;
  /** FLOPs per profiled sub-step (as in `timings`). */
  flops?: Record<string, number>;
}

/** What a stage may ask the CAM source to provide beyond CamMaps' required fields. */
export type CamProduct = 'features';

/** Makes the grid CAMs of one image. */
export interface CamSource<Name extends string = string> {
  readonly name: Name;
  /** A short display name ('Grad-CAM (CLIP-ES)'). */
  readonly label: string;
  /** One line for help texts and reports. */
  readonly description: string;
  run(ctx: SeedContext): Promise<CamMaps>;
}

/**
 * Turns what earlier stages left in the context into one label map (0 background, class + 1, 255
 * ignore), left on the GPU: four label bytes per u32 word, [ceil(H·W/4)], owned by the context. The
 * pipeline reads back only the maps its caller asked for, all in one read-back at the end.
 */
export interface SeedStage<Name extends string = string, RefinerName extends string = string> {
  /** The label map's name (`SeedResult.stages[name]`, reports, `--stages`). */
  readonly name: Name;
  /** The `refiner` value that makes this stage's map the seeds, if it can be the seeds. */
  readonly refiner?: RefinerName;
  /** One line for help texts and reports. */
  readonly description: string;
  /** Products of the CAM source this stage reads. */
  readonly needs?: readonly CamProduct[];
  run(ctx: SeedContext): Promise<Tensor>;
}

/** A u32 [1] flag on the GPU that a kernel sets to non-zero when its input was bad; see SeedContext.check. */
export interface StageFlag {
  flag: Tensor;
  /** The error for a non-zero value. */
  explain(value: number): Error;
  /** Values that ask for the stage's map to be made again (see SeedContext.check) rather than an error. */
  redo?: StageRedo;
}

/** How a stage makes its map again when its flag says the first try was not valid (SeedContext.check). */
export interface StageRedo {
  stage: string;
  /** Whether a flag value asks for it. */
  when(value: number): boolean;
  /** The stage's label map made again (owned by the context), by a path that needs no redo. */
  run(): Promise<Tensor>;
}

/** Everything one image's run knows, and the owner of every GPU tensor made for it. */
export class SeedContext {
  /** The CAM source's maps; set before any stage runs. */
  cam!: CamMaps;
  /** CAA-refined CAMs at image size [K, H, W] (float16 values); set by the 'caa' stage. */
  cams?: Tensor;
  /** Milliseconds per step. */
  readonly timings: Record<string, number> = {};
  /** Flags read back with the outputs at the end of the run (see check). */
  readonly flags: StageFlag[] = [];
  private readonly owned: Tensor[] = [];
  private readonly memo = new Map<string, unknown>();

  constructor(
    readonly gpu: Gpu,
    readonly model: ClipModel,
    readonly image: RgbaImage,
    /** Class indices of the labels, in CAM channel order. */
    readonly labels: readonly number[],
    readonly labelSet: LabelSet,
    /** The label set's class and background embeddings (L2-normalised rows). */
    readonly embeddings: LabelSetEmbeddings,
    readonly options: SeedOptions,
    /** Products of the CAM source some wanted stage needs. */
    readonly products: ReadonlySet<CamProduct>,
  ) {}

  get width(): number {
    return this.image.width;
  }
  /** TXT [K + M, E] on the host: the K label rows, then the M background rows (see textRows for the GPU copy). */
  get text(): Float32Array {
    return textRows(this.embeddings, this.labels);
  }
  get height(): number {
    return this.image.height;
  }
  /** K: the number of labels. */
  get classes(): number {
    return this.labels.length;
  }
  /** τ of the CAM label maps: bg = (1 − max)^τ. */
  get camExponent(): number {
    return this.options.camExponent ?? 2;
  }

  /** Takes ownership of a tensor: it is freed when the image's run ends, however it ends. Owning it again is a no-op. */
  own<T extends Tensor>(t: T): T {
    if (!this.owned.includes(t)) this.owned.push(t);
    return t;
  }

  /** A value made once per image and shared by the stages that use it (the image as planes, as RGB bytes, …). */
  shared<T>(key: string, make: () => T): T {
    if (!this.memo.has(key)) this.memo.set(key, make());
    return this.memo.get(key) as T;
  }

  /**
   * The image on the GPU, uploaded once per run and shared by every step that needs pixels: u32
   * [H, W], one RGBA8 pixel per word (byte 0 = R).
   */
  rgba(): Tensor {
    return this.shared('rgba', () => this.own(this.gpu.upload(packRgba(this.image.data), [this.height, this.width], 'u32', 'seeds image rgba')));
  }

  /**
   * Registers an error flag a kernel writes on the GPU instead of the host checking its input
   * (which would need a read-back in the middle of the run): the pipeline reads every flag with the
   * outputs at the end and throws `explain(value)` for the first non-zero one. The flag is owned.
   * With `redo`, a value it accepts instead makes the stage's map again after that read (the CRF,
   * when a first hash table of its GPU lattice was too small), and that map is read in another
   * read-back: a fallback for rare inputs that keeps the common run at one read-back.
   */
  check(flag: Tensor, explain: (value: number) => Error, redo?: StageRedo): void {
    this.flags.push({ flag: this.own(flag), explain, redo });
  }

  /** TXT [K + M, E] on the GPU: the K label rows, then the M background rows (owned). */
  textRows(): Promise<Tensor> {
    return this.shared('text', async () => this.own(await textRowsOnGpu(this.model, this.embeddings, this.labels)));
  }

  /** The CAA CAMs; a stage after 'caa' reads them. */
  caaCams(): Tensor {
    if (!this.cams) throw new SeedError("the CAA CAMs are read before the 'caa' stage ran");
    return this.cams;
  }

  /**
   * Frees every tensor the run owns. Runs in `finally`, so it never throws: a tensor that cannot be
   * returned (its device is gone) must not hide the error that ended the run or keep the others.
   */
  release(): void {
    for (const t of this.owned.splice(0)) {
      try {
        this.gpu.release(t);
      } catch {
        // The pool refuses it only when the device or the pool is gone; nothing is left to free.
      }
    }
  }
}

