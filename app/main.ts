// The app's page: inputs, the queue, the gallery, the training chart and the downloads. Every
// heavy step runs in the worker (worker.ts); this thread only draws. `document.body.dataset.state`
// tells where the app is (starting, no-weights, loading, ready, running, training, done), the train
// section's `data-train` how the last training went (idle, training, done, cancelled, failed), and
// window.__seedmaskApp holds the main-thread long tasks seen during runs and trainings, for the
// browser tests and the app benchmark.
import type { Stage } from '../src/browser.js';
import { lineChart } from '../src/eval/charts.js';
import { overlayLabels } from '../src/wsss/overlay.js';
import { TRAIN_DEFAULTS, type FromWorker, type ImageResult, type RunItem, type ToWorker, type TrainFile, type TrainRequest, type WeightSource } from './protocol.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const send = (m: ToWorker) => worker.postMessage(m);

type View = 'photo' | Stage;
interface QueueRow {
  item: RunItem;
  row: HTMLTableRowElement;
  status: HTMLTableCellElement;
  labels?: HTMLInputElement;
}
const queue: QueueRow[] = [];
const results = new Map<number, ImageResult>();
let nextId = 0;
let outputDir: FileSystemDirectoryHandle | undefined;
let runStart = 0;
let runTotal = 0;
let runFinished = 0;
const longTasks: { start: number; duration: number }[] = [];
/** A seeds run or a training is in progress in the worker. */
let running = false;
/** A seeds run has ended since the page opened: there may be seeds to train on. */
let seedsRunEnded = false;
(window as unknown as { __seedmaskApp: unknown }).__seedmaskApp = { longTasks, results };

function setState(state: string): void {
  document.body.dataset.state = state;
}

function showError(message: string): void {
  const box = $('error');
  box.textContent = message;
  box.hidden = false;
}
function clearError(): void {
  $('error').hidden = true;
}

// Long tasks on this thread while a run is going: the page must never freeze.
if (typeof PerformanceObserver !== 'undefined' && PerformanceObserver.supportedEntryTypes?.includes('longtask')) {
  new PerformanceObserver((list) => {
    if (running) for (const e of list.getEntries()) longTasks.push({ start: e.startTime, duration: e.duration });
  }).observe({ type: 'longtask', buffered: false });
}

// ---- weights

function loadWeights(source: WeightSource): void {
  clearError();
  setState('loading');
  $<HTMLProgressElement>('weights-progress').hidden = false;
  $('weights-status').textContent = 'loading…';
  send({ type: 'load-weights', source });
}
$('use-world').onclick = () => loadWeights({ kind: 'world' });
$<HTMLInputElement>('weights-file').onchange = (e) => {
  const files = Array.from((e.target as HTMLInputElement).files ?? []);
  if (files.length) loadWeights({ kind: 'files', files });
};
$<HTMLInputElement>('weights-folder').onchange = (e) => {
  const files = Array.from((e.target as HTMLInputElement).files ?? []);
  if (files.length) loadWeights({ kind: 'files', files });
};

// ---- label set

$<HTMLSelectElement>('label-set').onchange = (e) => {
  const value = (e.target as HTMLSelectElement).value as 'voc' | 'coco' | 'world' | 'file';
  $('label-set-file').hidden = value !== 'file';
  if (value !== 'file') send({ type: 'label-set', name: value });
};
$<HTMLInputElement>('label-set-file').onchange = (e) => {
  const file = (e.target as HTMLInputElement).files?.[0];
  if (file) send({ type: 'label-set', name: 'file', file });
};

// ---- images

function addImages(files: File[], masks = new Map<string, File>()): void {
  const defaults = $<HTMLInputElement>('default-labels').value;
  const body = $('queue').querySelector('tbody')!;
  for (const file of files) {
    const item: RunItem = { id: nextId++, name: file.name, file };
    const stem = file.name.replace(/\.[^.]*$/, '');
    const row = document.createElement('tr');
    row.id = `row-${item.id}`;
    const nameCell = row.insertCell();
    nameCell.textContent = file.webkitRelativePath || file.name;
    const labelCell = row.insertCell();
    const status = row.insertCell();
    const entry: QueueRow = { item, row, status };
    const mask = masks.get(stem);
    if (mask) {
      item.mask = mask;
      labelCell.textContent = `from ${mask.name}`;
    } else {
      const input = document.createElement('input');
      input.value = defaults;
      input.setAttribute('list', 'class-names');
      input.placeholder = 'cat, sofa';
      labelCell.append(input);
      entry.labels = input;
    }
    status.textContent = 'queued';
    body.append(row);
    queue.push(entry);
  }
  updateRunButton();
}

$<HTMLInputElement>('images').onchange = (e) => addImages(Array.from((e.target as HTMLInputElement).files ?? []));
$<HTMLInputElement>('dataset').onchange = (e) => {
  const files = Array.from((e.target as HTMLInputElement).files ?? []);
  const inFolder = (name: string) => files.filter((f) => f.webkitRelativePath.split('/').includes(name));
  const images = inFolder('JPEGImages').filter((f) => /\.(jpe?g|png)$/i.test(f.name));
  if (images.length === 0) {
    showError('that folder has no JPEGImages/ folder with images in it (VOC layout: JPEGImages/, SegmentationClass/)');
    return;
  }
  const masks = new Map(inFolder('SegmentationClass').map((f) => [f.name.replace(/\.png$/i, ''), f]));
  addImages(images, masks);
};
const drop = $('drop');
drop.ondragover = (e) => {
  e.preventDefault();
  drop.classList.add('over');
};
drop.ondragleave = () => drop.classList.remove('over');
drop.ondrop = (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  addImages(Array.from(e.dataTransfer?.files ?? []).filter((f) => /\.(jpe?g|png)$/i.test(f.name) || f.type.startsWith('image/')));
};

// ---- run

function updateRunButton(): void {
  const ready = document.body.dataset.state === 'ready' || document.body.dataset.state === 'done';
  $<HTMLButtonElement>('run').disabled = !ready || queue.length === 0 || running;
  $<HTMLButtonElement>('train').disabled = !seedsRunEnded || running;
  // Weights, label set and training settings stay fixed during a run or a training.
  for (const id of ['use-world', 'weights-file', 'weights-folder', 'label-set', 'label-set-file', 'cam-source', ...TRAIN_INPUTS.map(([, input]) => input)]) $<HTMLInputElement>(id).disabled = running;
}

$('run').onclick = () => {
  clearError();
  const items = queue.filter((q) => !results.has(q.item.id)).map((q) => ({ ...q.item, labels: q.labels?.value }));
  if (items.length === 0) return;
  for (const q of queue) if (!results.has(q.item.id)) q.status.textContent = 'waiting';
  running = true;
  runStart = performance.now();
  runTotal = items.length;
  runFinished = 0;
  setState('running');
  $<HTMLButtonElement>('cancel').disabled = false;
  updateRunButton();
  send({ type: 'run', items, camSource: $<HTMLSelectElement>('cam-source').value, output: outputDir });
};
$('cancel').onclick = () => {
  send({ type: 'cancel' });
  $('run-status').textContent = 'cancelling…';
};

function progressRun(): void {
  runFinished++;
  const elapsed = performance.now() - runStart;
  const eta = (elapsed / runFinished) * (runTotal - runFinished);
  $<HTMLProgressElement>('run-progress').value = runFinished / runTotal;
  $('run-status').textContent = `${runFinished} / ${runTotal} · ${(elapsed / 1000).toFixed(1)} s · ETA ${(eta / 1000).toFixed(0)} s`;
}

// ---- gallery

function currentView(): View {
  return (document.querySelector('input[name=view]:checked') as HTMLInputElement).value as View;
}

function draw(canvas: HTMLCanvasElement, r: ImageResult, view: View): void {
  const image = { width: r.width, height: r.height, data: r.rgba };
  const map = view === 'photo' ? undefined : r.stages[view];
  const shown = map ? overlayLabels(image, { width: r.width, height: r.height, data: map }) : image;
  canvas.width = r.width;
  canvas.height = r.height;
  const pixels = new Uint8ClampedArray(shown.data.buffer as ArrayBuffer, shown.data.byteOffset, shown.data.byteLength);
  canvas.getContext('2d')!.putImageData(new ImageData(pixels, r.width, r.height), 0, 0);
}

function addCard(r: ImageResult): void {
  const card = document.createElement('div');
  card.className = 'card';
  card.id = `card-${r.id}`;
  const canvas = document.createElement('canvas');
  draw(canvas, r, currentView());
  const title = document.createElement('div');
  title.textContent = `${r.name} · ${r.width}×${r.height}`;
  const probs = document.createElement('div');
  probs.className = 'probs';
  for (const [name, p] of r.probabilities) {
    const line = document.createElement('div');
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.style.width = `${Math.round(100 * p)}px`;
    line.append(`${name} ${(100 * p).toFixed(1)} %`, bar);
    probs.append(line);
  }
  const timing = document.createElement('div');
  const t = r.timings;
  timing.textContent = `total ${(t.total ?? 0).toFixed(0)} ms · text ${(t.text ?? 0).toFixed(0)} · Grad-CAM ${(t.gradcam ?? 0).toFixed(0)} · CAA ${(t.caa ?? 0).toFixed(0)} · CRF ${(t.crf ?? 0).toFixed(0)} · decode ${(t.decode ?? 0).toFixed(0)}`;
  card.append(canvas, title, probs, timing);
  $('gallery').append(card);
}

for (const radio of Array.from(document.querySelectorAll<HTMLInputElement>('input[name=view]'))) {
  radio.onchange = () => {
    for (const r of results.values()) draw(document.querySelector(`#card-${r.id} canvas`) as HTMLCanvasElement, r, currentView());
  };
}

// ---- output

$('download').onclick = () => send({ type: 'zip' });
$('pick-output').onclick = async () => {
  const picker = (window as unknown as { showDirectoryPicker?: (o: object) => Promise<FileSystemDirectoryHandle> }).showDirectoryPicker;
  if (!picker) {
    showError('this browser cannot write into folders (no File System Access API): use "Download seeds (.zip)"');
    return;
  }
  try {
    outputDir = await picker({ mode: 'readwrite' });
    $('output-status').textContent = `writing into ${outputDir.name}/; images whose seed PNG is already there are skipped`;
  } catch {
    // the user closed the picker
  }
};

// ---- training

/** Each training setting and its input. */
const TRAIN_INPUTS: [keyof TrainRequest, string][] = [
  ['steps', 'train-steps'],
  ['batch', 'train-batch'],
  ['crop', 'train-crop'],
  ['baseSize', 'train-base-size'],
  ['lr', 'train-lr'],
  ['valEvery', 'train-val-every'],
  ['seed', 'train-seed'],
];
for (const [key, id] of TRAIN_INPUTS) $<HTMLInputElement>(id).value = String(TRAIN_DEFAULTS[key]);

/** The run being drawn: its losses (one per step), its validations, its images per step. */
const training = { losses: [] as number[], validation: [] as { iteration: number; miou: number }[], batch: 0, steps: 0, cancelling: false };
const TRAIN_LINKS: Record<TrainFile['name'], string> = { 'best.safetensors': 'train-best', 'last.safetensors': 'train-last', 'curve.json': 'train-curve' };

function setTrainState(state: 'idle' | 'training' | 'done' | 'cancelled' | 'failed'): void {
  $('train-section').dataset.train = state;
}

function offerFile(file: TrainFile): void {
  const a = $<HTMLAnchorElement>(TRAIN_LINKS[file.name]);
  if (a.href) URL.revokeObjectURL(a.href);
  a.href = URL.createObjectURL(file.blob);
  a.hidden = false;
}

function drawTrainChart(): void {
  // A running mean over 1 % of the run keeps the curve readable at thousands of steps (as the CLI's report.html).
  const window = Math.max(1, Math.round(training.losses.length / 100));
  let sum = 0;
  const loss = training.losses.map((l, i): [number, number] => {
    sum += l - (i >= window ? training.losses[i - window]! : 0);
    return [i + 1, sum / Math.min(i + 1, window)];
  });
  $('train-chart').innerHTML = lineChart({
    series: [
      { label: window > 1 ? `loss (mean of ${window})` : 'loss', points: loss },
      { label: 'val mIoU', points: training.validation.map((v) => [v.iteration, v.miou]), min: 0, max: 1, format: (v) => `${(100 * v).toFixed(1)} %` },
    ],
    xLabel: 'step',
    width: 900,
  });
}

$('train').onclick = () => {
  clearError();
  const settings = Object.fromEntries(TRAIN_INPUTS.map(([key, id]) => [key, $<HTMLInputElement>(id).value.trim()]).filter(([, v]) => v !== '').map(([key, v]) => [key, Number(v)])) as unknown as TrainRequest;
  training.losses = [];
  training.validation = [];
  training.cancelling = false;
  for (const id of Object.values(TRAIN_LINKS)) {
    const a = $<HTMLAnchorElement>(id);
    if (a.href) URL.revokeObjectURL(a.href);
    a.removeAttribute('href');
    a.hidden = true;
  }
  $('train-chart').replaceChildren();
  $('train-val').textContent = '';
  $('train-left-out').hidden = true;
  $<HTMLProgressElement>('train-progress').value = 0;
  $('train-status').textContent = 'starting…';
  running = true;
  setState('training');
  setTrainState('training');
  $<HTMLButtonElement>('train-cancel').disabled = false;
  updateRunButton();
  send({ type: 'train', items: queue.map((q) => ({ id: q.item.id, name: q.item.name })), settings });
};
const CANCELLING = ' · cancelling after this step…';
$('train-cancel').onclick = () => {
  send({ type: 'train-cancel' });
  training.cancelling = true;
  $('train-status').textContent += CANCELLING;
};

function trainingEnded(state: 'done' | 'cancelled' | 'failed'): void {
  running = false;
  setTrainState(state);
  $<HTMLButtonElement>('train-cancel').disabled = true;
  // A device lost before or during the training may have taken the CLIP weights with it.
  setState(model() ? 'done' : 'no-weights');
  updateRunButton();
}

// ---- worker messages

worker.onmessage = (event: MessageEvent<FromWorker>) => {
  const m = event.data;
  const row = (id: number) => queue.find((q) => q.item.id === id);
  switch (m.type) {
    case 'progress': {
      const bar = $<HTMLProgressElement>('weights-progress');
      if (m.total) {
        bar.max = m.total;
        bar.value = m.done ?? 0;
      } else bar.removeAttribute('value');
      $('weights-status').textContent = m.phase;
      break;
    }
    case 'cam-sources':
      $('cam-source').replaceChildren(...m.sources.map((c) => Object.assign(document.createElement('option'), { value: c.name, textContent: c.label, title: c.description })));
      break;
    case 'no-cache':
      setState('no-weights');
      break;
    case 'device-restored':
      $<HTMLProgressElement>('weights-progress').hidden = true;
      $('weights-status').textContent += ` · the GPU device was lost and the weights were loaded again on a new one (${(m.ms / 1000).toFixed(1)} s)`;
      break;
    case 'weights-ready':
      $<HTMLProgressElement>('weights-progress').hidden = true;
      $('weights-status').textContent = `${m.name} (${(m.bytes / 2 ** 20).toFixed(1)} MiB) ready in ${(m.ms / 1000).toFixed(1)} s${m.from === 'cache' ? ', from this browser’s cache' : ''}`;
      $('weights-status').dataset.ms = String(m.ms);
      $('weights-status').dataset.from = m.from;
      // The same weights loaded again on a new device during a run: the run goes on.
      if (!running) setState('ready');
      updateRunButton();
      break;
    case 'weights-cached':
      $('weights-status').textContent += ' · kept in this browser for the next visit';
      $('weights-status').dataset.cached = 'yes';
      break;
    case 'label-set-ready':
      $('label-set-status').textContent = `${m.name}: ${m.classes.length} classes`;
      $('class-names').replaceChildren(...m.classes.map((c) => Object.assign(document.createElement('option'), { value: c })));
      break;
    case 'image-done': {
      results.set(m.result.id, m.result);
      const q = row(m.result.id);
      if (q) q.status.textContent = `done, ${(m.result.timings.total! / 1000).toFixed(1)} s`;
      addCard(m.result);
      progressRun();
      break;
    }
    case 'image-skipped': {
      const q = row(m.id);
      if (q) q.status.textContent = `skipped: ${m.reason}`;
      progressRun();
      break;
    }
    case 'image-failed': {
      const q = row(m.id);
      if (q) {
        q.status.textContent = m.message;
        q.status.className = 'failed';
      }
      showError(`${m.name}: ${m.message}`);
      progressRun();
      break;
    }
    case 'train-started': {
      training.batch = m.batch;
      training.steps = m.steps;
      $('train-status').textContent = `training on ${m.images} image${m.images === 1 ? '' : 's'} with seed masks, validating on ${m.validation === 0 ? 'none (no image has a ground-truth mask)' : `${m.validation} with ground-truth masks`}…`;
      const box = $('train-left-out');
      box.textContent = m.leftOut.length ? `Left out, without a seed mask: ${m.leftOut.map((l) => `${l.name} (${l.reason})`).join('; ')}` : '';
      box.hidden = m.leftOut.length === 0;
      break;
    }
    case 'train-progress': {
      training.losses.length = m.first;
      training.losses.push(...m.losses);
      const done = m.first + m.losses.length;
      const perStep = m.stepsDone > 0 ? m.seconds / m.stepsDone : 0;
      const rate = perStep > 0 ? `${(training.batch / perStep).toFixed(2)} img/s · ETA ${Math.round(perStep * (m.steps - done))} s` : '';
      $<HTMLProgressElement>('train-progress').value = done / m.steps;
      $('train-status').textContent = `step ${done}/${m.steps} · loss ${training.losses[done - 1]?.toFixed(4) ?? '—'} · lr ${m.lr.toPrecision(3)} · ${rate}${training.cancelling ? CANCELLING : ''}`;
      drawTrainChart();
      break;
    }
    case 'train-validation': {
      training.validation.push({ iteration: m.iteration, miou: m.miou });
      if (m.file) offerFile(m.file);
      const best = training.validation.reduce((b, v) => (v.miou > b.miou ? v : b));
      $('train-val').textContent = `step ${m.iteration}: val mIoU ${(100 * m.miou).toFixed(2)} % (pixel accuracy ${(100 * m.pixelAccuracy).toFixed(2)} %, ${m.images} images); best ${(100 * best.miou).toFixed(2)} % at step ${best.iteration}`;
      drawTrainChart();
      break;
    }
    case 'train-done': {
      for (const file of m.files) offerFile(file);
      const last = training.losses[training.losses.length - 1];
      $<HTMLProgressElement>('train-progress').value = m.steps / training.steps;
      $('train-status').textContent = `${m.cancelled ? `cancelled after step ${m.steps} of ${training.steps}` : `${m.steps} steps`} in ${(m.ms / 1000).toFixed(1)} s${last === undefined ? '' : `, last loss ${last.toFixed(4)}`}`;
      trainingEnded(m.cancelled ? 'cancelled' : 'done');
      break;
    }
    case 'run-done':
      seedsRunEnded = true;
      running = false;
      $<HTMLButtonElement>('cancel').disabled = true;
      $<HTMLButtonElement>('download').disabled = results.size === 0;
      $('run-status').textContent = `${m.done} done, ${m.skipped} skipped, ${m.failed} failed${m.cancelled ? ', cancelled' : ''}${m.deviceLosses ? `, ${m.deviceLosses} GPU device loss${m.deviceLosses > 1 ? 'es' : ''} recovered` : ''} in ${(m.ms / 1000).toFixed(1)} s`;
      setState('done');
      if (m.error) {
        showError(m.error);
        // The device went and took the model with it: weights must be loaded again.
        $('weights-status').textContent = 'no weights loaded (the GPU device was lost)';
        delete $('weights-status').dataset.ms;
        setState('no-weights');
      }
      updateRunButton();
      break;
    case 'zip': {
      const a = document.createElement('a');
      a.href = URL.createObjectURL(m.blob);
      a.download = 'seedmask-seeds.zip';
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
      break;
    }
    case 'error':
      showError(m.scope === 'weights' ? `Could not load the weights: ${m.message}` : m.scope === 'train' ? `Could not train: ${m.message}` : m.message);
      if (m.scope === 'weights') {
        $<HTMLProgressElement>('weights-progress').hidden = true;
        $('weights-status').textContent = 'no weights loaded';
        setState(model() ? 'ready' : 'no-weights');
      }
      if (m.scope === 'train') {
        $('train-status').textContent = 'training stopped by an error';
        trainingEnded('failed');
      }
      if (m.scope === 'run') {
        seedsRunEnded = true;
        running = false;
        $<HTMLButtonElement>('cancel').disabled = true;
        $<HTMLButtonElement>('download').disabled = results.size === 0;
        setState('done');
      }
      updateRunButton();
      break;
  }
};
worker.onerror = (e) => showError(`the worker stopped: ${e.message}`);

/** Whether a model is loaded (the status line carries the load time once one is). */
function model(): boolean {
  return $('weights-status').dataset.ms !== undefined;
}

send({ type: 'label-set', name: 'voc' });
send({ type: 'restore', base: new URL('.', location.href).href });
