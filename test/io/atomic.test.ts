import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/io/atomic.js';
import { IoError } from '../../src/io/errors.js';
import { tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('writeFileAtomic', () => {
  it('writes bytes, text and chunk streams, leaving no temporary files', async () => {
    await writeFileAtomic(tmp.path('a.bin'), Uint8Array.of(1, 2, 3));
    await writeFileAtomic(tmp.path('b.txt'), 'héllo\n');
    await writeFileAtomic(tmp.path('c.bin'), [Uint8Array.of(1), Uint8Array.of(2, 3)]);
    async function* chunks() {
      yield Uint8Array.of(9);
      yield new Uint8Array(100_000).fill(7);
    }
    await writeFileAtomic(tmp.path('d.bin'), chunks());
    expect([...readFileSync(tmp.path('a.bin'))]).toEqual([1, 2, 3]);
    expect(readFileSync(tmp.path('b.txt'), 'utf8')).toBe('héllo\n');
    expect([...readFileSync(tmp.path('c.bin'))]).toEqual([1, 2, 3]);
    const d = readFileSync(tmp.path('d.bin'));
    expect(d.length).toBe(100_001);
    expect(d[0]).toBe(9);
    expect(d[100_000]).toBe(7);
    expect(tmp.files()).toEqual(['a.bin', 'b.txt', 'c.bin', 'd.bin']);
  });

  it('replaces an existing file', async () => {
    writeFileSync(tmp.path('e.txt'), 'old');
    await writeFileAtomic(tmp.path('e.txt'), 'new');
    expect(readFileSync(tmp.path('e.txt'), 'utf8')).toBe('new');
  });

  it('a write that fails half-way leaves no file (or the old one) and no temporary file', async () => {
    function* failing() {
      yield new Uint8Array(10_000).fill(1);
      throw new Error('disk on fire');
    }
    const fresh = tmp.path('fresh.bin');
    const error = await writeFileAtomic(fresh, failing()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IoError);
    expect((error as IoError).file).toBe(fresh);
    expect((error as IoError).message).toContain('disk on fire');
    expect(tmp.files()).not.toContain('fresh.bin');

    writeFileSync(tmp.path('kept.txt'), 'previous contents');
    await expect(writeFileAtomic(tmp.path('kept.txt'), failing())).rejects.toThrow(/kept\.txt: write failed, nothing written: disk on fire/);
    expect(readFileSync(tmp.path('kept.txt'), 'utf8')).toBe('previous contents');
    expect(tmp.files().filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('names the target when its directory does not exist', async () => {
    const target = tmp.path('missing-dir', 'x.bin');
    await expect(writeFileAtomic(target, 'x')).rejects.toThrow(`${target}: write failed`);
  });
});
