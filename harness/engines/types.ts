// What every engine adapter of the page hands the benchmark loop for one case.

export interface PreparedRun {
  /** Human-readable engine name with version. */
  name: string;
  io: 'gpu-resident' | 'host';
  note?: string;
  /** Set-up time before the first run (session or graph creation), ms. */
  initMs?: number;
  /** One run; resolves when the GPU has finished it. */
  run(): Promise<void>;
  /** The last run's output, in the engine's own layout. */
  read(): Promise<Float32Array>;
  dispose(): Promise<void>;
}

/** A buffer of `device` read back to the host (the peers' outputs stay on their own devices). */
export async function readGpuBuffer(device: GPUDevice, buffer: GPUBuffer, bytes: number): Promise<Float32Array> {
  const staging = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(buffer, 0, staging, 0, bytes);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.unmap();
  staging.destroy();
  return out;
}
