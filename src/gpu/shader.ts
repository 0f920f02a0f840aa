// Shader sources, their one specialisation mechanism, and the layout reflected from them.
//
// SPECIALISATION (the only templating mechanism in seedmask):
//   A `.wgsl` file marks a module-scope constant as a parameter with a trailing `// @param` comment:
//
//       const TILE_M: u32 = 8u;      // @param rows of C per invocation
//       const EPILOGUE: u32 = 0u;    // @param 0 none, 1 bias, ...
//
//   `specialize(source, { TILE_M: 4 })` rewrites the initialiser of each named constant (typed by its
//   declaration: u32 → `4u`, i32 → `4i`, f32 → `4.0f`, bool → `true`). Unnamed parameters keep their
//   defaults, so every file is valid WGSL as written and can be linted, reflected and read alone.
//   Constants (unlike `override`s) may size private arrays, so register tiles can be parameters too;
//   branches on them (`if (EPILOGUE == 1u)`) are folded away by the shader compiler.
//   Shapes are never parameters: they travel in the uniform struct, so a new shape never recompiles.
//
//   Shared WGSL functions (activations, index folding) live in shaders/common/ and are pulled in by a
//   line `// @include common/activation.wgsl`, expanded once when the file is loaded. That line is the
//   other half of the same mechanism; there is no other templating anywhere.
import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import { GpuError } from './errors.js';

export type ParamValue = number | boolean;
export type ShaderParams = Record<string, ParamValue>;

const PARAM_LINE = /^(\s*const\s+([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(u32|i32|f32|bool)\s*=\s*)([^;]+)(;\s*\/\/\s*@param\b.*)$/;

export interface ParamDeclaration {
  name: string;
  type: 'u32' | 'i32' | 'f32' | 'bool';
  defaultText: string;
}

export function listParams(source: string): ParamDeclaration[] {
  const out: ParamDeclaration[] = [];
  for (const line of source.split('\n')) {
    const m = PARAM_LINE.exec(line);
    if (m) out.push({ name: m[2]!, type: m[3] as ParamDeclaration['type'], defaultText: m[4]!.trim() });
  }
  return out;
}

function literal(file: string, p: ParamDeclaration, value: ParamValue): string {
  const bad = (why: string) => new GpuError(`${file}: parameter ${p.name}: ${type(value)} ${String(value)} ${why}`);
  const type = (v: ParamValue) => typeof v;
  switch (p.type) {
    case 'bool':
      if (typeof value !== 'boolean') throw bad('is not a bool');
      return String(value);
    case 'u32':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) throw bad('is not a u32');
      return `${value}u`;
    case 'i32':
      if (typeof value !== 'number' || !Number.isInteger(value) || Math.abs(value) > 0x7fffffff) throw bad('is not an i32');
      return `${value}i`;
    case 'f32':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw bad('is not a finite f32');
      return `${Number.isInteger(value) ? value.toFixed(1) : String(value)}f`;
  }
}

/** Rewrite the `// @param` constants named in `params`; an unknown name is an error. */
export function specialize(file: string, source: string, params: ShaderParams = {}): string {
  const declared = new Map(listParams(source).map((p) => [p.name, p]));
  for (const name of Object.keys(params)) {
    if (!declared.has(name)) {
      throw new GpuError(`${file}: no '// @param' constant named ${name} (declared: ${[...declared.keys()].join(', ') || 'none'})`);
    }
  }
  return source
    .split('\n')
    .map((line) => {
      const m = PARAM_LINE.exec(line);
      if (!m || !(m[2]! in params)) return line;
      return `${m[1]}${literal(file, declared.get(m[2]!)!, params[m[2]!]!)}${m[5]}`;
    })
    .join('\n');
}

// ---------------------------------------------------------------------------------------------
// Loading. Node reads shaders/ from disk; a browser bundle registers the files vite inlined
// (src/browser.ts), so kernels never embed WGSL in TypeScript strings.

const registered = new Map<string, string>();

/** Browser builds register every .wgsl file under shaders/, keyed by its path there (src/browser.ts). */
export function registerShaderSources(files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) registered.set(path.replace(/^.*?shaders\//, ''), text);
}

let shaderDir: string | undefined;
const loaded = new Map<string, Promise<string>>();

const INCLUDE_LINE = /^\s*\/\/\s*@include\s+(\S+)\s*$/;

/** The shader text with its `// @include` lines expanded (each file at most once). */
export async function loadShader(file: string, seen = new Set<string>()): Promise<string> {
  seen.add(file);
  const text = await readShaderFile(file);
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = INCLUDE_LINE.exec(line);
    if (!m) out.push(line);
    else if (!seen.has(m[1]!)) out.push(await loadShader(m[1]!, seen));
  }
  return out.join('\n');
}

function readShaderFile(file: string): Promise<string> {
  const hit = registered.get(file);
  if (hit !== undefined) return Promise.resolve(hit);
  let p = loaded.get(file);
  if (!p) {
    p = (async () => {
      if (typeof process === 'undefined' || !process.versions?.node) {
        throw new GpuError(`shader ${file} is not registered (browser builds must call registerShaderSources)`);
      }
      const [{ readFile }, { fileURLToPath }, path] = await Promise.all([import('node:fs/promises'), import('node:url'), import('node:path')]);
      shaderDir ??= path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../shaders');
      try {
        return await readFile(path.join(shaderDir, file), 'utf8');
      } catch (err) {
        throw new GpuError(`cannot read shader ${file} from ${shaderDir}: ${(err as Error).message}`);
      }
    })();
    loaded.set(file, p);
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// Reflection: the bind-group layout and the uniform struct come from the WGSL itself.

export type BindingKind = 'uniform' | 'read' | 'read_write';

export interface ReflectedBinding {
  name: string;
  binding: number;
  kind: BindingKind;
  /** Bytes per element of the runtime-sized array (storage), or the struct size (uniform). */
  elementBytes: number;
  /** Scalar type of the array elements ('f32', 'u32', 'i32', 'vec4<f32>', ...). */
  elementType: string;
}

export interface UniformField {
  offset: number;
  /** 'u32' | 'i32' | 'f32' for scalars; vectors are 'vec2<f32>' etc. */
  type: string;
  components: number;
}

export interface ReflectedLayout {
  bindings: ReflectedBinding[];
  /** The uniform struct (at most one per kernel), packed by field name. */
  uniform?: { binding: string; size: number; fields: Map<string, UniformField> };
}

function scalarBytes(type: string): number {
  if (type === 'f16') return 2;
  return 4;
}

function typeName(t: { name: string; format?: { name: string } | null }): string {
  return t.format ? `${t.name}<${t.format.name}>` : t.name;
}

export function reflectLayout(file: string, source: string): ReflectedLayout {
  let reflect: WgslReflect;
  try {
    reflect = new WgslReflect(source);
  } catch (err) {
    throw new GpuError(`${file}: cannot parse WGSL for reflection: ${(err as Error).message}`);
  }
  const groups = reflect.getBindGroups();
  if (groups.length > 1) throw new GpuError(`${file}: kernels use bind group 0 only`);
  const bindings: ReflectedBinding[] = [];
  let uniform: ReflectedLayout['uniform'];
  for (const v of groups[0] ?? []) {
    if (!v) continue;
    if (v.resourceType === 0 /* Uniform */) {
      if (uniform) throw new GpuError(`${file}: at most one uniform struct per kernel`);
      const fields = new Map<string, UniformField>();
      const members = (v.type as unknown as { members?: Array<{ name: string; offset: number; type: { name: string; format?: { name: string } | null } }> }).members;
      if (!members) throw new GpuError(`${file}: uniform '${v.name}' must be a struct`);
      for (const m of members) {
        const components = /^vec([234])/.exec(m.type.name)?.[1];
        fields.set(m.name, { offset: m.offset, type: typeName(m.type), components: components ? Number(components) : 1 });
      }
      uniform = { binding: v.name, size: v.type.size, fields };
      bindings.push({ name: v.name, binding: v.binding, kind: 'uniform', elementBytes: v.type.size, elementType: v.type.name });
    } else if (v.resourceType === 1 /* Storage */) {
      const t = v.type as unknown as { name: string; format?: { name: string; size: number; format?: { name: string } | null }; stride?: number };
      if (t.name !== 'array' || !t.format) throw new GpuError(`${file}: storage binding '${v.name}' must be a runtime-sized array`);
      const elementType = typeName(t.format);
      const components = Number(/^vec([234])/.exec(t.format.name)?.[1] ?? 1);
      const scalar = t.format.format?.name ?? t.format.name;
      const elementBytes = t.stride || components * scalarBytes(scalar);
      bindings.push({ name: v.name, binding: v.binding, kind: v.access === 'read_write' ? 'read_write' : 'read', elementBytes, elementType });
    } else {
      throw new GpuError(`${file}: binding '${v.name}' is not a buffer; kernels use storage buffers and one uniform struct`);
    }
  }
  bindings.sort((a, b) => a.binding - b.binding);
  return { bindings, uniform };
}
