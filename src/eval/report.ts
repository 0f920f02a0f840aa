// The HTML report of a seeds run over a dataset with ground truth (what `npm start` writes): one
// self-contained file (images inlined as data: URLs, no scripts) that a person can read offline.
//
//   - per-stage mIoU, pixel accuracy, coverage (share of pixels not ignored)
//   - per-class IoU for every stage, as a table and as inline SVG bars
//   - per-stage mean times per image
//   - example images: photo, ground truth and each stage's label map as overlays

import { escapeHtml, groupedBars, legend, paletteColour, stackedBars } from './charts.js';

export type { ReportExample, SeedReport } from './report-types.js';
import type { SeedReport } from './report-types.js';

const esc = escapeHtml;
const pct = (x: number) => (Number.isFinite(x) ? (100 * x).toFixed(1) : '—');

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Grouped bars: one group per class present in any stage, one bar per stage (IoU 0..1). */
function iouBars(report: SeedReport): string {
  const classes = report.classNames.map((name, id) => ({ name, id })).filter(({ id }) => report.stages.some((s) => s.scores.classes[id]?.present));
  const series = report.stages.map((s, i) => ({ label: s.name, colour: paletteColour(i), values: classes.map(({ id }) => s.scores.classes[id]?.iou ?? Number.NaN) }));
  return `<p>${legend(series.map((s) => ({ label: s.label, colour: s.colour })))}</p>${groupedBars({ groups: classes.map((c) => c.name), series, format: (v) => `${pct(v)} %` })}`;
}

/**
 * One stacked bar of the mean time per image, by step: the pipeline's own steps only ('total' is
 * their sum plus bookkeeping, and dotted keys such as gradcam.vision are parts of a step).
 */
function timingBar(timings: Record<string, number>): string {
  const stages = Object.entries(timings).filter(([k, v]) => v > 0 && k !== 'total' && !k.includes('.')).map(([name, ms]) => ({ name, ms }));
  if (stages.length === 0) return '<p>no timings</p>';
  const chart = stackedBars([{ label: 'per image', stages }]);
  return `${chart.svg}<p>${legend(stages.map((s) => ({ label: `${s.name} ${s.ms.toFixed(0)} ms`, colour: chart.colour(s.name) })))}</p>`;
}

export function renderSeedReport(report: SeedReport): string {
  const facts = report.facts.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('');
  const stageRows = report.stages
    .map((s) => `<tr><td>${esc(s.name)}</td><td>${esc(s.description)}</td><td class="n"><b>${pct(s.scores.miou)}</b></td><td class="n">${pct(s.scores.pixelAccuracy)}</td><td class="n">${pct(s.scores.coverage)}</td><td class="n">${s.ci === undefined ? '' : `${pct(s.ci.value)} ± ${pct(s.ci.band)}`}</td></tr>`)
    .join('');
  const classHead = report.stages.map((s) => `<th>${esc(s.name)}</th>`).join('');
  const classRows = report.classNames
    .map((name, id) => {
      if (!report.stages.some((s) => s.scores.classes[id]?.present)) return '';
      return `<tr><td>${esc(name)}</td>${report.stages.map((s) => `<td class="n">${pct(s.scores.classes[id]?.iou ?? Number.NaN)}</td>`).join('')}</tr>`;
    })
    .join('');
  const examples = report.examples
    .map((e) => {
      const panels = e.panels.map((p) => `<figure><img src="data:image/png;base64,${base64(p.png)}" alt="${esc(p.title)}"><figcaption>${esc(p.title)}</figcaption></figure>`).join('');
      return `<div class="ex"><h3>${esc(e.id)} <small>${esc(e.labels.join(', '))}</small></h3><div class="row">${panels}</div></div>`;
    })
    .join('');
  const notes = (report.notes ?? []).map((n) => `<li>${esc(n)}</li>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(report.title)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:8px 0 16px}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f4f4f4}
.row{display:flex;flex-wrap:wrap;gap:6px}figure{margin:0}figure img{max-height:180px;display:block}
figcaption{font-size:12px;color:#555}.ex h3{margin:14px 0 4px;font-size:14px}small{color:#666;font-weight:normal}
</style></head><body>
<h1>${esc(report.title)}</h1>
<table>${facts}</table>
<h2>mIoU per stage</h2>
<table><tr><th>stage</th><th>what</th><th>mIoU %</th><th>pixel acc. %</th><th>coverage %</th><th>CI band %</th></tr>${stageRows}</table>
<h2>IoU per class (%)</h2>
<table><tr><th>class</th>${classHead}</tr>${classRows}</table>
${iouBars(report)}
<h2>Time per image, by step</h2>
${timingBar(report.timings)}
${notes ? `<h2>Notes</h2><ul>${notes}</ul>` : ''}
<h2>Examples</h2>
${examples}
</body></html>
`;
}
