// Errors raised by the GPU layer. Every message names what failed: the kernel, the binding, the
// shader file, so that a user can find the culprit without a debugger.

/**
 * A failure of the GPU layer: no adapter, a WebGPU validation or out-of-memory error, bad tensor
 * arguments. Base class of KernelError and DeviceLostError.
 */
export class GpuError extends Error {
  /** 'GpuError'; subclasses set their own class name. */
  override name = 'GpuError';
}

/** A problem with one kernel: bad arguments, a binding that does not fit, a shader that fails. */
export class KernelError extends GpuError {
  /** 'KernelError'. */
  override name = 'KernelError';
  constructor(
    /** Name of the kernel that failed. */
    readonly kernel: string,
    message: string,
    /** Name of the shader binding at fault, when the problem is one binding. */
    readonly binding?: string,
  ) {
    super(`kernel '${kernel}'${binding ? `, binding '${binding}'` : ''}: ${message}`);
  }
}

/** The device was lost (driver reset, destroy(), out of memory); nothing on it can be used again. */
export class DeviceLostError extends GpuError {
  /** 'DeviceLostError'. */
  override name = 'DeviceLostError';
}
