// The seed pipeline's plug-ins, in the order they run. A new CAM source or stage is one file (plus
// its shaders and test) and one entry here; the pipeline, the CLIs, the report and the benches
// read these lists.
import { maskClipSource } from './sources/maskclip.js';
import { gradCamSource } from './sources/gradcam.js';
import { caaStage } from './stages/caa.js';
import { camStage } from './stages/cam.js';
import { crfStage } from './stages/crf.js';
import { parStage } from './stages/par.js';
import { randomWalkStage } from './stages/rw.js';

/** Where the CAMs come from; the first is the default. */
export const CAM_SOURCES = [gradCamSource, maskClipSource] as const;

/**
 * Label-map stages in pipeline order. 'caa' always runs (its CAMs are the result's `cams`); the
 * stages after it read its CAMs.
 */
export const SEED_STAGES = [camStage, caaStage, crfStage, parStage, randomWalkStage] as const;

/** A CAM source's name. */
export type CamSourceName = (typeof CAM_SOURCES)[number]['name'];
/** Label maps a run can produce, in pipeline order. */
export type Stage = (typeof SEED_STAGES)[number]['name'];
/**
 * What turns the CAA CAMs into the seed mask: 'crf' dense CRF (low-confidence pixels = 255),
 * 'par' AFA's PAR, 'randomwalk' psa's random walk on CLIP patch affinities, 'none' the CAA label map.
 */
export type Refiner = NonNullable<(typeof SEED_STAGES)[number]['refiner']>;

/** Stage names in pipeline order. */
export const STAGES: readonly Stage[] = SEED_STAGES.map((s) => s.name);
/** CAM source names; the first is the default. */
export const CAM_SOURCE_NAMES: readonly CamSourceName[] = CAM_SOURCES.map((s) => s.name);
/** Refiner names, each selecting the stage whose map becomes the seeds. */
export const REFINERS: readonly Refiner[] = SEED_STAGES.flatMap((s) => (s.refiner ? [s.refiner as Refiner] : []));

/** The stage a refiner selects. */
export function refinerStage(refiner: Refiner): Stage | undefined {
  return SEED_STAGES.find((s) => s.refiner === refiner)?.name;
}
