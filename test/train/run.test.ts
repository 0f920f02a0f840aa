// A training run resumed from a checkpoint (through its file bytes) takes the same steps as one that
// never stopped: every loss and every final tensor bit-identical. Also the data order (a
// permutation per epoch, a pure function of seed and step) and settings checks.
import { describe, expect, it } from 'vitest';
import { encodeCheckpoint, loadCheckpoint, type TrainCheckpoint } from '../../src/train/checkpoint.js';
import { epochOrder, stepSamples, train, TrainRunError, type ImageSet, type LabeledImage, type TrainSettings } from '../../src/train/run.js';
import { generateImage } from '../../src/world/generate.js';
import { testGpu } from '../helpers/gpu.js';

/** World train images with their ground truth as labels (the run does not care where labels come from). */
function worldSet(split: 'train' | 'val', indices: number[]): ImageSet {
  const cache = new Map<string, LabeledImage>();
  const ids = indices.map((i) => String(i));
  return {
    ids,
    async load(id) {
      let s = cache.get(id);
      if (!s) {
        const { image } = generateImage(1, Number(id), split);
        s = { id, image: { width: image.width, height: image.height, data: image.rgba }, labels: image.mask };
        cache.set(id, s);
      }
      return s;
    },
  };
}

const SETTINGS: TrainSettings = {
  model: { kind: 'segmenter', config: { classes: 11, widths: [8, 16] } },
  seed: 7,
  steps: 6,
  batch: 2,
  augment: { crop: [40, 48], baseSize: 96, scale: { choice: [0.5, 0.75, 1, 1.25] }, flip: true, normalization: 'imagenet' },
  optimizer: { kind: 'sgd', lr: 0.02, momentum: 0.9, weightDecay: 5e-4 },
  power: 0.9,
  headLrMult: 10,
  biasLrMult: 10,
  lrDecayEvery: 1,
  iterSize: 1,
  valEvery: 3,
  checkpointEvery: 3,
};

describe('training runs', () => {
  it('the data order is a permutation per epoch, fixed by (seed, step)', () => {
    const o = epochOrder(3, 0, 10);
    expect([...o].sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
    expect([...epochOrder(3, 0, 10)]).toEqual([...o]);
    expect([...epochOrder(3, 1, 10)]).not.toEqual([...o]);
    // Slots continue across steps and wrap into the next epoch.
    const all = [0, 1, 2, 3].flatMap((it) => stepSamples(3, it, 3, 10));
    expect(all.slice(0, 10).sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
    expect(all.slice(10)).toEqual([...epochOrder(3, 1, 10)].slice(0, 2));
  });

  it('refuses settings it cannot run, naming them', async () => {
    const gpu = await testGpu();
    const data = { train: worldSet('train', [0]) };
    await expect(train(gpu, data, { ...SETTINGS, batch: 0 })).rejects.toThrow(TrainRunError);
    await expect(train(gpu, data, { ...SETTINGS, steps: 1.5 })).rejects.toThrow(/steps = 1.5/);
    await expect(train(gpu, { train: worldSet('train', []) }, SETTINGS)).rejects.toThrow(/no training images/);
  });

  it('resumed from its checkpoint file, a run is bit-identical to one that never stopped', async () => {
    const gpu = await testGpu();
    const data = { train: worldSet('train', [0, 1, 2, 3, 4]), val: worldSet('val', [200, 201]) };
    const checkpoints: { c: TrainCheckpoint<TrainSettings>; bytes: Uint8Array }[] = [];
    const whole = await train(gpu, data, SETTINGS, {
      readEvery: 2,
      onCheckpoint: async (c, shapes) => void checkpoints.push({ c, bytes: await encodeCheckpoint(c, shapes) }),
    });
    expect(whole.checkpoint.losses).toHaveLength(6);
    expect(whole.checkpoint.losses.every(Number.isFinite)).toBe(true);
    expect(checkpoints.map((k) => k.c.optimizer.iteration)).toEqual([3, 6]);
    expect(whole.checkpoint.validation.map((v) => v.iteration)).toEqual([3, 6]);

    const mid = await loadCheckpoint<TrainSettings>(checkpoints[0]!.bytes);
    expect(mid.settings).toEqual(SETTINGS);
    expect(mid.losses).toEqual(whole.checkpoint.losses.slice(0, 3));
    const resumed = await train(gpu, data, SETTINGS, { readEvery: 1 }, mid);
    expect(resumed.checkpoint.losses).toEqual(whole.checkpoint.losses);
    expect(resumed.checkpoint.validation).toEqual(whole.checkpoint.validation);
    for (const [name, w] of whole.checkpoint.weights) expect(Buffer.from(resumed.checkpoint.weights.get(name)!.buffer).equals(Buffer.from(w.buffer)), name).toBe(true);
    for (const [name, b] of whole.checkpoint.optimizer.buffers) expect(Buffer.from(resumed.checkpoint.optimizer.buffers.get(name)!.buffer).equals(Buffer.from(b.buffer)), name).toBe(true);
    expect(resumed.checkpoint.optimizer.steps).toEqual(whole.checkpoint.optimizer.steps);

    // A checkpoint of a run with another length is refused (the schedule depends on it).
    await expect(train(gpu, data, { ...SETTINGS, steps: 2 }, {}, mid)).rejects.toThrow(/other settings \(steps: 6 ≠ 2\)/);
  });

  it('AdamW with two sub-batches per step resumes bit-identically too', async () => {
    const gpu = await testGpu();
    const data = { train: worldSet('train', [0, 1, 2]) };
    const settings: TrainSettings = { ...SETTINGS, steps: 4, batch: 1, iterSize: 2, lrDecayEvery: 2, valEvery: 0, checkpointEvery: 2, optimizer: { kind: 'adamw', lr: 0.003, weightDecay: 0.01 } };
    let mid: Uint8Array | undefined;
    const whole = await train(gpu, data, settings, { onCheckpoint: async (c, shapes) => void (mid ??= await encodeCheckpoint(c, shapes)) });
    const resumed = await train(gpu, data, settings, {}, await loadCheckpoint<TrainSettings>(mid!));
    expect(resumed.checkpoint.losses).toEqual(whole.checkpoint.losses);
    for (const [name, w] of whole.checkpoint.weights) expect(Buffer.from(resumed.checkpoint.weights.get(name)!.buffer).equals(Buffer.from(w.buffer)), name).toBe(true);
    // A resume under other settings is refused, naming them.
    await expect(train(gpu, data, { ...settings, seed: 8 }, {}, await loadCheckpoint<TrainSettings>(mid!))).rejects.toThrow(/other settings \(seed: 7 ≠ 8\)/);
  });

  it('a NaN loss survives the checkpoint file; bad labels are refused, naming the image', async () => {
    const c: TrainCheckpoint<TrainSettings> = { settings: SETTINGS, weights: new Map([['w', new Float32Array([1, 2])]]), optimizer: { iteration: 2, steps: [2], buffers: new Map() }, losses: [0.5, Number.NaN], validation: [] };
    const back = await loadCheckpoint<TrainSettings>(await encodeCheckpoint(c, new Map([['w', [2]]])));
    expect(back.losses[0]).toBe(0.5);
    expect(back.losses[1]).toBeNaN();
    expect(back.shapes!.get('w')).toEqual([2]);
    const gpu = await testGpu();
    const set = worldSet('train', [0]);
    const good = await set.load('0');
    const bad: ImageSet = { ids: ['0'], load: async () => ({ ...good, labels: good.labels.map((v, i) => (i === 5 ? 11 : v)) }) };
    await expect(train(gpu, { train: bad }, SETTINGS)).rejects.toThrow(/image '0': pixel \(5, 0\) is labelled 11/);
  });

  it('a stop request ends the run after the step in progress', async () => {
    const gpu = await testGpu();
    let calls = 0;
    const r = await train(gpu, { train: worldSet('train', [0, 1]) }, { ...SETTINGS, steps: 5 }, { shouldStop: () => ++calls > 2 });
    expect(r.stoppedEarly).toBe(true);
    expect(r.checkpoint.optimizer.iteration).toBe(2);
    expect(r.checkpoint.losses).toHaveLength(2);
  });
});
