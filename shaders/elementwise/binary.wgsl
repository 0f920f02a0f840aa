// y = activate(ACT, a ∘ b) with NumPy broadcasting up to rank 4. The host right-aligns shapes to
// rank 4 and passes, per operand, its strides in the output's index space (0 on broadcast axes).
// @include common/activation.wgsl
// @include common/dispatch.wgsl

const OP: u32 = 0u;    // @param 0 add, 1 sub, 2 mul, 3 div, 4 max, 5 min
const ACT: u32 = 0u;   // @param activation applied to the result
const WG: u32 = 256u;  // @param invocations per workgroup

struct Params {
  count: u32,
  out_shape: vec4<u32>,
  a_strides: vec4<u32>,
  b_strides: vec4<u32>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

fn combine(u: f32, v: f32) -> f32 {
  switch OP {
    case 1u: { return u - v; }
    case 2u: { return u * v; }
    case 3u: { return u / v; }
    case 4u: { return max(u, v); }
    case 5u: { return min(u, v); }
    default: { return u + v; }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = workgroup_linear(wid, nwg) * WG + lid;
  if (i >= p.count) { return; }
  // Decompose i into 4-D output indices (innermost axis is w).
  var rest = i;
  let i3 = rest % p.out_shape.w; rest = rest / p.out_shape.w;
  let i2 = rest % p.out_shape.z; rest = rest / p.out_shape.z;
  let i1 = rest % p.out_shape.y;
  let i0 = rest / p.out_shape.y;
  let ia = i0 * p.a_strides.x + i1 * p.a_strides.y + i2 * p.a_strides.z + i3 * p.a_strides.w;
  let ib = i0 * p.b_strides.x + i1 * p.b_strides.y + i2 * p.b_strides.z + i3 * p.b_strides.w;
  y[i] = activate(ACT, combine(a[ia], b[ib]));
}
