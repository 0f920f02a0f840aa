// `seedmask weights inspect FILE` and `seedmask weights convert IN OUT.safetensors`.
//
// inspect: container format, dtypes, tensor and parameter counts, and for CLIP files the detected
//          key layout and inferred architecture. `--time` also loads every tensor to float32 and
//          reports the wall time and the process's peak resident memory.
// convert: writes seedmask's canonical CLIP layout (OpenAI key names, fused q/k/v, see
//          src/weights/layouts/clip.ts) as safetensors, float32 or, with --f16, float16. Files that
//          are not CLIP are copied tensor by tensor (floats converted, integers kept).

import { basename, resolve } from 'node:path';
import { f32ArrayToF16, isFloatDType, type DType } from '../weights/dtype.js';
import { WeightFileError } from '../weights/errors.js';
import { clipConfigMetadata, loadWeights, resolveClipConfigHints, type ClipLoadOptions } from '../weights/index.js';
import { detectClipLayout, openClipCheckpoint, type ClipCheckpoint } from '../weights/layouts/clip.js';
import { writeSafetensorsFile, type SafetensorsEntry } from '../weights/safetensors.js';
import { numel, type LoadOptions, type WeightFile } from '../weights/weightfile.js';

const USAGE = `usage:
  seedmask weights inspect FILE [options]
      --config PATH       Hugging Face config.json (default: config.json beside FILE, if it is a CLIP config)
      --no-config         ignore any config.json
      --prefix P          key prefix when the file holds several CLIP models
      --all               list every tensor of a non-CLIP file (default: the first 40)
      --time              also load every tensor to float32; report wall time and peak memory
      --allow-nonfinite   warn about NaN/Inf instead of failing (with --time)
      --json              machine-readable output
  seedmask weights convert IN OUT.safetensors [options]
      --f16               store float16 (default float32)
      --config PATH, --no-config, --prefix P, --allow-nonfinite   as above
`;

interface Args {
  positional: string[];
  flags: Set<string>;
  values: Map<string, string>;
}

const VALUE_OPTIONS = new Set(['--config', '--prefix']);
const FLAG_OPTIONS = new Set(['--no-config', '--all', '--time', '--json', '--f16', '--allow-nonfinite', '-h', '--help']);

function parseArgs(argv: string[]): Args {
  const args: Args = { positional: [], flags: new Set(), values: new Map() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (VALUE_OPTIONS.has(a)) {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      args.values.set(a, v);
    } else if (FLAG_OPTIONS.has(a)) args.flags.add(a);
    else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
    else args.positional.push(a);
  }
  return args;
}

class UsageError extends Error {}

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

function mb(bytes: number): string {
  return bytes < 1e5 ? `${(bytes / 1e3).toFixed(1)} kB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

const FORMAT_NAMES = { safetensors: 'safetensors', 'torch-zip': 'PyTorch zip archive (torch.save)', torchscript: 'TorchScript zip archive (torch.jit.save)' };

function loadOptions(args: Args): LoadOptions {
  return args.flags.has('--allow-nonfinite') ? { nonFinite: 'warn', onWarning: (m) => process.stderr.write(`warning: ${m}\n`) } : {};
}

/** Opens the CLIP view of `file` if it has CLIP keys; undefined for other models. */
async function clipView(file: WeightFile, path: string, args: Args): Promise<ClipCheckpoint | undefined> {
  const prefix = args.values.get('--prefix');
  if (!detectClipLayout(file, prefix)) return undefined;
  const config: ClipLoadOptions['config'] = args.flags.has('--no-config') ? false : args.values.get('--config');
  const hints = await resolveClipConfigHints(path, config);
  return openClipCheckpoint(file, { hints: hints?.hints, hintsSource: hints?.source, prefix });
}

// ---------------------------------------------------------------------------------------------

async function inspect(args: Args): Promise<number> {
  if (args.positional.length !== 1) throw new UsageError('inspect takes one FILE');
  const path = args.positional[0]!;
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  const file = await loadWeights(path, loadOptions(args));
  try {
    const dtypes: Partial<Record<DType, number>> = {};
    let scalars = 0;
    for (const key of file.keys) {
      const { dtype, shape } = file.info(key);
      dtypes[dtype] = (dtypes[dtype] ?? 0) + 1;
      scalars += numel(shape);
    }
    const clip = await clipView(file, path, args);
    const { size } = await import('node:fs/promises').then((fs) => fs.stat(path));

    const report: Record<string, unknown> = {
      file: path,
      format: file.format,
      bytes: size,
      tensors: file.keys.length,
      dtypes,
      scalars,
    };
    if (clip) {
      report.clip = {
        layout: clip.layout,
        prefix: clip.prefix,
        parameters: clip.parameterCount,
        configSource: clip.configSource,
        config: clip.config,
        ignoredKeys: clip.ignoredKeys,
      };
    }

    if (args.flags.has('--time')) {
      // Keep every tensor alive, as loadClip does, so the peak reflects holding the whole model.
      const held: Float32Array[] = [];
      let floats = 0;
      const names = clip ? clip.names : file.keys;
      for (const name of names) {
        const data = clip ? await clip.get(name) : await file.getF32(name);
        floats += data.length;
        held.push(data);
      }
      const seconds = (performance.now() - t0) / 1000;
      report.load = {
        seconds: Number(seconds.toFixed(3)),
        float32Bytes: floats * 4,
        peakRssBytes: process.resourceUsage().maxRSS * 1024,
        rssBeforeBytes: rssBefore,
        tensors: held.length,
      };
    }

    if (args.flags.has('--json')) {
      out(JSON.stringify(report, null, 2));
      return 0;
    }
    const lines: string[] = [];
    const row = (k: string, v: string): number => lines.push(`${k.padEnd(13)}${v}`);
    row('file', path);
    row('format', FORMAT_NAMES[file.format]);
    row('size', mb(size));
    row('tensors', `${file.keys.length} (${Object.entries(dtypes).map(([d, n]) => `${d} ${n}`).join(', ')})`);
    if (clip) {
      const c = clip.config;
      const grid = c.vision.imageSize / c.vision.patch;
      row('layout', `CLIP, ${clip.layout === 'openai' ? 'OpenAI' : 'Hugging Face'} keys${clip.prefix ? ` under '${clip.prefix}'` : ''}`);
      row('parameters', `${clip.parameterCount.toLocaleString('en-US')} (canonical CLIP tensors)`);
      row('architecture', `from ${clip.configSource}`);
      row('  vision', `width ${c.vision.width}, layers ${c.vision.layers}, heads ${c.vision.heads}, patch ${c.vision.patch}, image ${c.vision.imageSize} (${grid}x${grid} grid), MLP ${c.vision.mlpWidth}`);
      row('  text', `width ${c.text.width}, layers ${c.text.layers}, heads ${c.text.heads}, context ${c.text.contextLength}, vocab ${c.text.vocabSize}, MLP ${c.text.mlpWidth}`);
      row("  embed", `${c.embedDim}, LayerNorm eps ${c.layerNormEps.toExponential()}, ${c.activation}`);
      if (clip.ignoredKeys.length) row('ignored', clip.ignoredKeys.join(', '));
    } else {
      row('layout', 'not a CLIP checkpoint (generic tensor listing)');
      row('parameters', scalars.toLocaleString('en-US'));
      const shown = args.flags.has('--all') ? file.keys : file.keys.slice(0, 40);
      for (const key of shown) {
        const { dtype, shape } = file.info(key);
        lines.push(`  ${key}  ${dtype} [${shape.join(', ')}]`);
      }
      if (shown.length < file.keys.length) lines.push(`  … ${file.keys.length - shown.length} more (--all)`);
    }
    const load = report.load as { seconds: number; float32Bytes: number; peakRssBytes: number; rssBeforeBytes: number } | undefined;
    if (load) {
      row('load time', `${load.seconds.toFixed(2)} s (open + read + convert ${mb(load.float32Bytes)} of float32)`);
      row('peak RSS', `${mb(load.peakRssBytes)} (RSS before opening: ${mb(load.rssBeforeBytes)})`);
    }
    out(lines.join('\n'));
    return 0;
  } finally {
    await file.close();
  }
}

// ---------------------------------------------------------------------------------------------

function toStoredBytes(file: string, key: string, data: Float32Array, f16: boolean): Uint8Array {
  if (!f16) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const half = new Uint16Array(data.length);
  const overflow = f32ArrayToF16(data, half);
  if (overflow > 0) throw new WeightFileError(file, `${overflow} value(s) overflow float16 (|x| > 65504); convert without --f16`, key);
  return new Uint8Array(half.buffer);
}

async function convert(args: Args): Promise<number> {
  if (args.positional.length !== 2) throw new UsageError('convert takes IN and OUT.safetensors');
  const [input, output] = args.positional as [string, string];
  if (!output.endsWith('.safetensors')) throw new UsageError('the output must be a .safetensors file');
  if (resolve(input) === resolve(output)) throw new UsageError('the output must differ from the input');
  const f16 = args.flags.has('--f16');
  const t0 = performance.now();
  const file = await loadWeights(input, loadOptions(args));
  try {
    const clip = await clipView(file, input, args);
    const floatType: DType = f16 ? 'F16' : 'F32';
    let entries: SafetensorsEntry[];
    let metadata: Record<string, string> = { 'seedmask.source': basename(input) };
    if (clip) {
      entries = clip.names.map((name) => ({
        name,
        dtype: floatType,
        shape: clip.shape(name),
        data: async () => toStoredBytes(file.name, name, await clip.get(name), f16),
      }));
      metadata = { ...metadata, ...clipConfigMetadata(clip.config), 'seedmask.layout': 'clip-canonical' };
    } else {
      entries = file.keys.map((key) => {
        const { dtype, shape } = file.info(key);
        const float = isFloatDType(dtype);
        return {
          name: key,
          dtype: float ? floatType : dtype,
          shape,
          data: async () => (float ? toStoredBytes(file.name, key, await file.getF32(key), f16) : file.getRaw(key)),
        };
      });
    }
    await writeSafetensorsFile(output, entries, metadata);
    const seconds = (performance.now() - t0) / 1000;
    out(`wrote ${output}: ${entries.length} tensors, ${clip ? 'canonical CLIP layout' : 'keys as in the input'}, ${floatType}, in ${seconds.toFixed(2)} s`);
    return 0;
  } finally {
    await file.close();
  }
}

// ---------------------------------------------------------------------------------------------

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    const args = parseArgs(rest);
    if (!sub || sub === '-h' || sub === '--help' || args.flags.has('-h') || args.flags.has('--help')) {
      process.stdout.write(USAGE);
      return sub ? 0 : 2;
    }
    if (sub === 'inspect') return await inspect(args);
    if (sub === 'convert') return await convert(args);
    throw new UsageError(`unknown weights command '${sub}'`);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`seedmask weights: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof WeightFileError) {
      // The message already names the file and the problem.
      process.stderr.write(`seedmask weights: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
