// Dispatch helpers. Large 1-D grids are folded into x·y workgroups by the host (src/gpu/kernel.ts
// grid1d); shaders recover the linear workgroup index here and skip indices past their count.
fn workgroup_linear(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.x + wid.y * nwg.x;
}
