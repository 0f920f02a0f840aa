// The decoding goldens (test/fixtures/decode): their manifest and the pixel comparison, shared by
// the Node test and the Chromium test.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DECODE_FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'decode');

export interface DecodeManifest {
  generator: string;
  pillow: string;
  libjpeg_turbo: string;
  files: { file: string; what: string; pil_mode: string; width: number; height: number; bytes: number; cv2_equals_pil: boolean }[];
}

export { pixelMismatches } from '../../harness/lib/decode-compare.js';
