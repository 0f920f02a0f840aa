// Inline SVG charts for the self-contained HTML reports (the seeds report, src/eval/report.ts, and
// the browser benchmark report, harness/report.ts): plain strings, no script, nothing fetched.
//
//   groupedBars   one group per category (e.g. a class), one bar per series (e.g. a stage), values
//                 on a fixed 0..1 scale (IoU) with the value written after each bar
//   stackedBars   one row per run (e.g. an image), segments per stage, on one ms scale
//   legend        the colour keys, as HTML

export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export const PALETTE = ['#1b7f5b', '#3b6fb6', '#d9822b', '#7a5bb5', '#c0392b', '#2c9fb0', '#8c6d31', '#6b6b6b', '#b5489a', '#4f8a2b'];
export const paletteColour = (i: number) => PALETTE[i % PALETTE.length]!;

/** Column widths of a chart: the labels, the bars, the text after the bars. */
export interface ChartLayout { label: number; bar: number; text: number }
export const DEFAULT_LAYOUT: ChartLayout = { label: 170, bar: 420, text: 300 };

const svg = (width: number, height: number, body: string) =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img">${body}</svg>`;

/** Colour keys: a small square and the label each. */
export function legend(items: Array<{ label: string; colour: string }>): string {
  return items.map((k) => `<span style="margin-right:12px"><i style="display:inline-block;width:10px;height:10px;margin-right:4px;background:${k.colour}"></i>${escapeHtml(k.label)}</span>`).join(' ');
}

/**
 * Grouped horizontal bars on the fixed scale 0..1: `groups[g]` gets one bar per series with
 * `series[s].values[g]` (NaN: no bar, `missing` written instead). `bold` groups (e.g. a mean row)
 * have their label in bold.
 */
export function groupedBars(o: {
  groups: string[];
  series: Array<{ label: string; values: number[]; colour?: string }>;
  format?: (v: number) => string;
  missing?: string;
  bold?: (group: number) => boolean;
  layout?: ChartLayout;
}): string {
  const L = o.layout ?? DEFAULT_LAYOUT;
  const format = o.format ?? ((v: number) => `${(100 * v).toFixed(1)} %`);
  const rowH = 16, gap = 6, per = o.series.length * rowH + gap;
  for (const s of o.series) {
    if (s.values.length !== o.groups.length) throw new Error(`groupedBars: series '${s.label}' has ${s.values.length} values for ${o.groups.length} groups`);
  }
  const parts = o.groups.map((group, g) => {
    const y0 = 20 + g * per;
    const bars = o.series.map((s, si) => {
      const v = s.values[g]!;
      const y = y0 + si * rowH;
      const w = Number.isFinite(v) ? L.bar * Math.max(0, Math.min(1, v)) : 0;
      const text = Number.isFinite(v) ? format(v) : (o.missing ?? 'absent');
      return `<rect x="${L.label}" y="${y}" width="${w.toFixed(1)}" height="${rowH - 4}" fill="${s.colour ?? paletteColour(si)}"><title>${escapeHtml(`${group}, ${s.label}: ${text}`)}</title></rect>`
        + `<text x="${L.label + L.bar + 6}" y="${y + 10}">${escapeHtml(`${s.label}: ${text}`)}</text>`;
    });
    return `<text x="${L.label - 6}" y="${y0 + 10}" text-anchor="end"${o.bold?.(g) ? ' font-weight="bold"' : ''}>${escapeHtml(group)}</text>${bars.join('')}`;
  });
  return svg(L.label + L.bar + L.text, o.groups.length * per + 24, parts.join(''));
}

/**
 * Stacked horizontal bars: one row per run, one segment per stage, all on the scale of the longest
 * run; the row's total is written after it. Stage colours follow the order of first appearance.
 */
export function stackedBars(runs: Array<{ label: string; stages: Array<{ name: string; ms: number }> }>, o: { layout?: ChartLayout; format?: (ms: number) => string } = {}): { svg: string; names: string[]; colour: (name: string) => string } {
  const L = o.layout ?? DEFAULT_LAYOUT;
  const format = o.format ?? ((ms: number) => `${ms.toFixed(ms >= 100 ? 0 : 1)} ms`);
  const names = [...new Set(runs.flatMap((r) => r.stages.map((st) => st.name)))];
  const colour = (n: string) => paletteColour(names.indexOf(n));
  const totals = runs.map((r) => r.stages.reduce((a, st) => a + Math.max(0, st.ms), 0));
  const max = Math.max(...totals, 1e-12);
  const rowH = 20;
  const rows = runs.map((r, i) => {
    const y = 20 + i * rowH;
    let x = L.label;
    const segs = r.stages.map((st) => {
      const w = (L.bar * Math.max(0, st.ms)) / max;
      const seg = `<rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="14" fill="${colour(st.name)}"><title>${escapeHtml(`${st.name}: ${format(st.ms)}`)}</title></rect>`;
      x += w;
      return seg;
    });
    return `<text x="${L.label - 6}" y="${y + 11}" text-anchor="end">${escapeHtml(r.label)}</text>${segs.join('')}<text x="${L.label + L.bar + 6}" y="${y + 11}">${escapeHtml(format(totals[i]!))}</text>`;
  });
  return { svg: svg(L.label + L.bar + L.text, runs.length * rowH + 24, rows.join('')), names, colour };
}

/**
 * Line chart of one or more series over a shared x axis (e.g. the training loss and the validation
 * mIoU against the step): each series on its own y range (`min`..`max`, default its data's),
 * marked at the right end with its last value.
 */
export function lineChart(opts: {
  series: Array<{ label: string; points: Array<[number, number]>; min?: number; max?: number; format?: (v: number) => string }>;
  width?: number;
  height?: number;
  xLabel?: string;
}): string {
  const width = opts.width ?? 720, height = opts.height ?? 260;
  // Each series' legend: its label, last value and range; the plot leaves room for the longest
  // (about 6.2 px per character at 11 px, SVG text cannot be measured here).
  const ranges = opts.series.map((s) => {
    const ys = s.points.map((p) => p[1]).filter(Number.isFinite);
    return ys.length === 0 ? undefined : { lo: s.min ?? Math.min(...ys), hi: s.max ?? Math.max(...ys) };
  });
  const legends = opts.series.map((s, i) => {
    const fmt = s.format ?? ((v: number) => v.toFixed(3));
    const r = ranges[i];
    return r ? `${s.label} ${fmt(s.points[s.points.length - 1]![1])} (${fmt(r.lo)}–${fmt(r.hi)})` : '';
  });
  const legendWidth = Math.ceil(12 + 6.2 * Math.max(0, ...legends.map((l) => l.length)));
  const pad = { left: 50, right: Math.min(Math.max(150, legendWidth), Math.floor(width / 2)), top: 12, bottom: 30 };
  const all = opts.series.flatMap((s) => s.points.map((p) => p[0]));
  const x0 = all.length ? Math.min(...all) : 0;
  const x1 = all.length ? Math.max(...all) : 1;
  const sx = (x: number) => pad.left + ((x - x0) / (x1 - x0 || 1)) * (width - pad.left - pad.right);
  let body = `<rect x="${pad.left}" y="${pad.top}" width="${width - pad.left - pad.right}" height="${height - pad.top - pad.bottom}" fill="none" stroke="#ccc"/>`;
  body += `<text x="${pad.left}" y="${height - 8}" font-size="11">${x0}</text><text x="${width - pad.right}" y="${height - 8}" font-size="11" text-anchor="end">${x1}</text>`;
  if (opts.xLabel) body += `<text x="${(pad.left + width - pad.right) / 2}" y="${height - 8}" font-size="11" text-anchor="middle">${escapeHtml(opts.xLabel)}</text>`;
  opts.series.forEach((s, i) => {
    const range = ranges[i];
    if (!range) return;
    const { lo, hi } = range;
    const sy = (y: number) => height - pad.bottom - ((y - lo) / (hi - lo || 1)) * (height - pad.top - pad.bottom);
    const colour = paletteColour(i);
    const path = s.points.filter((p) => Number.isFinite(p[1])).map((p, k) => `${k ? 'L' : 'M'}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join('');
    const last = s.points[s.points.length - 1]!;
    body += `<path d="${path}" fill="none" stroke="${colour}" stroke-width="1.5"/>`;
    if (s.points.length === 1) body += `<circle cx="${sx(last[0]).toFixed(1)}" cy="${sy(last[1]).toFixed(1)}" r="3" fill="${colour}"/>`;
    body += `<text x="${width - pad.right + 6}" y="${pad.top + 14 + 16 * i}" font-size="11" fill="${colour}">${escapeHtml(legends[i]!)}</text>`;
  });
  return svg(width, height, body);
}
