// Small utility kernels: fill a tensor, advance a step cursor.

@group(0) @binding(0) var<storage, read_write> out: array<i32>;
@group(0) @binding(1) var<storage, read_write> cursor: array<i32>;

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
