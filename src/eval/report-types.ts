// The seed report's data: what the HTML renderer (report.ts) draws and report.json holds.
import type { Scores } from './confusion.js';

export interface ReportExample {
  id: string;
  labels: string[];
  /** PNG bytes per panel, in display order (e.g. photo, ground truth, cam, caa, crf). */
  panels: { title: string; png: Uint8Array }[];
}

export interface SeedReport {
  title: string;
  /** Free-form facts shown at the top: adapter, model, dataset, options, date. */
  facts: [string, string][];
  classNames: string[];
  /** Scores per stage, in display order. */
  /** `ci`: the value CI holds the stage to, ± its band, when the report scored CI's images. */
  stages: { name: string; description: string; scores: Scores; ci?: { value: number; band: number } }[];
  /** Mean ms per image per pipeline step. */
  timings: Record<string, number>;
  examples: ReportExample[];
  notes?: string[];
}
