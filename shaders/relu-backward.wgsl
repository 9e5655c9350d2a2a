// NITRO-ReLU's backward (docs/algorithm.md §1.3), included by activation.wgsl, pool.wgsl and
// linear.wgsl (src/kernels/shaders.ts).

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

// trunc(d / g_inv(x)). (Parameters are not named after a binding: the bind group layouts come
// from reflecting the source, which would count such a name as a use of the binding.)
fn relu_backward(d: i32, x: i32, slope_inv: i32) -> i32 {
  return d / inverse_slope(x, slope_inv);
}
