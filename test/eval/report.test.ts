import { describe, expect, it } from 'vitest';
import { ConfusionMatrix, computeScores } from '../../src/eval/confusion.js';
import { renderSeedReport, type SeedReport } from '../../src/eval/report.js';

// Three classes (0 background, 1 cat, 2 "dog & <friends>"); the dog never appears in either stage.
function scores(pred: number[]) {
  const m = new ConfusionMatrix(3);
  m.add(Uint8Array.from([0, 0, 1, 1]), Uint8Array.from(pred));
  return computeScores(m);
}

function report(): SeedReport {
  return {
    title: 'seeds <run>',
    facts: [['adapter', 'swiftshader & co']],
    classNames: ['background', 'cat', 'dog & <friends>'],
    stages: [
      { name: 'caa', description: 'CAA', scores: scores([0, 0, 1, 0]), ci: { value: 0.2, band: 0.005 } },
      { name: 'crf', description: 'CRF', scores: scores([0, 0, 1, 1]) },
    ],
    timings: { text: 10, gradcam: 30, 'gradcam.vision': 25, caa: 20, total: 65 },
    examples: [{ id: 'img_1', labels: ['cat'], panels: [{ title: 'photo', png: Uint8Array.from([1, 2, 3]) }] }],
    notes: ['a <note>'],
  };
}

describe('renderSeedReport', () => {
  const html = renderSeedReport(report());

  it('escapes every text it was given', () => {
    expect(html).toContain('<title>seeds &lt;run&gt;</title>');
    expect(html).toContain('swiftshader &amp; co');
    expect(html).toContain('<li>a &lt;note&gt;</li>');
    expect(html).not.toContain('<friends>');
  });

  it('tables mIoU per stage and IoU per present class', () => {
    // caa: background IoU 2/3, cat 1/2 → 58.3 %; crf: both 1 → 100 %.
    expect(html).toMatch(/<td>caa<\/td><td>CAA<\/td><td class="n"><b>58\.3<\/b><\/td>/);
    expect(html).toMatch(/<td>crf<\/td><td>CRF<\/td><td class="n"><b>100\.0<\/b><\/td>/);
    expect(html).toContain('<td class="n">20.0 ± 0.5</td>'); // CI's value and band
    expect(html).toMatch(/<tr><td>cat<\/td><td class="n">50\.0<\/td><td class="n">100\.0<\/td><\/tr>/);
    expect(html).not.toMatch(/<tr><td>dog/); // absent from GT and predictions
  });

  it('draws one IoU bar per stage and present class, and stacks the top-level steps only', () => {
    const [bars, steps] = [...html.matchAll(/<svg[^>]*>(.*?)<\/svg>/gs)].map((m) => m[1]!);
    expect(bars!.match(/<rect /g)).toHaveLength(4); // 2 classes × 2 stages
    expect(steps!.match(/<rect /g)).toHaveLength(3); // text, gradcam, caa: not gradcam.vision, not total
    expect(steps).toContain('>60.0 ms<');
  });

  it('inlines the example panels as PNG data URLs', () => {
    expect(html).toContain('src="data:image/png;base64,AQID"');
  });
});
