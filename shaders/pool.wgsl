// Max pooling with kernel = stride (docs/algorithm.md §1.4, §1.7, §10.3) on packed int8 [B, C, H, W].
// Windows cover rows oh*KH - PH .. oh*KH - PH + KH - 1 (same for columns); the output size is
// floor((H + 2 PH - KH) / KH) + 1, so trailing rows/columns may belong to no window.
// The backward pass keeps no argmax: it recomputes each window's winner from the saved input.
// nitro.wgsl (included) has NITRO-ReLU's backward, shared with activation.wgsl and linear.wgsl.
// include: packed-int8.wgsl, nitro.wgsl

@group(0) @binding(0) var<storage, read> x8: array<u32>;
@group(0) @binding(1) var<storage, read> delta: array<i32>;
@group(0) @binding(2) var<storage, read_write> out8: array<u32>;
@group(0) @binding(3) var<storage, read_write> out32: array<i32>;
// HEAD: the head's loss gradient g [B, CLASSES] (packed int8) and weights [CLASSES, C*HO*WO].
@group(0) @binding(4) var<storage, read> g8: array<u32>;
@group(0) @binding(5) var<storage, read> head_w: array<i32>;
// RELU: the saved int8 input s of NITRO-ReLU, laid out as x.
@group(0) @binding(6) var<storage, read> s8: array<u32>;

override WG: u32 = 64;
// Words (forward) or windows (backward) to produce.
override COUNT: u32 = 0;
override C: i32 = 1;
override H: i32 = 1;
override W: i32 = 1;
override HO: i32 = 1;
override WO: i32 = 1;
override KH: i32 = 1;
override KW: i32 = 1;
override PH: i32 = 0;
override PW: i32 = 0;
// true: pad cells never win; false: pad cells hold 0 and take part.
override IGNORE_PAD: bool = false;
// Words per packed row of the input and of the output.
override X_ROW_WORDS: u32 = 1;
override OUT_ROW_WORDS: u32 = 1;
// Backward: window deltas from delta (false) or computed from the head's g and weights (true).
override HEAD: bool = false;
override CLASSES: u32 = 1;
override G_ROW_WORDS: u32 = 1;
// Backward: the routed delta goes through NITRO-ReLU's backward at the winner's saved s.
override RELU: bool = false;
override SLOPE_INV: i32 = 4;

fn input_at(b: u32, c: i32, h: i32, w: i32) -> i32 {
  let e = u32((c * H + h) * W + w);
  return lane(x8[b * X_ROW_WORDS + e / 4u], e % 4u);
}

fn saved_at(b: u32, c: i32, h: i32, w: i32) -> i32 {
  let e = u32((c * H + h) * W + w);
  return lane(s8[b * X_ROW_WORDS + e / 4u], e % 4u);
}

// The gradient at pool output j of sample b: given, or the head's input gradient
// Σ_k g[b, k] · w[k, j] (what linearInputGrad stores; i32 arithmetic wraps).
fn window_delta(window: u32, b: u32, j: u32) -> i32 {
  if (!HEAD) {
    return delta[window];
  }
  let per_sample = u32(C * HO * WO);
  var sum = 0;
  for (var k = 0u; k < CLASSES; k++) {
    sum += lane(g8[b * G_ROW_WORDS + k / 4u], k % 4u) * head_w[k * per_sample + j];
  }
  return sum;
}

// (max, row-major position in the window of its first occurrence).
fn window_max(b: u32, c: i32, oh: i32, ow: i32) -> vec2<i32> {
  let h0 = oh * KH - PH;
  let w0 = ow * KW - PW;
  var best = -1000; // below every int8, so the first candidate always takes it
  var arg = 0;
  for (var u = 0; u < KH; u++) {
    let h = h0 + u;
    for (var v = 0; v < KW; v++) {
      let w = w0 + v;
      var value = 0;
      if (h >= 0 && h < H && w >= 0 && w < W) {
        value = input_at(b, c, h, w);
      } else if (IGNORE_PAD) {
        continue;
      }
      if (value > best) {
        best = value;
        arg = u * KW + v;
      }
    }
  }
  return vec2<i32>(best, arg);
}

@compute @workgroup_size(WG)
fn max_pool(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let word = gid.x + gid.y * nwg.x * WG;
  if (word >= COUNT) {
    return;
  }
  let b = word / OUT_ROW_WORDS;
  let j0 = i32(word - b * OUT_ROW_WORDS) * 4;
  var packed = 0u;
  for (var k = 0; k < 4; k++) {
    let j = j0 + k;
    if (j < C * HO * WO) {
      let c = j / (HO * WO);
      let r = j - c * HO * WO;
      let oh = r / WO;
      packed = put(packed, u32(k), window_max(b, c, oh, r - oh * WO).x);
    }
  }
  out8[word] = packed;
}

// One thread per window: windows do not overlap, so the thread writes every input cell of its
// window (the winner gets the window's delta, the rest 0), and the last window of a row or
// column also zeroes the trailing cells no window covers. A winner on a pad cell drops its delta.
// With RELU the winner gets relu_backward of it instead (the other cells' 0 would stay 0).
@compute @workgroup_size(WG)
fn max_pool_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let window = gid.x + gid.y * nwg.x * WG;
  if (window >= COUNT) {
    return;
  }
  let per_sample = u32(C * HO * WO);
  let b = window / per_sample;
  let r = i32(window - b * per_sample);
  let c = r / (HO * WO);
  let s = r - c * HO * WO;
  let oh = s / WO;
  let ow = s - oh * WO;
  let arg = window_max(b, c, oh, ow).y;
  let hw = oh * KH - PH + arg / KW;
  let ww = ow * KW - PW + arg % KW;
  var d = window_delta(window, b, u32(r));
  if (RELU && hw >= 0 && hw < H && ww >= 0 && ww < W) {
    d = relu_backward(d, saved_at(b, c, hw, ww), SLOPE_INV);
  }
  let h_end = select(min(oh * KH - PH + KH, H), H, oh == HO - 1);
  let w_end = select(min(ow * KW - PW + KW, W), W, ow == WO - 1);
  let base = (i32(b) * C + c) * H;
  for (var h = max(oh * KH - PH, 0); h < h_end; h++) {
    for (var w = max(ow * KW - PW, 0); w < w_end; w++) {
      out32[(base + h) * W + w] = select(0, d, h == hw && w == ww);
    }
  }
}
