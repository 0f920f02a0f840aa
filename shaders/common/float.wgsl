// IEEE special values that WGSL cannot spell as constants (a const-expression must be finite), and a
// NaN test that does not rely on comparisons, whose NaN behaviour WGSL leaves to the implementation.
// The bits live in a private variable so that no const-expression ever evaluates to ±inf or NaN.
var<private> F32_POS_INF_BITS: u32 = 0x7f800000u;

// The largest finite f32 and its negation: values beyond them are ±inf.
const F32_MAX: f32 = 0x1.fffffep+127f;
const F32_LOWEST: f32 = -0x1.fffffep+127f;

fn f32_pos_inf() -> f32 { return bitcast<f32>(F32_POS_INF_BITS); }

fn f32_neg_inf() -> f32 { return bitcast<f32>(F32_POS_INF_BITS | 0x80000000u); }

fn f32_nan() -> f32 { return bitcast<f32>(F32_POS_INF_BITS | 0x00400000u); }

fn f32_is_nan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }
