// World accuracy page: what `seedmask report` does, in the browser. The world CLIP is served at
// /world-clip/; the world's val images are generated here (`?seed=1&first=200&images=N`), encoded
// as the world generator encodes them (JPEG, quality 90) and decoded again, so the pipeline sees the
// pixels Node reads from the files. Per stage it returns the confusion-matrix counts; with
// `?examples=K` also the report panels of the first K images; `?cam=maskclip` takes MaskCLIP's CAMs. Results go to window.__seedmask.
import { CAM_SOURCE_NAMES, ConfusionMatrix, Gpu, parseLabelSet, SeedPipeline, STAGES, type CamSourceName } from '../src/browser.js';
import { reportExample } from '../src/eval/world-example.js';
import { worldLabelSetJson } from '../src/world/labelset.js';
import { maskClassNames } from '../src/wsss/labelset.js';
import { publish } from './lib/publish.js';
import { loadWorldClip } from './lib/world-clip.js';
import { worldPhoto } from '../src/world/photo.js';

const log = document.getElementById('log')!;

async function main() {
  const params = new URLSearchParams(location.search);
  const seed = Number(params.get('seed') ?? 1);
  const first = Number(params.get('first') ?? 200);
  const count = Number(params.get('images') ?? 60);
  const exampleCount = Number(params.get('examples') ?? 0);
  const camSource = (params.get('cam') ?? CAM_SOURCE_NAMES[0]) as CamSourceName;
  const gpu = await Gpu.open();
  const model = await loadWorldClip(gpu);
  const pipeline = new SeedPipeline(model);
  const labelSet = parseLabelSet(worldLabelSetJson(), 'world');
  const classNames = maskClassNames(labelSet);
  const matrices = new Map<string, ConfusionMatrix>();
  const totals = new Map<string, number>();
  const examples = [];
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const { id, image, mask } = await worldPhoto(seed, first + i, 'val');
    // Labels from the mask, ascending, as dataset runs take them.
    const labels = [...new Set(mask)].filter((v) => v !== 0 && v !== 255).sort((a, b) => a - b).map((v) => v - 1);
    const result = await pipeline.run(image, labels, { labelSet, refiner: 'crf', stages: [...STAGES], camSource, stageTimes: true });
    for (const [stage, map] of [...Object.entries(result.stages), ['seeds', result.seeds] as const]) {
      if (!matrices.has(stage)) matrices.set(stage, new ConfusionMatrix(classNames.length));
      matrices.get(stage)!.add(mask, map as Uint8Array, `${id} ${stage}`);
    }
    for (const [k, v] of Object.entries(result.timings)) totals.set(k, (totals.get(k) ?? 0) + v);
    if (i < exampleCount) {
      const gt = { width: image.width, height: image.height, data: mask };
      const maps = STAGES.filter((s) => result.stages[s]).map((s) => [s, { width: image.width, height: image.height, data: result.stages[s]! }] as [string, typeof gt]);
      const example = reportExample(id, image, gt, maps, classNames);
      examples.push({ ...example, panels: example.panels.map((p) => ({ title: p.title, png: Array.from(p.png) })) });
    }
    log.textContent = `${i + 1}/${count} images`;
  }
  await model.destroy();
  return {
    adapter: gpu.adapterName,
    userAgent: navigator.userAgent,
    images: count,
    seconds: (performance.now() - started) / 1000,
    classNames,
    counts: Object.fromEntries([...matrices].map(([stage, m]) => [stage, { counts: Array.from(m.counts), ignoredGtPixels: m.ignoredGtPixels, strayGtPixels: m.strayGtPixels, images: m.images }])),
    stageMs: Object.fromEntries([...totals].map(([k, v]) => [k, v / count])),
    examples,
  };
}

publish(main(), log, () => 'done');
