// IntegerSGD in place (NITRO-D.md §5): w -= trunc(trunc(grad / AMP) / lr_inv) + trunc(w / DECAY_INV),
// the decay term only when DECAY_INV > 0. i32 arithmetic wraps like the reference's int32 arrays.

@group(0) @binding(0) var<storage, read_write> w: array<i32>;
@group(0) @binding(1) var<storage, read> grad: array<i32>;
@group(0) @binding(2) var<storage, read> lr_inv: array<i32>;

override WG: u32 = 64;
override COUNT: u32 = 0;
override AMP: i32 = 1;
override DECAY_INV: i32 = 0;

@compute @workgroup_size(WG)
fn integer_sgd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= COUNT) {
    return;
  }
  let old = w[i];
  // max() keeps the pipeline valid when DECAY_INV = 0 (a constant division by zero is an error).
  let decay = select(0, old / max(DECAY_INV, 1), DECAY_INV > 0);
  w[i] = old - (grad[i] / AMP / lr_inv[0] + decay);
}
