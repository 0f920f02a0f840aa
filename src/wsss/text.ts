// The text side of CLIP-ES (docs/algorithms.md §2.3, §3.3): one embedding per class prompt and per
// background prompt of a label set, L2-normalised, computed once per (model, label set) and then
// gathered per image as TXT = [FG[labels]; BG] — the image's K label rows in label order, then all
// M background rows. The softmax of Grad-CAM runs over exactly these K + M rows.

import type { Tensor } from '../gpu/tensor.js';
import { gatherRows } from '../kernels/layout.js';
import type { ClipModel } from '../models/clip/model.js';
import { l2NormalizeRows } from '../models/clip/text.js';
import { backgroundPrompts, classPrompts, type LabelSet } from './labelset.js';

export interface LabelSetEmbeddings {
  labelSet: LabelSet;
  /** Embedding width E. */
  dim: number;
  /** [classes, E], rows L2-normalised, in the label set's class order. */
  classes: Float32Array;
  /** [background prompts, E], rows L2-normalised. */
  background: Float32Array;
}

const cache = new WeakMap<ClipModel, WeakMap<LabelSet, Promise<LabelSetEmbeddings>>>();

/**
 * The label set's class and background embeddings for `model` (cached per model and label set).
 * One prompt per class (CLIP-ES uses the single template `a clean origami {}.` with the synonyms
 * already fused into the class string, §3.2).
 */
export function labelSetEmbeddings(model: ClipModel, labelSet: LabelSet): Promise<LabelSetEmbeddings> {
  let perModel = cache.get(model);
  if (!perModel) cache.set(model, (perModel = new WeakMap()));
  let p = perModel.get(labelSet);
  if (!p) {
    p = (async () => {
      const dim = model.config.embedDim;
      const fg = classPrompts(labelSet);
      const bg = backgroundPrompts(labelSet);
      const all = await model.encodeText([...fg, ...bg]);
      const rows = l2NormalizeRows(all, dim);
      return { labelSet, dim, classes: rows.slice(0, fg.length * dim), background: rows.slice(fg.length * dim) };
    })();
    perModel.set(labelSet, p);
    p.catch(() => perModel!.delete(labelSet));
  }
  return p;
}

/** TXT of §3.3 for an image with class indices `labels`: [K + M, E]. */
export function textRows(emb: LabelSetEmbeddings, labels: readonly number[]): Float32Array {
  const { dim } = emb;
  const m = emb.background.length / dim;
  const out = new Float32Array((labels.length + m) * dim);
  labels.forEach((c, k) => {
    if (!(Number.isInteger(c) && c >= 0 && c < emb.classes.length / dim)) throw new RangeError(`label index ${c} is not a class of label set '${emb.labelSet.name}'`);
    out.set(emb.classes.subarray(c * dim, (c + 1) * dim), k * dim);
  });
  out.set(emb.background, labels.length * dim);
  return out;
}

const onDevice = new WeakMap<LabelSetEmbeddings, Tensor>();

/**
 * TXT of §3.3 on the model's device, gathered there: [K + M, E]. The label set's rows go up once
 * per (model, label set); the row indices are a device constant per label list, so an image whose
 * label list was seen before moves nothing from the host. The caller owns the result.
 */
export async function textRowsOnGpu(model: ClipModel, emb: LabelSetEmbeddings, labels: readonly number[]): Promise<Tensor> {
  const { dim } = emb;
  const c = emb.classes.length / dim;
  const m = emb.background.length / dim;
  labels.forEach((l) => {
    if (!(Number.isInteger(l) && l >= 0 && l < c)) throw new RangeError(`label index ${l} is not a class of label set '${emb.labelSet.name}'`);
  });
  const gpu = model.gpu;
  let table = onDevice.get(emb);
  if (!table) {
    const all = new Float32Array((c + m) * dim);
    all.set(emb.classes);
    all.set(emb.background, c * dim);
    table = gpu.upload(all, [c + m, dim], 'f32', `label set '${emb.labelSet.name}' text rows`);
    onDevice.set(emb, table);
  }
  const indices = gpu.constant(`text rows of ${c} classes + ${m} background: ${labels.join(',')}`, [labels.length + m], 'u32', () => {
    const idx = new Uint32Array(labels.length + m);
    idx.set(labels);
    for (let j = 0; j < m; j++) idx[labels.length + j] = c + j;
    return idx;
  });
  return gatherRows(gpu, table, indices);
}
