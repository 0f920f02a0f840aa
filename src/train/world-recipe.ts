// How the small segmenter is trained on the synthetic world's seeds: the options `seedmask train`
// gets in bench/world-train.ts, and the browser app's starting values. Small images, because the
// world CLIP's seeds are coarse; the classifier at the backbone's learning rate.

/** The world recipe, as `seedmask train` options (the others keep the command's defaults). */
export const WORLD_TRAIN_RECIPE = {
  baseSize: 96,
  crop: 64,
  batch: 8,
  widths: [16, 32, 64],
  lr: 0.05,
  headLrMult: 1,
  seed: 1,
} as const;

/** The world recipe as `seedmask train` arguments. */
export function worldTrainArgs(): string[] {
  const r = WORLD_TRAIN_RECIPE;
  return ['--base-size', String(r.baseSize), '--crop', String(r.crop), '--batch', String(r.batch), '--widths', r.widths.join(','), '--lr', String(r.lr), '--head-lr-mult', String(r.headLrMult), '--seed', String(r.seed)];
}
