// The human-readable report of a browser benchmark run: one self-contained HTML file (inline CSS and
// SVG, no script, nothing fetched) with the environment, per-case bars of seedmask against each
// peer, a table of every figure, and the numerics (checksums, agreement with seedmask).
//
// Two more sections are rendered when their data is given, for the WSSS pipeline to fill:
//   stages  per-run stacked bars of stage times (e.g. preprocess, CLIP, Grad-CAM, refinement)
//   miou    per-class IoU bars, one bar per series (e.g. seedmask vs a reference), with the mean
import { DEFAULT_LAYOUT, escapeHtml, groupedBars, legend, paletteColour, stackedBars } from '../src/eval/charts.js';
import { fmtMs, fmtRate } from '../bench/lib/driver.js';
import { speedRatio, type BrowserBenchResults, type CaseResult, type EngineRun } from './lib/results.js';

export interface StagesSection {
  title?: string;
  /** Each run (an image, a size, a configuration) with its stages in order, ms. */
  runs: Array<{ label: string; stages: Array<{ name: string; ms: number }> }>;
}

export interface MiouSection {
  title?: string;
  classes: string[];
  /** IoU per class in [0, 1] (NaN: class absent), one entry per series, in `classes` order. */
  series: Array<{ label: string; iou: number[] }>;
}

export interface ReportInput extends BrowserBenchResults {
  stages?: StagesSection;
  miou?: MiouSection;
}

const ENGINE_COLOURS: Record<string, string> = { seedmask: '#1b7f5b', 'ort-jsep': '#3b6fb6', 'ort-native': '#7a5bb5', tfjs: '#d9822b' };

export { escapeHtml };
const fmtRatio = (r: number) => `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`;
const fmtSci = (x: number) => (x === 0 ? '0' : Number.isFinite(x) ? x.toExponential(2) : String(x));

const LABEL_W = DEFAULT_LAYOUT.label, BAR_W = DEFAULT_LAYOUT.bar, ROW_H = 20, W = LABEL_W + BAR_W + DEFAULT_LAYOUT.text;

interface Bar {
  label: string;
  colour: string;
  value: number;
  /** Thin whisker from..to (e.g. min..p90). */
  whisker?: [number, number];
  text: string;
}

/** Horizontal bars on one linear scale starting at 0 (max = the largest value or whisker end). */
function barChart(title: string, bars: Bar[]): string {
  const max = Math.max(...bars.map((b) => Math.max(b.value, b.whisker?.[1] ?? 0)), 1e-12);
  const x = (v: number) => LABEL_W + (BAR_W * v) / max;
  const h = bars.length * ROW_H + 24;
  const rows = bars.map((b, i) => {
    const y = 20 + i * ROW_H;
    const whisker = b.whisker ? `<line x1="${x(b.whisker[0]).toFixed(1)}" x2="${x(b.whisker[1]).toFixed(1)}" y1="${y + 7}" y2="${y + 7}" stroke="#222" stroke-width="1"/>` : '';
    return `<text x="${LABEL_W - 6}" y="${y + 11}" text-anchor="end">${escapeHtml(b.label)}</text>`
      + `<rect x="${LABEL_W}" y="${y}" width="${Math.max(0.5, x(b.value) - LABEL_W).toFixed(1)}" height="14" fill="${b.colour}"/>${whisker}`
      + `<text x="${LABEL_W + BAR_W + 6}" y="${y + 11}">${escapeHtml(b.text)}</text>`;
  });
  return `<figure><figcaption>${escapeHtml(title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}" role="img">${rows.join('')}</svg></figure>`;
}

function engineBars(c: CaseResult): Bar[] {
  const runs: EngineRun[] = [c.seedmask, ...c.peers];
  return runs.map((r) => {
    const w = r.timing?.warm;
    if (!w) return { label: r.engine, colour: '#ccc', value: 0, text: r.error ? `error: ${r.error.slice(0, 40)}` : 'not run' };
    const ratio = r.engine === 'seedmask' ? undefined : speedRatio(c, r);
    const agree = r.agreement ? (r.agreement.agree ? ', same output' : ', OUTPUT DIFFERS') : '';
    return { label: r.engine, colour: ENGINE_COLOURS[r.engine] ?? '#888', value: w.p50, whisker: [w.min, w.p90], text: `${fmtMs(w.p50)} ms${ratio !== undefined ? ` (${fmtRatio(ratio)} seedmask's time)` : ''}${agree}` };
  });
}

function caseFigure(c: CaseResult): string {
  if (c.error && !c.seedmask.timing) return `<p class="err">${escapeHtml(c.name)}: ${escapeHtml(c.error)}</p>`;
  const rate = c.seedmask.timing ? ` — seedmask ${fmtRate(c.work / (c.seedmask.timing.warm.p50 * 1e6))} ${c.unit}` : '';
  return barChart(`${c.name} (${c.role})${rate}; warm p50, whisker min–p90, ms`, engineBars(c));
}

function casesTable(cases: CaseResult[]): string {
  const head = ['case', 'busy before', 'engine', 'io', 'init ms', 'cold ms', 'p50 ms', 'p90 ms', 'min ms', 'runs', 'rate', 'seedmask speed', 'max |Δ| vs seedmask', 'checksum Σ', 'note'];
  const rows: string[] = [];
  for (const c of cases) {
    for (const r of [c.seedmask, ...c.peers]) {
      const t = r.timing;
      const ratio = r.engine !== 'seedmask' ? speedRatio(c, r) : undefined;
      const a = r.agreement;
      const cells = [
        c.name, c.cpuBusyBefore !== undefined ? `${Math.round(100 * c.cpuBusyBefore)} %` : '', r.name, r.io,
        t?.initMs !== undefined ? fmtMs(t.initMs) : '', t ? fmtMs(t.coldMs) : '', t ? fmtMs(t.warm.p50) : '', t ? fmtMs(t.warm.p90) : '', t ? fmtMs(t.warm.min) : '', t ? String(t.warm.runs.length) : '',
        t && c.work ? `${fmtRate(c.work / (t.warm.p50 * 1e6))} ${c.unit}` : '',
        ratio !== undefined ? fmtRatio(ratio) : '',
        a ? `${fmtSci(a.maxAbsDiff)} (rel ${fmtSci(a.relDiff)}) ${a.agree ? '✓' : '✗'}` : '',
        r.checksum ? r.checksum.sum.toPrecision(8) : '',
        r.error ? `error: ${r.error}` : r.note ?? '',
      ];
      rows.push(`<tr${r.error || (a && !a.agree) ? ' class="err"' : ''}>${cells.map((x) => `<td>${escapeHtml(x)}</td>`).join('')}</tr>`);
    }
  }
  return `<table><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function summary(r: BrowserBenchResults): string {
  const peers = [...new Set(r.cases.flatMap((c) => c.peers.map((p) => p.engine)))];
  const items = peers.map((peer) => {
    const qs = r.cases.flatMap((c) => {
      const p = c.peers.find((x) => x.engine === peer);
      const q = p && speedRatio(c, p);
      return q !== undefined ? [{ q, agree: p!.agreement?.agree ?? false }] : [];
    });
    if (!qs.length) return `<li>${escapeHtml(peer)}: no case ran on both</li>`;
    const geo = Math.exp(qs.reduce((s, x) => s + Math.log(x.q), 0) / qs.length);
    const bad = qs.filter((x) => !x.agree).length;
    return `<li><b>${escapeHtml(peer)}</b> (${escapeHtml(r.versions[peer] ?? '')}): seedmask ${fmtRatio(geo)} as fast (geometric mean over ${qs.length} cases, range ${fmtRatio(Math.min(...qs.map((x) => x.q)))}–${fmtRatio(Math.max(...qs.map((x) => x.q)))}); ${bad ? `<span class="err">${bad} outputs differ from seedmask's</span>` : 'every output agrees with seedmask within tolerance'}</li>`;
  });
  return items.length ? `<ul>${items.join('')}</ul>` : '<p>No peer ran.</p>';
}

function stagesSection(s: StagesSection): string {
  const chart = stackedBars(s.runs, { format: (ms) => `${fmtMs(ms)} ms` });
  const key = legend(chart.names.map((n) => ({ label: n, colour: chart.colour(n) })));
  const table = `<table><thead><tr><th>run</th>${chart.names.map((n) => `<th>${escapeHtml(n)} ms</th>`).join('')}<th>total ms</th></tr></thead><tbody>${s.runs
    .map((r) => `<tr><td>${escapeHtml(r.label)}</td>${chart.names.map((n) => `<td>${fmtMs(r.stages.filter((st) => st.name === n).reduce((a, st) => a + st.ms, 0))}</td>`).join('')}<td>${fmtMs(r.stages.reduce((a, st) => a + st.ms, 0))}</td></tr>`)
    .join('')}</tbody></table>`;
  return `<section id="stages"><h2>${escapeHtml(s.title ?? 'Time per stage')}</h2><p>${key}</p>${chart.svg}${table}</section>`;
}

function miouSection(m: MiouSection): string {
  const mean = (iou: number[]) => {
    const v = iou.filter((x) => Number.isFinite(x));
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
  };
  for (const s of m.series) {
    if (s.iou.length !== m.classes.length) throw new Error(`renderReport: miou series '${s.label}' has ${s.iou.length} values for ${m.classes.length} classes`);
  }
  // One more group after the classes: each series' mean over the classes present.
  const series = m.series.map((s, i) => ({ label: s.label, colour: paletteColour(i), values: [...s.iou, mean(s.iou)] }));
  const key = legend(m.series.map((s, i) => ({ label: `${s.label} (mIoU ${(100 * mean(s.iou)).toFixed(1)} %)`, colour: paletteColour(i) })));
  const chart = groupedBars({ groups: [...m.classes, 'mean'], series, bold: (g) => g === m.classes.length });
  return `<section id="miou"><h2>${escapeHtml(m.title ?? 'IoU per class')}</h2><p>${key}</p>${chart}</section>`;
}

const CSS = `body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#222}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:12px;margin:8px 0}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}
th{background:#f4f4f4}tr.err td,.err{color:#b00}figure{margin:10px 0}figcaption{font-size:13px;margin-bottom:2px}
svg text{font:11px system-ui,sans-serif;fill:#222}.key{margin-right:12px}.key i{display:inline-block;width:10px;height:10px;margin-right:4px}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dt{font-weight:bold}code{font-size:12px}`;

/** The whole report as one HTML document. */
export function renderReport(results: ReportInput): string {
  const r = results;
  const kernels = r.cases.filter((c) => c.kind === 'kernel');
  const clips = r.cases.filter((c) => c.kind === 'clip');
  const env = `<dl>
<dt>date</dt><dd>${escapeHtml(r.date)}</dd>
<dt>browser</dt><dd>${escapeHtml(r.browser.version)} (${escapeHtml(r.browser.mode)}${r.browser.crossOriginIsolated ? ', cross-origin isolated' : ''})</dd>
<dt>flags</dt><dd><code>${escapeHtml(r.browser.flags.join(' '))}</code></dd>
<dt>adapter</dt><dd>${escapeHtml(r.adapter.name)} [${escapeHtml(r.adapter.kind)}]; features: ${escapeHtml(r.adapter.features.join(', '))}</dd>
<dt>engines</dt><dd>${Object.entries(r.versions).map(([k, v]) => `${escapeHtml(k)}: ${escapeHtml(v)}`).join('<br>')}</dd>
<dt>host</dt><dd>${escapeHtml(r.host.cpu)}, node ${escapeHtml(r.host.node)}</dd>
<dt>timing</dt><dd>${escapeHtml(r.timing)}</dd>
<dt>options</dt><dd><code>${escapeHtml(JSON.stringify(r.options))}</code></dd>
</dl>`;
  const parts = [
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>seedmask browser benchmark — ${escapeHtml(r.adapter.name)} — ${escapeHtml(r.date.slice(0, 10))}</title><style>${CSS}</style></head><body>`,
    `<h1>seedmask browser benchmark</h1>${env}`,
    `<h2>Summary</h2><p>Speed ratio = peer warm p50 / seedmask warm p50 (above 1: seedmask faster), every engine in the same browser session on the same adapter.</p>${summary(r)}`,
    kernels.length ? `<section id="kernels"><h2>Kernels</h2>${kernels.map(caseFigure).join('')}</section>` : '',
    clips.length ? `<section id="clip"><h2>CLIP image tower</h2>${clips.map(caseFigure).join('')}</section>` : '',
    r.stages ? stagesSection(r.stages) : '',
    r.miou ? miouSection(r.miou) : '',
    r.cases.length ? `<section id="table"><h2>All figures and numerics</h2><p>max |Δ| compares each peer's output with seedmask's, element by element (rel = relative to max |seedmask|; ✓ within the case's tolerance).</p>${casesTable(r.cases)}</section>` : '',
    '</body></html>\n',
  ];
  return parts.join('\n');
}
