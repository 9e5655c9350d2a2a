// RSS loss gradient with int8 wrap (docs/algorithm.md §3), accuracy and loss metrics, confusion counts.
// One thread per sample; a sample's packed row of the gradient belongs to that thread alone.
// include: packed-int8.wgsl

@group(0) @binding(0) var<storage, read> yhat: array<u32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read_write> out8: array<u32>;
@group(0) @binding(3) var<storage, read_write> metrics: array<atomic<u32>>;
@group(0) @binding(4) var<storage, read_write> confusion_counts: array<atomic<i32>>;

override WG: u32 = 64;
override B: u32 = 1;
override CLASSES: u32 = 1;
override ROW_WORDS: u32 = 1;
override ONE_HOT: i32 = 32;
// First of the three metric words: correct count, RSS low word, RSS high word.
override OFFSET: u32 = 0;

fn prediction(b: u32, k: u32) -> i32 {
  return lane(yhat[b * ROW_WORDS + k / 4u], k % 4u);
}

// First index of the maximum.
fn argmax(b: u32) -> u32 {
  var best = prediction(b, 0u);
  var arg = 0u;
  for (var k = 1u; k < CLASSES; k++) {
    let v = prediction(b, k);
    if (v > best) {
      best = v;
      arg = k;
    }
  }
  return arg;
}

// Writes the gradient row of sample b; returns the sample's RSS as (low, high) words.
fn gradient_row(b: u32) -> vec2<u32> {
  let label = labels[b];
  var lo = 0u;
  var hi = 0u;
  for (var w = 0u; w < ROW_WORDS; w++) {
    let word = yhat[b * ROW_WORDS + w];
    var packed = 0u;
    for (var k = 0u; k < 4u; k++) {
      let j = w * 4u + k;
      if (j < CLASSES) {
        let diff = lane(word, k) - select(0, ONE_HOT, i32(j) == label);
        packed = put(packed, k, diff); // keeps the low byte: the int8 wrap
        let sq = u32(diff * diff);
        lo += sq;
        hi += select(0u, 1u, lo < sq);
      }
    }
    out8[b * ROW_WORDS + w] = packed;
  }
  return vec2<u32>(lo, hi);
}

@compute @workgroup_size(WG)
fn loss_gradient(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let b = gid.x + gid.y * nwg.x * WG;
  if (b < B) {
    _ = gradient_row(b);
  }
}

@compute @workgroup_size(WG)
fn loss_gradient_metrics(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let b = gid.x + gid.y * nwg.x * WG;
  if (b >= B) {
    return;
  }
  let rss = gradient_row(b);
  if (i32(argmax(b)) == labels[b]) {
    atomicAdd(&metrics[OFFSET], 1u);
  }
  // 64-bit add: the value before this thread's add tells whether the low word carried.
  let before = atomicAdd(&metrics[OFFSET + 1u], rss.x);
  let high = rss.y + select(0u, 1u, before + rss.x < before);
  if (high != 0u) {
    atomicAdd(&metrics[OFFSET + 2u], high);
  }
}

@compute @workgroup_size(WG)
fn confusion(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let b = gid.x + gid.y * nwg.x * WG;
  if (b >= B) {
    return;
  }
  let label = labels[b];
  if (label >= 0 && u32(label) < CLASSES) {
    atomicAdd(&confusion_counts[u32(label) * CLASSES + argmax(b)], 1);
  }
}
