// NITRO scaling and NITRO-ReLU (docs/algorithm.md §1.2, §1.3). Packed int8 tensors hold four values a
// u32 word (little-endian), each row padded to a whole word; a thread writes whole words. The
// arithmetic of one value is nitro.wgsl's, shared with linear.wgsl, conv.wgsl and pool.wgsl.
// include: packed-int8.wgsl, nitro.wgsl

@group(0) @binding(0) var<storage, read> x32: array<i32>;
@group(0) @binding(1) var<storage, read> x8: array<u32>;
@group(0) @binding(2) var<storage, read> delta: array<i32>;
@group(0) @binding(3) var<storage, read_write> out8: array<u32>;
@group(0) @binding(4) var<storage, read_write> out32: array<i32>;

override WG: u32 = 64;
// Words (scale, nitro_relu) or elements (nitro_relu_backward) to produce.
override COUNT: u32 = 0;
// Logical length of a row and words per packed row (of the packed tensor).
override ROW_LEN: u32 = 1;
override ROW_WORDS: u32 = 1;
override SF: i32 = 1;
override SLOPE_INV: i32 = 4;
override CORR: i32 = 36;

fn relu(v: i32) -> i32 {
  return nitro_relu_value(v, SLOPE_INV, CORR);
}

@compute @workgroup_size(WG)
fn scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = gid.x + gid.y * nwg.x * WG;
  if (w >= COUNT) {
    return;
  }
  let row = w / ROW_WORDS;
  let j0 = (w - row * ROW_WORDS) * 4u;
  var packed = 0u;
  for (var k = 0u; k < 4u; k++) {
    let j = j0 + k;
    if (j < ROW_LEN) {
      packed = put(packed, k, nitro_scale(x32[row * ROW_LEN + j], SF));
    }
  }
  out8[w] = packed;
}

fn relu_word(xw: u32, w: u32) -> u32 {
  let j0 = (w % ROW_WORDS) * 4u;
  var packed = 0u;
  for (var k = 0u; k < 4u; k++) {
    // Padding lanes stay zero (relu(0) is not 0).
    if (j0 + k < ROW_LEN) {
      packed = put(packed, k, relu(lane(xw, k)));
    }
  }
  return packed;
}

@compute @workgroup_size(WG)
fn nitro_relu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = gid.x + gid.y * nwg.x * WG;
  if (w < COUNT) {
    out8[w] = relu_word(x8[w], w);
  }
}

// Same op with input and output in one buffer: each thread reads and writes only its own word.
@compute @workgroup_size(WG)
fn nitro_relu_in_place(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = gid.x + gid.y * nwg.x * WG;
  if (w < COUNT) {
    out8[w] = relu_word(out8[w], w);
  }
}

fn saved_input(e: u32) -> i32 {
  let row = e / ROW_LEN;
  let j = e - row * ROW_LEN;
  return lane(x8[row * ROW_WORDS + j / 4u], j % 4u);
}

@compute @workgroup_size(WG)
fn nitro_relu_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.x + gid.y * nwg.x * WG;
  if (e < COUNT) {
    out32[e] = relu_backward(delta[e], saved_input(e), SLOPE_INV);
  }
}

// Same op with delta and output in one buffer.
@compute @workgroup_size(WG)
fn nitro_relu_backward_in_place(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.x + gid.y * nwg.x * WG;
  if (e < COUNT) {
    out32[e] = relu_backward(out32[e], saved_input(e), SLOPE_INV);
  }
}
