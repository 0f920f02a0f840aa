import { defineConfig } from 'vitest/config';

// Kernel tests run on real WebGPU (Dawn in Node; SwiftShader where there is no GPU), which is
// CPU-heavy: two workers match the two cores of CI machines.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The CLI tests start bin/seedmask.mjs, which runs the built dist/.
    globalSetup: ['test/helpers/build.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
