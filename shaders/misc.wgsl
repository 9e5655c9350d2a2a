// Small utility kernels: fill a tensor, advance a step cursor, add partial sums into a total.

@group(0) @binding(0) var<storage, read_write> out: array<i32>;
@group(0) @binding(1) var<storage, read_write> cursor: array<i32>;
@group(0) @binding(2) var<storage, read> part: array<u32>;

override WG: u32 = 64;
override COUNT: u32 = 0;
override VALUE: i32 = 0;

@compute @workgroup_size(WG)
fn fill(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i < COUNT) {
    out[i] = VALUE;
  }
}

@compute @workgroup_size(1)
fn advance() {
  cursor[0] = cursor[0] + 1;
}

// out += part, wrapping (u32 addition is two's-complement i32 addition): a reduction over a
// batch split into chunks sums each chunk's raw sums into the first's, in any order, exactly.
@compute @workgroup_size(WG)
fn accumulate(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i < COUNT) {
    out[i] = bitcast<i32>(bitcast<u32>(out[i]) + part[i]);
  }
}
