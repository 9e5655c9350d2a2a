// IntegerSGD in place (docs/algorithm.md §5), one weight per invocation; the update itself is sgd_step
// of int-common.wgsl, shared with the weight-gradient kernels that fuse it.
// include: int-common.wgsl

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
  w[i] = sgd_step(w[i], grad[i], AMP, DECAY_INV, lr_inv[0]);
}
