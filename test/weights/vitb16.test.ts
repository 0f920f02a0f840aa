// ViT-B/16-sized model in every format (generated on demand, never committed):
//
//   /usr/bin/python3 weights/make_test_weights.py --size vitb16 --out weights/generated/vitb16
//   SEEDMASK_VITB16=1 npx vitest run test/weights/vitb16.test.ts
//
// Skipped unless SEEDMASK_VITB16=1, because it reads ~1.9 GB and takes a while.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openClip, type ClipCheckpoint } from '../../src/weights/index.js';
import { ROOT } from './helpers.js';

const DIR = join(ROOT, 'weights', 'generated', 'vitb16');
const FILES = {
  stateDict: join(DIR, 'clip_state_dict.pt'),
  torchScript: join(DIR, 'clip_torchscript.pt'),
  openaiSafetensors: join(DIR, 'clip_openai.safetensors'),
  hfSafetensors: join(DIR, 'hf', 'model.safetensors'),
};
const enabled = process.env.SEEDMASK_VITB16 === '1';

describe.skipIf(!enabled)('ViT-B/16-sized weights (SEEDMASK_VITB16=1)', () => {
  it('all four formats give the ViT-B/16 architecture and bit-identical tensors', { timeout: 600_000 }, async () => {
    for (const f of Object.values(FILES)) expect(existsSync(f), `${f} (run the generator)`).toBe(true);
    const manifest = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8'));
    const clips: ClipCheckpoint[] = [];
    for (const f of Object.values(FILES)) clips.push(await openClip(f));
    try {
      for (const c of clips) {
        expect(c.config).toEqual(manifest.config);
        expect(c.config.vision).toEqual({ width: 768, layers: 12, heads: 12, patch: 16, imageSize: 224, mlpWidth: 3072 });
        expect(c.config.text).toEqual({ width: 512, layers: 12, heads: 8, contextLength: 77, vocabSize: 49408, mlpWidth: 2048 });
        expect(c.parameterCount).toBe(manifest.parameters);
      }
      // One tensor at a time across the four files keeps memory at a few hundred MB.
      for (const name of clips[0]!.names) {
        const [ref, ...others] = await Promise.all(clips.map((c) => c.get(name)));
        const refBits = new Uint32Array(ref!.buffer);
        for (const [i, o] of others.entries()) {
          const bits = new Uint32Array(o.buffer);
          let same = bits.length === refBits.length;
          for (let j = 0; same && j < bits.length; j++) same = bits[j] === refBits[j];
          expect(same, `${name}: format ${i + 1} differs from the torch.save state dict`).toBe(true);
        }
        const s = manifest.tensors[name];
        expect([...ref!.subarray(0, s.first.length)], name).toEqual(s.first);
      }
    } finally {
      for (const c of clips) await c.file.close();
    }
  });
});
