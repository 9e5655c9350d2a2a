// NITRO scaling and NITRO-ReLU of one value, and NITRO-ReLU's backward (docs/algorithm.md §1.2,
// §1.3), written once and included by activation.wgsl, linear.wgsl, conv.wgsl and pool.wgsl
// (src/kernels/shaders.ts). (Parameters are not named after a binding: the bind group layouts
// come from reflecting the source, which would count such a name as a use of the binding.)

// NITRO scaling: trunc(v / sf) clipped to [-127, 127].
fn nitro_scale(v: i32, sf: i32) -> i32 {
  return clamp(v / sf, -127, 127);
}

// NITRO-ReLU: clip(v, 0, 127) + trunc(clip(v, -127, 0) / slope_inv) - corr, corr the mean
// correction of the slope (src/ops/activation/contract.ts).
fn nitro_relu_value(v: i32, slope_inv: i32, corr: i32) -> i32 {
  return clamp(v, 0, 127) + clamp(v, -127, 0) / slope_inv - corr;
}

const INT32_MAX: i32 = 2147483647;

// g_inv(x) at the saved int8 input x: 1 on [0, 127), slope_inv on [-127, 0), and INT32_MAX
// outside, which makes the gradient 0 except for |d| = INT32_MAX or INT32_MIN.
fn inverse_slope(x: i32, slope_inv: i32) -> i32 {
  if (x >= 0 && x < 127) {
    return 1;
  }
  if (x >= -127 && x < 0) {
    return slope_inv;
  }
  return INT32_MAX;
}

// trunc(d / g_inv(x)).
fn relu_backward(d: i32, x: i32, slope_inv: i32) -> i32 {
  return d / inverse_slope(x, slope_inv);
}
