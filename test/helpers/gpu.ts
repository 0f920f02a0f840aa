// One GPU device per test file, opened lazily and destroyed after the file's tests.
import { afterAll } from 'vitest';
import { Gpu } from '../../src/gpu/context.js';

let opened: Promise<Gpu> | undefined;

export function testGpu(): Promise<Gpu> {
  opened ??= Gpu.open();
  return opened;
}

afterAll(async () => {
  if (opened) (await opened).destroy();
  opened = undefined;
});
