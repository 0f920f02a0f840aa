/// <reference types="vite/client" />
// Browser entry for the GPU layer: vite inlines every shaders/**/*.wgsl file as a string at build
// time, and they are registered so that `loadShader` finds them without a file system.
import { registerShaderSources } from './shader.js';

registerShaderSources(import.meta.glob('../../shaders/**/*.wgsl', { query: '?raw', import: 'default', eager: true }) as Record<string, string>);

export * from './context.js';
export * from './tensor.js';
export * from './errors.js';
