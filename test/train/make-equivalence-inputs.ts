// Writes test/fixtures/train-equivalence/inputs.safetensors (see equivalence-setup.ts):
//     npx tsx test/train/make-equivalence-inputs.ts
import { writeFileSync } from 'node:fs';
import { FIXTURE_DIR, encodeEquivalenceInputs } from './equivalence-setup.js';

const bytes = await encodeEquivalenceInputs();
writeFileSync(new URL('inputs.safetensors', FIXTURE_DIR), bytes);
console.log(`wrote inputs.safetensors (${bytes.byteLength} bytes)`);
