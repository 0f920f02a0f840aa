// wgsl_reflect's bare import is broken under Node/vitest (docs/environment.md), so the code imports
// its ES module file directly; this gives that path the package's own types.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}
