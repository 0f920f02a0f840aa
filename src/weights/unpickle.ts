// A safe pickle reader for PyTorch checkpoints.
//
// Python's pickle is a small stack machine whose GLOBAL/REDUCE opcodes import and call arbitrary
// functions, which is why unpickling an untrusted .pt can run code. This machine never imports or
// calls anything. A GLOBAL resolves against a fixed allow-list of names whose meaning we
// re-implement as pure data construction (rebuild a tensor descriptor, build an OrderedDict, ...).
// Any other name stops the load with an error naming it. TorchScript archives are the one
// exception: their module objects are classes under `__torch__.` that exist only as compiled
// TorchScript; we turn them into inert records of their attribute dicts, never running their code.
//
// Opcodes: protocol 2 (what torch.save and TorchScript write, docs/algorithms.md §1.7) plus the few
// protocol 3-5 ones that only move data (FRAME, SHORT_BINUNICODE, STACK_GLOBAL, MEMOIZE, sets,
// bytes). Opcodes that instantiate by name (INST, OBJ, NEWOBJ_EX), the extension registry and the
// text-mode protocol 0 forms are refused with an error naming the opcode.

import { TORCH_STORAGE_DTYPES, type DType } from './dtype.js';
import { WeightFileError } from './errors.js';

// ---------------------------------------------------------------------------------------------
// Values

/** A GLOBAL from the allow-list: a name we know how to interpret, never a Python object. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

/** dict / OrderedDict. `state` keeps what BUILD attached (state_dict's `_metadata`), apart from the items. */
export class PyDict extends Map<PickleValue, PickleValue> {
  state: PickleValue = null;
}

/** An instance of a TorchScript class (`__torch__.…`): its class name and attribute dict, nothing else. */
export class PyObject {
  state: PickleValue = null;
  constructor(readonly className: string) {}
}

/** The persistent id of a storage: ('storage', torch.<T>Storage, key, location, numel). */
export class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: DType,
    readonly location: string,
    readonly numel: number,
  ) {}
}

/** What `torch._utils._rebuild_tensor_v2` would build: a strided view into a storage. */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly storageOffset: number,
    readonly shape: number[],
    readonly stride: number[],
    readonly requiresGrad: boolean,
  ) {}
}

export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleValue[]
  | PyDict
  | PyObject
  | PyGlobal
  | StorageRef
  | TensorRef;

// ---------------------------------------------------------------------------------------------
// Allow-list

type Callable = (args: PickleValue[], fail: (msg: string) => never) => PickleValue;

function asInt(v: PickleValue, what: string, fail: (msg: string) => never): number {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  return fail(`${what} must be an integer, got ${describe(v)}`);
}

function asIntTuple(v: PickleValue, what: string, fail: (msg: string) => never): number[] {
  if (!Array.isArray(v)) return fail(`${what} must be a tuple of integers, got ${describe(v)}`);
  return v.map((x, i) => {
    const n = asInt(x, `${what}[${i}]`, fail);
    if (n < 0) fail(`${what}[${i}] is negative (${n})`);
    return n;
  });
}

function rebuildTensor(args: PickleValue[], fail: (msg: string) => never): TensorRef {
  // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  if (args.length < 5) fail(`_rebuild_tensor_v2 expects at least 5 arguments, got ${args.length}`);
  const [storage, offset, size, stride, requiresGrad] = args;
  if (!(storage instanceof StorageRef)) return fail(`_rebuild_tensor_v2: first argument is ${describe(storage)}, not a storage`);
  const shape = asIntTuple(size!, 'tensor size', fail);
  const strides = asIntTuple(stride!, 'tensor stride', fail);
  if (shape.length !== strides.length) fail(`tensor size ${JSON.stringify(shape)} and stride ${JSON.stringify(strides)} differ in rank`);
  const off = asInt(offset!, 'storage offset', fail);
  if (off < 0) fail(`negative storage offset ${off}`);
  return new TensorRef(storage, off, shape, strides, requiresGrad === true);
}

/** Interpreted functions: each builds data from its arguments and calls nothing. */
const ALLOWED_CALLABLES: Record<string, Callable> = {
  'torch._utils._rebuild_tensor_v2': rebuildTensor,
  // nn.Parameter wraps a tensor: (data, requires_grad, backward_hooks[, state]).
  'torch._utils._rebuild_parameter': (args) => args[0] ?? null,
  'torch._utils._rebuild_parameter_with_state': (args) => args[0] ?? null,
  // Tensor subclasses: (func, type, args, state): apply the (allow-listed) rebuild function.
  'torch._tensor._rebuild_from_type_v2': (args, fail) => {
    const [func, , inner] = args;
    if (!(func instanceof PyGlobal) || !ALLOWED_CALLABLES[func.qualified] || !Array.isArray(inner)) {
      return fail(`_rebuild_from_type_v2 with unexpected arguments (${describe(func ?? null)})`);
    }
    return ALLOWED_CALLABLES[func.qualified]!(inner, fail);
  },
  // OrderedDict() or OrderedDict([(k, v), ...]); backward hooks are always an empty one.
  'collections.OrderedDict': (args, fail) => {
    const d = new PyDict();
    const items = args[0];
    if (Array.isArray(items)) {
      for (const pair of items) {
        if (!Array.isArray(pair) || pair.length !== 2) fail('OrderedDict items must be (key, value) pairs');
        d.set((pair as PickleValue[])[0]!, (pair as PickleValue[])[1]!);
      }
    }
    return d;
  },
  // TorchScript's typed-list helpers: the list itself is the value.
  'torch.jit._pickle.build_intlist': (args) => args[0] ?? null,
  'torch.jit._pickle.build_floatlist': (args) => args[0] ?? null,
  'torch.jit._pickle.build_boollist': (args) => args[0] ?? null,
  'torch.jit._pickle.build_doublelist': (args) => args[0] ?? null,
  'torch.jit._pickle.build_tensorlist': (args) => args[0] ?? null,
  'torch.jit._pickle.restore_type_tag': (args) => args[0] ?? null,
  'torch.Size': (args) => args[0] ?? [],
};

/** Names that may appear as plain references (arguments), never called. */
const ALLOWED_MARKERS = new Set<string>(['torch.Tensor', 'torch.nn.parameter.Parameter']);

function isStorageType(module: string, name: string): boolean {
  return module === 'torch' && name.endsWith('Storage');
}

// ---------------------------------------------------------------------------------------------
// Machine

export interface UnpickleOptions {
  /** File name for messages. */
  file: string;
  /** Pickle entry name for messages (e.g. 'archive/data.pkl'). */
  entry: string;
  /** Accept `__torch__.*` TorchScript classes as inert objects (TorchScript archives only). */
  torchScriptClasses?: boolean;
}

const MARK = Symbol('mark');

function describe(v: PickleValue | undefined): string {
  if (v === null || v === undefined) return 'None';
  if (Array.isArray(v)) return `tuple/list of ${v.length}`;
  if (v instanceof PyGlobal) return `global ${v.qualified}`;
  if (v instanceof PyObject) return `object of ${v.className}`;
  if (v instanceof PyDict) return 'dict';
  if (v instanceof StorageRef) return 'storage';
  if (v instanceof TensorRef) return 'tensor';
  if (v instanceof Uint8Array) return 'bytes';
  return typeof v;
}

const OPNAMES: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT', 0x4a: 'BININT',
  0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID', 0x51: 'BINPERSID', 0x52: 'REDUCE',
  0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING', 0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND',
  0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT', 0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET',
  0x69: 'INST', 0x6a: 'LONG_BINGET', 0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT',
  0x72: 'LONG_BINPUT', 0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT',
  0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2',
  0x87: 'TUPLE3', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES', 0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL', 0x94: 'MEMOIZE', 0x95: 'FRAME',
  0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

/** Runs the pickle in `data` and returns the unpickled value. */
export function unpickle(data: Uint8Array, options: UnpickleOptions): PickleValue {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const latin1 = new TextDecoder('latin1');
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const stack: (PickleValue | typeof MARK)[] = [];
  const memo = new Map<number, PickleValue>();
  let pos = 0;
  let opStart = 0;

  const fail = (msg: string): never => {
    throw new WeightFileError(options.file, `pickle '${options.entry}' at byte ${opStart}: ${msg}`);
  };

  const need = (n: number): number => {
    if (n < 0 || pos + n > data.byteLength) fail('unexpected end of data: the pickle is truncated');
    const at = pos;
    pos += n;
    return at;
  };
  const u8 = (): number => data[need(1)]!;
  const u16 = (): number => view.getUint16(need(2), true);
  const u32 = (): number => view.getUint32(need(4), true);
  const i32 = (): number => view.getInt32(need(4), true);
  const u64 = (): number => {
    const v = view.getBigUint64(need(8), true);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? fail('length field too large') : Number(v);
  };
  const bytes = (n: number): Uint8Array => {
    const at = need(n);
    return data.subarray(at, at + n);
  };
  const text = (n: number): string => {
    try {
      return utf8.decode(bytes(n));
    } catch {
      return fail('string is not valid UTF-8');
    }
  };
  const line = (): string => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) fail('unterminated GLOBAL name: the pickle is truncated or corrupt');
    const s = latin1.decode(data.subarray(pos, end));
    pos = end + 1;
    return s;
  };

  const pop = (): PickleValue => {
    const v = stack.pop();
    if (v === undefined) return fail('stack underflow');
    if (v === MARK) return fail('unexpected MARK');
    return v;
  };
  const top = (): PickleValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) return fail('stack underflow');
    return v;
  };
  // Items pushed since the most recent MARK, which is removed.
  const popMark = (): PickleValue[] => {
    const at = stack.lastIndexOf(MARK);
    if (at < 0) fail('no MARK on the stack');
    const items = stack.splice(at) as PickleValue[];
    items.shift();
    return items;
  };
  const memoGet = (i: number): PickleValue => {
    if (!memo.has(i)) fail(`memo entry ${i} was never stored`);
    return memo.get(i)!;
  };

  const resolveGlobal = (module: string, name: string): PyGlobal => {
    const qualified = `${module}.${name}`;
    if (ALLOWED_CALLABLES[qualified] || ALLOWED_MARKERS.has(qualified)) return new PyGlobal(module, name);
    if (isStorageType(module, name)) {
      if (!TORCH_STORAGE_DTYPES[name]) fail(`unsupported storage type torch.${name}`);
      return new PyGlobal(module, name);
    }
    if (options.torchScriptClasses && (module === '__torch__' || module.startsWith('__torch__.'))) return new PyGlobal(module, name);
    return fail(
      `forbidden global '${qualified}': only tensor rebuild functions, storage types and containers are allowed` +
        ` (nothing was executed; save a state_dict rather than a whole Python object)`,
    );
  };

  const setItems = (target: PickleValue, items: PickleValue[]): void => {
    if (!(target instanceof PyDict)) fail(`SETITEM(S) on ${describe(target)}, not a dict`);
    if (items.length % 2 !== 0) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) (target as PyDict).set(items[i]!, items[i + 1]!);
  };
  const appendItems = (target: PickleValue, items: PickleValue[]): void => {
    if (!Array.isArray(target)) fail(`APPEND(S) on ${describe(target)}, not a list`);
    (target as PickleValue[]).push(...items);
  };

  const persistentLoad = (pid: PickleValue): StorageRef => {
    // ('storage', torch.<T>Storage, key, location, numel[, view_metadata])
    if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5 || pid.length > 6) {
      return fail(`unsupported persistent id ${describe(pid)}; expected ('storage', type, key, location, numel)`);
    }
    const [, type, key, location, size] = pid;
    if (!(type instanceof PyGlobal) || !isStorageType(type.module, type.name)) fail(`persistent id names ${describe(type!)}, not a storage type`);
    if (typeof key !== 'string' || !/^[\w.-]+$/.test(key)) fail(`storage key ${JSON.stringify(key)} is not a plain name`);
    const n = asInt(size!, 'storage size', fail);
    if (n < 0) fail(`negative storage size ${n}`);
    return new StorageRef(key as string, TORCH_STORAGE_DTYPES[(type as PyGlobal).name]!, typeof location === 'string' ? location : '', n);
  };

  const call = (fn: PickleValue, args: PickleValue): PickleValue => {
    if (!(fn instanceof PyGlobal)) return fail(`REDUCE calls ${describe(fn)}, which is not an allowed global`);
    const impl = ALLOWED_CALLABLES[fn.qualified];
    if (!impl) return fail(`'${fn.qualified}' is allowed as a reference but may not be called`);
    if (!Array.isArray(args)) return fail(`REDUCE arguments for '${fn.qualified}' are not a tuple`);
    return impl(args, fail);
  };

  const newObject = (cls: PickleValue, args: PickleValue): PickleValue => {
    if (!(cls instanceof PyGlobal)) return fail(`NEWOBJ on ${describe(cls)}`);
    if (cls.qualified === 'collections.OrderedDict') return new PyDict();
    if (cls.module === '__torch__' || cls.module.startsWith('__torch__.')) {
      if (Array.isArray(args) && args.length > 0) fail(`NEWOBJ of ${cls.qualified} with arguments`);
      return new PyObject(cls.qualified);
    }
    return fail(`'${cls.qualified}' may not be instantiated`);
  };

  const build = (obj: PickleValue, state: PickleValue): void => {
    if (obj instanceof PyObject || obj instanceof PyDict) obj.state = state;
    else if (!(obj instanceof TensorRef)) fail(`BUILD on ${describe(obj)}`); // tensors may carry Python attributes: ignored
  };

  for (;;) {
    opStart = pos;
    const op = u8();
    switch (op) {
      case 0x80: { // PROTO
        const v = u8();
        if (v > 5) fail(`unsupported pickle protocol ${v}`);
        break;
      }
      case 0x95: // FRAME: a length hint only
        need(8);
        break;
      case 0x2e: { // STOP
        const result = pop();
        return result;
      }
      case 0x28: stack.push(MARK); break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4a: stack.push(i32()); break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x8a: case 0x8b: { // LONG1, LONG4: little-endian two's complement
        const n = op === 0x8a ? u8() : u32();
        if (n > 64) fail(`integer of ${n} bytes is too large`);
        const b = bytes(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
        if (n > 0 && b[n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: stack.push(view.getFloat64(need(8), false)); break; // BINFLOAT (big-endian)
      case 0x58: stack.push(text(u32())); break; // BINUNICODE
      case 0x8c: stack.push(text(u8())); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(text(u64())); break; // BINUNICODE8
      case 0x55: stack.push(latin1.decode(bytes(u8()))); break; // SHORT_BINSTRING (py2 str)
      case 0x54: stack.push(latin1.decode(bytes(u32()))); break; // BINSTRING
      case 0x43: stack.push(bytes(u8()).slice()); break; // SHORT_BINBYTES
      case 0x42: stack.push(bytes(u32()).slice()); break; // BINBYTES
      case 0x8e: stack.push(bytes(u64()).slice()); break; // BINBYTES8
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x74: stack.push(popMark()); break; // TUPLE
      case 0x85: stack.push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push([a, b]); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push([a, b, c]); break; } // TUPLE3
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x61: { const v = pop(); appendItems(top(), [v]); break; } // APPEND
      case 0x65: { const items = popMark(); appendItems(top(), items); break; } // APPENDS
      case 0x7d: stack.push(new PyDict()); break; // EMPTY_DICT
      case 0x64: { const d = new PyDict(); setItems(d, popMark()); stack.push(d); break; } // DICT
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS
      case 0x8f: stack.push([]); break; // EMPTY_SET (kept as a list)
      case 0x90: { const items = popMark(); appendItems(top(), items); break; } // ADDITEMS
      case 0x91: stack.push(popMark()); break; // FROZENSET
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: stack.push(memoGet(u8())); break; // BINGET
      case 0x6a: stack.push(memoGet(u32())); break; // LONG_BINGET
      case 0x63: { const module = line(); const name = line(); stack.push(resolveGlobal(module, name)); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(resolveGlobal(module as string, name as string));
        break;
      }
      case 0x52: { const args = pop(); const fn = pop(); stack.push(call(fn, args)); break; } // REDUCE
      case 0x81: { const args = pop(); const cls = pop(); stack.push(newObject(cls, args)); break; } // NEWOBJ
      case 0x62: { const state = pop(); build(top(), state); break; } // BUILD
      case 0x51: stack.push(persistentLoad(pop())); break; // BINPERSID
      default: {
        const name = OPNAMES[op];
        fail(
          name
            ? `unsupported pickle opcode ${name} (0x${op.toString(16)}); PyTorch checkpoints do not use it`
            : `invalid pickle opcode 0x${op.toString(16)}: the data is corrupt or not a pickle`,
        );
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Flattening the object tree to tensor keys

/**
 * Walks dicts, lists and TorchScript objects and returns every tensor leaf with its dotted path
 * (docs/algorithms.md §1.7). A torch.save'd state_dict gives its own keys; a TorchScript module tree
 * gives the eager state_dict keys; a checkpoint {'state_dict': {...}, 'epoch': 3} gives
 * 'state_dict.<key>'. Non-tensor leaves (ints, strings, None, flags) are skipped.
 */
export function flattenTensors(root: PickleValue, file: string): [string, TensorRef][] {
  const out: [string, TensorRef][] = [];
  const seen = new Set<string>();
  const active = new Set<object>(); // objects on the current path: a cycle is skipped, not followed forever

  const visit = (v: PickleValue, path: string, depth: number): void => {
    if (v instanceof TensorRef) {
      if (seen.has(path)) throw new WeightFileError(file, `two tensors flatten to the same key '${path}'`);
      seen.add(path);
      out.push([path, v]);
      return;
    }
    if (depth > 64 || v === null || typeof v !== 'object' || v instanceof Uint8Array || v instanceof PyGlobal || v instanceof StorageRef) return;
    if (active.has(v)) return;
    active.add(v);
    const join = (k: string): string => (path ? `${path}.${k}` : k);
    if (v instanceof PyDict) {
      for (const [k, child] of v) {
        if (typeof k === 'string' || typeof k === 'number') visit(child, join(String(k)), depth + 1);
      }
    } else if (v instanceof PyObject) {
      // TorchScript module: state is the attribute dict (or a (dict, slots) pair).
      const state = Array.isArray(v.state) ? v.state[0] : v.state;
      if (state) visit(state, path, depth + 1);
    } else if (Array.isArray(v)) {
      v.forEach((child, i) => visit(child, join(String(i)), depth + 1));
    }
    active.delete(v);
  };
  visit(root, '', 0);
  return out;
}
