// Errors raised by the GPU layer. Every message names what failed: the kernel, the binding, the
// shader file, so that a user can find the culprit without a debugger.

export class GpuError extends Error {
  override name = 'GpuError';
}

/** A problem with one kernel: bad arguments, a binding that does not fit, a shader that fails. */
export class KernelError extends GpuError {
  override name = 'KernelError';
  constructor(
    readonly kernel: string,
    message: string,
    readonly binding?: string,
  ) {
    super(`kernel '${kernel}'${binding ? `, binding '${binding}'` : ''}: ${message}`);
  }
}

/** The device was lost (driver reset, destroy(), out of memory); nothing on it can be used again. */
export class DeviceLostError extends GpuError {
  override name = 'DeviceLostError';
}
