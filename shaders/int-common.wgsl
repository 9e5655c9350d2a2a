// Integer helpers shared by the GEMM kernels (linear.wgsl, conv.wgsl) and sgd.wgsl, which
// include this file (src/kernels/shaders.ts).

// Signed int8 limbs of v: v == Σ_l limb_l 2^(8l) (mod 2^32), each limb in [-128, 127].
fn limbs_of(v: i32) -> vec4<i32> {
  var r = v;
  var out = vec4<i32>(0);
  for (var l = 0u; l < 4u; l++) {
    let d = extractBits(r, 0u, 8u);
    out[l] = d;
    r = (r - d) >> 8u;
  }
  return out;
}

// Limbs needed for v: the fewest n with v == Σ_{l<n} limb_l 2^(8l).
fn limb_count(v: i32) -> u32 {
  var r = v;
  var n = 0u;
  for (var l = 0u; l < 4u; l++) {
    if (r != 0) {
      n = l + 1u;
    }
    r = (r - extractBits(r, 0u, 8u)) >> 8u;
  }
  return n;
}

// IntegerSGD (docs/algorithm.md §5) of one weight: w - (trunc(trunc(g / amp) / lr_inv) + trunc(w / decay_inv)),
// the decay term only when decay_inv > 0. i32 arithmetic wraps like the reference's int32 arrays.
fn sgd_step(old: i32, g: i32, amp: i32, decay_inv: i32, lr_inv: i32) -> i32 {
  let decay = select(0, old / max(decay_inv, 1), decay_inv > 0);
  return old - (g / amp / lr_inv + decay);
}
