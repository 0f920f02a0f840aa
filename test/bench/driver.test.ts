import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { syntheticScene } from '../../bench/lib/data.js';
import { resultPath, runPythonPeer, stats, table } from '../../bench/lib/driver.js';

describe('bench driver helpers', () => {
  it('stats: median of odd and even counts, min, max, samples in run order', () => {
    expect(stats([5, 1, 3])).toEqual({ p50: 3, min: 1, max: 5, samples: [5, 1, 3] });
    expect(stats([4, 1, 3, 2]).p50).toBe(2.5);
    expect(stats([7]).p50).toBe(7);
  });

  it('table: first column left-aligned, the others right-aligned', () => {
    expect(table([['a', '1'], ['bbb', '22']], [4, 3])).toBe('a      1\nbbb   22');
  });

  it("resultPath: 'swiftshader' or the architecture, a file-safe date", () => {
    expect(path.basename(resultPath('seeds', 'swiftshader', 'x', '2026-11-21T16:59:33.123Z'))).toBe('seeds-swiftshader-2026-11-21-16-59-33.json');
    expect(path.basename(resultPath('clip', 'discrete', 'hopper / h100', '2026-01-02T03:04:05Z'))).toBe('clip-hopper-h100-2026-01-02-03-04-05.json');
  });

  it('syntheticScene: deterministic, opaque, not flat', () => {
    const a = syntheticScene(37, 23), b = syntheticScene(37, 23);
    expect(a.data.length).toBe(37 * 23 * 4);
    expect(a.data).toEqual(b.data);
    for (let i = 3; i < a.data.length; i += 4) expect(a.data[i]).toBe(255);
    expect(new Set(a.data.filter((_, i) => i % 4 === 0)).size).toBeGreaterThan(20);
  });
});

describe('runPythonPeer', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'seedmask-driver-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names a missing interpreter', () => {
    expect(runPythonPeer('/nonexistent/python3', 'x.py', [])).toEqual({ error: '/nonexistent/python3 not found' });
  });

  it.skipIf(!existsSync('/usr/bin/python3'))('returns the last JSON line, names a missing module and a failing script', () => {
    const ok = path.join(dir, 'ok.py');
    writeFileSync(ok, 'import json, sys\nprint("progress")\nprint(json.dumps({"args": sys.argv[1:]}))\n');
    expect(runPythonPeer('/usr/bin/python3', ok, ['--a', '1'], [])).toEqual({ args: ['--a', '1'] });
    const missing = runPythonPeer<object>('/usr/bin/python3', ok, [], ['no_such_module_xyz']);
    expect('error' in missing && missing.error).toMatch(/no_such_module_xyz missing/);
    const bad = path.join(dir, 'bad.py');
    writeFileSync(bad, 'raise SystemExit("weights file is truncated")\n');
    const failed = runPythonPeer<object>('/usr/bin/python3', bad, [], []);
    expect('error' in failed && failed.error).toMatch(/peer failed \(status 1\): weights file is truncated/);
  });
});
