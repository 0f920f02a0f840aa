// The emscripten factory of @cornerstonejs/codec-libjpeg-turbo-8bit's decoder (the package ships no
// types); src/io/jpeg.ts declares the part of the module it uses.
declare module '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs' {
  const factory: (options: object) => Promise<unknown>;
  export default factory;
}
