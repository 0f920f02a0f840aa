// The `seedmask` command is one process: a signal reaches the program that holds the GPU, which
// stops at once (ended by the signal: a shell reports 143 for SIGTERM) and leaves no process, no partial output and no temporary
// file behind; the dataset run then resumes where it stopped. Also with `timeout 5 seedmask …`,
// the way job runners stop commands.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeLabelPng } from '../../src/io/labelpng.js';
import { generateWorld } from '../../src/world/generate.js';
import { ROOT } from '../weights/helpers.js';

const BIN = join(ROOT, 'bin', 'seedmask.mjs');
let dir: string;
let world: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'seedmask-cli-signals-'));
  world = join(dir, 'world');
  await generateWorld({ out: world, seed: 1, train: 200, val: 5, valOnly: true });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function seedsArgs(out: string): string[] {
  // The HF folder form of --weights, as users pass it.
  return ['seeds', '--weights', join(ROOT, 'weights', 'world-clip'), '--labelset', join(world, 'labelset.json'), '--dataset', world, '--split', 'val', '-o', out];
}

function files(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) (e.isDirectory() ? walk : (f: string) => out.push(relative(root, f)))(join(d, e.name));
  };
  if (existsSync(root)) walk(root);
  return out.sort();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** No process whose command line runs this test's seedmask command is left. */
function seedmaskProcesses(out: string): string[] {
  const ps = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).stdout;
  return ps.split('\n').filter((l) => l.includes(BIN) && l.includes(out));
}

/** Every seed PNG present decodes in full: nothing half-written under a final name. */
function checkComplete(out: string): number {
  const names = files(out);
  expect(names.filter((n) => n.split('/').some((part) => part.startsWith('.'))), 'temporary files').toEqual([]);
  const seeds = names.filter((n) => n.startsWith('seeds/') && n.endsWith('.png') && !n.endsWith('.overlay.png'));
  for (const n of seeds) expect(() => decodeLabelPng(readFileSync(join(out, n)), n)).not.toThrow();
  return seeds.length;
}

describe('seedmask under signals', () => {
  it('SIGTERM mid-run: exit 143 at once, no process left, no partial file; the run then resumes', async () => {
    const out = join(dir, 'term');
    const child = spawn(process.execPath, [BIN, ...seedsArgs(out)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    // Wait for the first seed mask, then stop the run while it works on the next image.
    const start = Date.now();
    while (!files(out).some((n) => n.startsWith('seeds/') && n.endsWith('.png') && !n.endsWith('.overlay.png'))) {
      if (Date.now() - start > 90_000) throw new Error(`no seed written in 90 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const sent = Date.now();
    child.kill('SIGTERM');
    // Ended by the signal itself (a shell reports 143), not by exit(): no native teardown runs
    // while GPU work is in flight.
    const ended = await exited;
    expect(ended, stderr).toEqual({ code: null, signal: 'SIGTERM' });
    expect(Date.now() - sent, 'stops without finishing the image').toBeLessThan(3000);
    expect(stderr).toMatch(/stopped by SIGTERM/);
    expect(alive(child.pid!)).toBe(false);
    expect(seedmaskProcesses(out)).toEqual([]);
    const done = checkComplete(out);
    expect(done).toBeGreaterThanOrEqual(1);
    expect(done).toBeLessThan(5);
    expect(existsSync(join(out, 'summary.json'))).toBe(false);

    const resumed = spawnSync(process.execPath, [BIN, ...seedsArgs(out)], { encoding: 'utf8' });
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr + resumed.stdout).toMatch(new RegExp(`${5 - done} new, ${done} resumed, 0 failed`));
    expect(checkComplete(out)).toBe(5);
  });

  it('`timeout 5 seedmask seeds …` leaves no seedmask process and no partial file', () => {
    const out = join(dir, 'timeout');
    const r = spawnSync('timeout', ['5', process.execPath, BIN, ...seedsArgs(out)], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(124); // timeout's own code: the command was stopped
    expect(r.stderr).toMatch(/stopped by SIGTERM/);
    expect(seedmaskProcesses(out)).toEqual([]);
    checkComplete(out);
  });
});
