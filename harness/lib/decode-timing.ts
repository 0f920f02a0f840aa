// Timing one image decoder on one file: a cold run, then warm samples; shared by the Node decode
// benchmark and the browser decoding page so both report the same fields.

export interface DecoderTiming {
  file: string;
  decoder: string;
  bytes: number;
  megapixels: number;
  coldMs: number;
  /** Warm samples, in ms. */
  samples: number[];
  /** Median of the warm samples. */
  ms: number;
  msPerMegapixel: number;
  /** Compressed input bytes per second, in MB/s. */
  inputMBps: number;
}

export async function timeDecoder(file: string, decoder: string, bytes: Uint8Array, samples: number, decode: () => Promise<{ width: number; height: number }>): Promise<DecoderTiming> {
  let t = performance.now();
  const first = await decode();
  const coldMs = performance.now() - t;
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    t = performance.now();
    await decode();
    times.push(performance.now() - t);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const ms = sorted.length % 2 ? sorted[sorted.length >> 1]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
  const megapixels = (first.width * first.height) / 1e6;
  return { file, decoder, bytes: bytes.length, megapixels, coldMs, samples: times, ms, msPerMegapixel: ms / megapixels, inputMBps: bytes.length / 1e6 / (ms / 1e3) };
}
