#!/usr/bin/env node
// seedmask command-line entry. Each subcommand lives in its own module and is loaded lazily,
// so `seedmask weights ...` never pays for starting a GPU device.
import { abandonPendingWrites } from '../io/atomic.js';

type Command = { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> };

const commands: Record<string, Command> = {
  weights: { summary: 'inspect or convert weight files (safetensors, .pt, .pth)', load: () => import('./weights.js') },
  gpu: { summary: 'print the WebGPU adapter seedmask picks, its limits and features', load: () => import('./gpu.js') },
  world: { summary: 'generate the synthetic VOC-layout world (images, masks, captions, label set), or show its stats', load: () => import('./world.js') },
  seeds: { summary: 'CLIP-ES seed masks for images or a VOC-layout dataset (Grad-CAM, CAA, CRF | PAR | random walk)', load: () => import('./seeds.js') },
  maskclip: { summary: 'zero-shot dense labels with MaskCLIP: every class of a label set at every pixel, no image labels needed', load: () => import('./maskclip.js') },
  report: { summary: 'run the whole pipeline on the bundled world and model; write an HTML report (npm start)', load: () => import('./report.js') },
  eval: { summary: 'score predicted label PNGs against ground truth (VOC protocol: mIoU, IoU, precision, recall)', load: () => import('./eval.js') },
  train: { summary: 'train a segmentation network on seed masks, validate it on ground truth; checkpoints, exact resume', load: () => import('./train.js') },
  segment: { summary: 'run DeepLab (v3 ResNet-50/101, v2 ResNet-101 MSC) on images or a VOC split: label PNGs, logits, mIoU', load: () => import('./segment.js') },
};

/** Exit codes, the same for every command. */
export const EXIT = { ok: 0, error: 1, usage: 2, SIGINT: 130, SIGTERM: 143 } as const;

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `usage: seedmask <command> [options]\n\ncommands:\n${lines.join('\n')}\n
exit codes:
  0    done
  1    an error (the message names the culprit), or a run that went on past failed images
  2    a usage error (unknown command or option, missing argument)
  130  stopped by SIGINT (Ctrl-C), 143 stopped by SIGTERM: the process ends by the signal (shells
       report 128 + N); the image in progress is abandoned, files already written are complete,
       no partial or temporary file is left; a dataset run resumes
`;
}

// A signal stops the command at once: GPU work in flight is dropped with the process, and writes in
// progress lose only their temporary files (every output is written atomically). The process then
// ends by the signal itself, as POSIX programs do (shells report 128 + N: 130, 143): a plain
// exit() would run native teardown while the WebGPU backend's threads still work, which can crash.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    const abandoned = abandonPendingWrites();
    process.stderr.write(`\nseedmask: stopped by ${signal}${abandoned ? ` (${abandoned} unfinished file${abandoned > 1 ? 's' : ''} removed)` : ''}\n`);
    // `once` removed the listener, so Node's default disposition is back: the signal ends the process.
    process.kill(process.pid, signal);
    // Should the signal be blocked in this thread, end with the shell's code instead.
    setTimeout(() => process.exit(EXIT[signal]), 1000).unref();
  });
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '-h' || name === '--help') {
    process.stdout.write(usage());
    return name ? 0 : 1;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`seedmask: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  const module = await command.load();
  return module.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`seedmask: ${err instanceof Error ? err.message : String(err)}\n`);
    if (process.env.SEEDMASK_DEBUG) console.error(err);
    process.exit(1);
  },
);
