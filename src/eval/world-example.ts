// One example of a seed report: the photo, its ground truth and each stage's label map as overlay
// PNGs. The same panels from the Node report and from the browser accuracy run.
import { encodePng, type RgbaImage } from '../io/image.js';
import type { LabelMap } from '../io/labelpng.js';
import { overlayLabels } from '../wsss/overlay.js';
import type { ReportExample } from './report-types.js';

export function reportExample(id: string, image: RgbaImage, gt: LabelMap, stages: [string, LabelMap][], classNames: readonly string[]): ReportExample {
  const panels = [
    { title: 'image', png: encodePng(image) },
    { title: 'ground truth', png: encodePng(overlayLabels(image, gt)) },
    ...stages.map(([title, map]) => ({ title, png: encodePng(overlayLabels(image, map)) })),
  ];
  const present = [...new Set(gt.data)].filter((v) => v > 0 && v < 255).sort((a, b) => a - b);
  return { id, labels: present.map((v) => classNames[v]!), panels };
}
