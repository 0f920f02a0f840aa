import { describe, expect, it } from 'vitest';
import { escapeHtml, groupedBars, legend, lineChart, stackedBars } from '../../src/eval/charts.js';

const widths = (svg: string) => [...svg.matchAll(/<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"/g)].map((m) => ({ x: Number(m[1]), w: Number(m[2]) }));

describe('groupedBars', () => {
  const layout = { label: 100, bar: 400, text: 200 };
  it('draws one bar per series and group, proportional to the value, clamped to 0..1', () => {
    const svg = groupedBars({ groups: ['cat', 'dog'], series: [{ label: 'caa', values: [0.5, 1.5] }, { label: 'crf', values: [0.25, -1] }], layout });
    expect(widths(svg).map((r) => r.w)).toEqual([200, 100, 400, 0]);
    expect(widths(svg).every((r) => r.x === 100)).toBe(true);
    expect(svg).toContain('caa: 50.0 %');
    expect(svg).toContain('width="700"');
  });

  it("writes 'absent' for NaN, escapes labels, bolds the chosen groups", () => {
    const svg = groupedBars({ groups: ['<a&b>', 'mean'], series: [{ label: 's"1', values: [Number.NaN, 0.1] }], bold: (g) => g === 1, layout });
    expect(svg).toContain('&lt;a&amp;b&gt;');
    expect(svg).toContain('s&quot;1: absent');
    expect(svg).toMatch(/font-weight="bold">mean</);
    expect(svg).not.toMatch(/font-weight="bold">&lt;a/);
  });

  it('rejects a series whose length does not match the groups', () => {
    expect(() => groupedBars({ groups: ['a', 'b'], series: [{ label: 'x', values: [1] }] })).toThrow(/series 'x' has 1 values for 2 groups/);
  });
});

describe('stackedBars', () => {
  it('stacks segments on the scale of the longest run and writes each total', () => {
    const layout = { label: 50, bar: 300, text: 100 };
    const { svg, names, colour } = stackedBars([
      { label: 'a', stages: [{ name: 'x', ms: 10 }, { name: 'y', ms: 20 }] },
      { label: 'b', stages: [{ name: 'y', ms: 15 }, { name: 'z', ms: 0 }] },
    ], { layout });
    expect(names).toEqual(['x', 'y', 'z']);
    expect(colour('x')).not.toBe(colour('y'));
    const r = widths(svg);
    expect(r.map((s) => s.w)).toEqual([100, 200, 150, 0]);
    expect(r.map((s) => s.x)).toEqual([50, 150, 50, 200]);
    expect(svg).toContain('>30.0 ms<');
    expect(svg).toContain('>15.0 ms<');
  });
});

describe('legend and escapeHtml', () => {
  it('escapes every HTML-special character', () => {
    expect(escapeHtml(`<&>"'`)).toBe('&lt;&amp;&gt;&quot;&#39;');
    expect(legend([{ label: 'a<b', colour: '#123456' }])).toContain('background:#123456');
    expect(legend([{ label: 'a<b', colour: '#123456' }])).toContain('a&lt;b');
  });
});

describe('lineChart', () => {
  const series = [
    { label: 'loss', points: [[1, 2.5], [2, 1.25], [3, 0.5]] as Array<[number, number]> },
    { label: 'val mIoU', points: [[2, 0.0693], [3, 0.1234]] as Array<[number, number]>, min: 0, format: (v: number) => `${(100 * v).toFixed(2)} %` },
  ];

  it('draws one path per series with its last value and range in the legend', () => {
    const svg = lineChart({ series, xLabel: 'step' });
    expect(svg.match(/<path /g)).toHaveLength(2);
    expect(svg).toContain('loss 0.500 (0.500–2.500)');
    expect(svg).toContain('val mIoU 12.34 % (0.00 %–12.34 %)');
    expect(svg).toContain('>step</text>');
  });

  it('leaves the plot room for the longest legend', () => {
    const plotWidth = (svg: string) => Number(/<rect x="50" y="12" width="([\d.]+)"/.exec(svg)![1]);
    // 'a 0.500 (0.500–2.500)': 21 characters, 143 px, under the 150 px floor.
    const short = lineChart({ series: [{ ...series[0]!, label: 'a' }] });
    const long = lineChart({ series: [{ ...series[1]!, label: 'validation mIoU on the held-out images' }] });
    expect(plotWidth(short)).toBe(720 - 50 - 150);
    // 'validation mIoU on the held-out images 12.34 % (0.00 %–12.34 %)': 63 characters, 403 px,
    // over the cap of half the chart's width.
    expect(plotWidth(long)).toBe(720 - 50 - 360);
    // 'val mIoU 12.34 % (0.00 %–12.34 %)': 33 characters, 12 + 6.2 · 33 → 217 px.
    expect(plotWidth(lineChart({ series: [series[1]!] }))).toBe(720 - 50 - 217);
  });
});
