import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WeightFileError } from '../../src/weights/errors.js';
import { PyDict, PyObject, TensorRef, flattenTensors, unpickle, type PickleValue } from '../../src/weights/unpickle.js';
import { PickleBuilder, stateDictPickle } from './helpers.js';

const opts = { file: 'model.pt', entry: 'archive/data.pkl' };

function run(bytes: Uint8Array, torchScriptClasses = false): PickleValue {
  return unpickle(bytes, { ...opts, torchScriptClasses });
}

function errorOf(f: () => unknown): WeightFileError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(WeightFileError);
    return err as WeightFileError;
  }
  throw new Error('expected an error');
}

describe('safe unpickler: data', () => {
  it('builds dicts, lists, tuples, numbers and strings', () => {
    // {'a': [1, 300, -2, 2.5, None, True, 'é'], 'b': (1, 2)}
    const p = new PickleBuilder().emptyDict().mark().str('a').raw(0x5d).mark().int(1).int(300).int(-2)
      .raw(0x47, 0x40, 0x04, 0, 0, 0, 0, 0, 0).none().bool(true).str('é').raw(0x65) // BINFLOAT 2.5, APPENDS
      .str('b').int(1).int(2).raw(0x86) // TUPLE2
      .setitems().stop();
    const v = run(p.bytes()) as PyDict;
    expect(v).toBeInstanceOf(PyDict);
    expect(v.get('a')).toEqual([1, 300, -2, 2.5, null, true, 'é']);
    expect(v.get('b')).toEqual([1, 2]);
  });

  it('decodes LONG1 integers, including ones beyond 2^53', () => {
    const small = new PickleBuilder().raw(0x8a, 2, 0x00, 0xff).stop().bytes(); // -256
    expect(run(small)).toBe(-256);
    const big = new PickleBuilder().raw(0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1).stop().bytes(); // 2^64
    expect(run(big)).toBe(2n ** 64n);
  });

  it('memoizes with BINPUT/BINGET', () => {
    const p = new PickleBuilder().str('x').raw(0x71, 0).raw(0x68, 0).raw(0x86).stop(); // ('x', 'x')
    expect(run(p.bytes())).toEqual(['x', 'x']);
  });

  it('rebuilds tensors from persistent ids and flattens nested dicts', () => {
    const inner = stateDictPickle([
      { key: 'w', shape: [2, 3] },
      { key: 'v', storageKey: '0', numel: 6, offset: 2, shape: [2], stride: [3] },
    ]);
    const root = run(inner);
    const flat = flattenTensors(root, 'model.pt');
    expect(flat.map(([k]) => k)).toEqual(['w', 'v']);
    const v = flat[1]![1];
    expect(v).toBeInstanceOf(TensorRef);
    expect(v.storage.key).toBe('0');
    expect(v.storage.dtype).toBe('F32');
    expect([v.storageOffset, v.shape, v.stride]).toEqual([2, [2], [3]]);
  });

  it('turns TorchScript classes into inert objects when allowed', () => {
    const p = new PickleBuilder().global('__torch__.model', 'Net').emptyTuple().raw(0x81) // NEWOBJ
      .emptyDict().mark().str('training').bool(false).setitems().raw(0x62).stop(); // BUILD
    const v = run(p.bytes(), true) as PyObject;
    expect(v).toBeInstanceOf(PyObject);
    expect(v.className).toBe('__torch__.model.Net');
    expect((v.state as PyDict).get('training')).toBe(false);
  });
});

describe('safe unpickler: refusals', () => {
  const marker = join(tmpdir(), `seedmask-pwned-${process.pid}`);
  // Equivalent of: os.system('touch <marker>') executed at load time by Python's pickle.
  const osSystem = new PickleBuilder().global('os', 'system').str(`touch ${marker}`).raw(0x85).reduce().stop().bytes();

  it('rejects os.system, naming the global, the file and the entry, and runs nothing', () => {
    const err = errorOf(() => run(osSystem));
    expect(err.message).toMatch(/^model\.pt: pickle 'archive\/data\.pkl' at byte \d+: forbidden global 'os\.system'/);
    expect(err.message).toContain('nothing was executed');
    expect(existsSync(marker)).toBe(false);
  });

  it.each([
    ['builtins', 'eval'],
    ['__builtin__', 'exec'],
    ['posix', 'system'],
    ['subprocess', 'Popen'],
    ['numpy.core.multiarray', '_reconstruct'],
    ['torch', 'load'],
    ['torch._utils', '_rebuild_qtensor'],
  ])('rejects %s.%s', (module, name) => {
    const p = new PickleBuilder().global(module, name).stop().bytes();
    expect(errorOf(() => run(p)).message).toContain(`forbidden global '${module}.${name}'`);
  });

  it('rejects forbidden globals reached through STACK_GLOBAL', () => {
    const p = new PickleBuilder().str('builtins').str('eval').raw(0x93).stop().bytes();
    expect(errorOf(() => run(p)).message).toContain("forbidden global 'builtins.eval'");
  });

  it('rejects TorchScript classes outside TorchScript archives', () => {
    const p = new PickleBuilder().global('__torch__.evil', 'X').stop().bytes();
    expect(errorOf(() => run(p, false)).message).toContain("forbidden global '__torch__.evil.X'");
  });

  it('refuses to call reference-only globals and to instantiate by name', () => {
    const call = new PickleBuilder().global('torch', 'Tensor').emptyTuple().reduce().stop().bytes();
    expect(errorOf(() => run(call)).message).toContain("'torch.Tensor' is allowed as a reference but may not be called");
    const inst = new PickleBuilder().mark().raw(0x69, ...new TextEncoder().encode('os\nsystem\n')).stop().bytes(); // INST
    expect(errorOf(() => run(inst)).message).toContain('unsupported pickle opcode INST');
  });

  it('rejects unsupported storage types', () => {
    const p = new PickleBuilder().global('torch', 'QInt8Storage').stop().bytes();
    expect(errorOf(() => run(p)).message).toContain('unsupported storage type torch.QInt8Storage');
  });

  it('reports truncation, bad memo references, stack underflow and junk', () => {
    const full = stateDictPickle([{ key: 'w', shape: [4] }]);
    expect(errorOf(() => run(full.subarray(0, full.length - 20))).message).toContain('truncated');
    expect(errorOf(() => run(new PickleBuilder().str('ab').bytes())).message).toContain('truncated');
    expect(errorOf(() => run(new PickleBuilder().raw(0x68, 7).stop().bytes())).message).toContain('memo entry 7 was never stored');
    expect(errorOf(() => run(new PickleBuilder().reduce().stop().bytes())).message).toContain('stack underflow');
    expect(errorOf(() => run(Uint8Array.from([0x80, 2, 0xff]))).message).toContain('invalid pickle opcode 0xff');
  });
});
