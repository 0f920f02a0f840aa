// float32 .npy files (NumPy's format, https://numpy.org/neps/nep-0001-npy-format.html), the
// exchange format for CAMs and score maps with Python tools.
//
// Layout: the magic "\x93NUMPY", a version (major, minor), the header length (uint16 LE for 1.0,
// uint32 LE for 2.0/3.0), then a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (21, 375, 500), }
// padded with spaces and ended by '\n' so that the data starts at a multiple of 64 bytes, then the
// raw little-endian float32 values in C (row-major) order. We write version 1.0 and read 1.0–3.0.
// Files: readNpy / writeNpy in files.ts.

import { IoError, messageOf } from './errors.js';

/** A float32 array as stored in a .npy file: values in C (row-major) order and their shape. */
export interface NpyArray {
  /** Dimensions, outermost first; [] is a scalar. */
  shape: number[];
  /** The values in C order; length = product of `shape`. */
  data: Float32Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ALIGN = 64;
const LITTLE_ENDIAN_HOST = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

function checkedCount(shape: readonly number[]): number {
  let count = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`shape [${shape.join(', ')}] has a dimension that is not a non-negative integer`);
    count *= d;
  }
  if (!Number.isSafeInteger(count)) throw new RangeError(`shape [${shape.join(', ')}] is too large`);
  return count;
}

/** Encodes a float32 array as .npy version 1.0 bytes. */
export function encodeNpy(data: Float32Array, shape: readonly number[]): Uint8Array {
  const count = checkedCount(shape);
  if (count !== data.length) throw new RangeError(`shape [${shape.join(', ')}] holds ${count} values, the data ${data.length}`);
  // Python's tuple syntax: (3,) for one dimension, () for none.
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${tuple}, }`;
  const unpadded = MAGIC.length + 2 + 2 + header.length + 1; // + the final '\n'
  header += ' '.repeat((ALIGN - (unpadded % ALIGN)) % ALIGN) + '\n';
  if (header.length > 0xffff) throw new RangeError('shape too long for a version 1.0 .npy header');

  const headerStart = MAGIC.length + 4;
  const out = new Uint8Array(headerStart + header.length + 4 * count);
  out.set(MAGIC, 0);
  out[6] = 1; // version 1.0
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[headerStart + i] = header.charCodeAt(i);
  const body = headerStart + header.length;
  if (LITTLE_ENDIAN_HOST) out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), body);
  else {
    const view = new DataView(out.buffer, body);
    for (let i = 0; i < count; i++) view.setFloat32(4 * i, data[i]!, true);
  }
  return out;
}

/** Decodes .npy bytes holding a C-order float32 array (little- or big-endian). `name` prefixes errors. */
export function decodeNpy(bytes: Uint8Array, name = '<buffer>'): NpyArray {
  const fail = (problem: string): never => {
    throw new IoError(name, problem);
  };
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) fail('not a .npy file (missing \\x93NUMPY magic)');
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerStart: number;
  let headerLength: number;
  if (major === 1) {
    headerStart = 10;
    headerLength = view.getUint16(8, true);
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) fail('truncated .npy header');
    headerStart = 12;
    headerLength = view.getUint32(8, true);
  } else return fail(`unsupported .npy version ${major}.${bytes[7]}`);
  if (headerStart + headerLength > bytes.length) fail(`truncated .npy: the header needs ${headerLength} bytes, the file ends before`);
  const header = new TextDecoder().decode(bytes.subarray(headerStart, headerStart + headerLength));

  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) return fail(`malformed .npy header: ${JSON.stringify(header.trim())}`);
  if (descr !== '<f4' && descr !== '>f4') fail(`dtype '${descr}' is not float32 (convert with arr.astype('<f4'))`);
  if (fortran === 'True') fail('Fortran-order arrays are not supported (save np.ascontiguousarray(arr))');
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => (/^\d+L?$/.test(s) ? Number.parseInt(s, 10) : fail(`malformed shape (${shapeText}) in .npy header`)));
  let count: number;
  try {
    count = checkedCount(shape);
  } catch (err) {
    return fail(messageOf(err));
  }

  const body = headerStart + headerLength;
  const available = bytes.length - body;
  if (available !== 4 * count) fail(`${available < 4 * count ? 'truncated' : 'corrupt'} .npy: shape (${shape.join(', ')}) needs ${4 * count} data bytes, found ${available}`);
  const data = new Float32Array(count);
  if (descr === '<f4' && LITTLE_ENDIAN_HOST) new Uint8Array(data.buffer).set(bytes.subarray(body, body + 4 * count));
  else {
    const little = descr === '<f4';
    for (let i = 0; i < count; i++) data[i] = view.getFloat32(body + 4 * i, little);
  }
  return { shape, data };
}
