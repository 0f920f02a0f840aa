/// <reference types="vite/client" />
// Browser entry: registers what Node reads from disk and a bundle has to carry. vite inlines every
// shaders/**/*.wgsl file as a string at build time, so that `loadShader` finds them without a file
// system, and emits the JPEG decoder's WebAssembly module as an asset whose URL the decoder fetches.
import jpegWasmUrl from '@cwasm/jpeg-turbo/jpeg-turbo.wasm?url';
import { registerJpegWasmUrl } from '../io/jpeg.js';
import { registerShaderSources } from './shader.js';

registerShaderSources(import.meta.glob('../../shaders/**/*.wgsl', { query: '?raw', import: 'default', eager: true }) as Record<string, string>);
registerJpegWasmUrl(jpegWasmUrl);

export * from './context.js';
export * from './tensor.js';
export * from './errors.js';
