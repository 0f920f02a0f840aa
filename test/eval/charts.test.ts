import { describe, expect, it } from 'vitest';
import { escapeHtml, groupedBars, legend, stackedBars } from '../../src/eval/charts.js';

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
