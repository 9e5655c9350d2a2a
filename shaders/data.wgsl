// Input pipeline on the device: batch gather with augmentation (docs/algorithm.md §7.1), integer
// normalisation (§2.1) and training dropout (§1.6). Packed int8 rows; a thread writes whole words.
// include: packed-int8.wgsl

@group(0) @binding(0) var<storage, read> data: array<u32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read> indices: array<i32>;
@group(0) @binding(3) var<storage, read> cursor: array<i32>;
@group(0) @binding(4) var<storage, read> aug: array<i32>;
@group(0) @binding(5) var<storage, read> stats: array<i32>;
@group(0) @binding(6) var<storage, read_write> out8: array<u32>;
@group(0) @binding(7) var<storage, read_write> out_labels: array<i32>;
@group(0) @binding(8) var<uniform> seed: vec4<u32>;

override WG: u32 = 64;
// Words to produce.
override COUNT: u32 = 0;
// Logical elements and words of a packed row (one sample).
override ROW_LEN: u32 = 1;
override ROW_WORDS: u32 = 1;
// gather: samples per batch; image geometry and crop padding for augmentation.
override B: u32 = 1;
override H: i32 = 1;
override W: i32 = 1;
override PAD: i32 = 0;
// normalize: channels and elements per channel of a row.
override C: u32 = 1;
override CH_LEN: u32 = 1;
// dropout: drop probability in per mille and the kept-value multiplier R (value * R / 1000).
override RATE: u32 = 0;
override MULT: i32 = 1000;

// Sample index of batch element b at the current step.
fn source_sample(b: u32) -> u32 {
  return u32(indices[u32(cursor[0]) * B + b]);
}

@compute @workgroup_size(WG)
fn gather(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let word = gid.x + gid.y * nwg.x * WG;
  if (word >= COUNT) {
    return;
  }
  let b = word / ROW_WORDS;
  let w = word - b * ROW_WORDS;
  let s = source_sample(b);
  out8[word] = data[s * ROW_WORDS + w];
  if (w == 0u) {
    out_labels[b] = labels[s];
  }
}

fn data_at(s: u32, e: u32) -> i32 {
  return lane(data[s * ROW_WORDS + e / 4u], e % 4u);
}

// Same, with the step's augmentation: aug row cursor[0] = (crop, dy, dx, flip, pad value).
// out[c, i, j] = cropped[c, i, flip ? W-1-j : j], cropped[c, i, j] = crop ? padded[c, i+dy, j+dx] : x[c, i, j],
// padded = x surrounded by PAD cells of the pad value.
@compute @workgroup_size(WG)
fn gather_augment(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let word = gid.x + gid.y * nwg.x * WG;
  if (word >= COUNT) {
    return;
  }
  let b = word / ROW_WORDS;
  let w = word - b * ROW_WORDS;
  let s = source_sample(b);
  let p = u32(cursor[0]) * 5u;
  let crop = aug[p] != 0;
  let dy = select(0, aug[p + 1u] - PAD, crop);
  let dx = select(0, aug[p + 2u] - PAD, crop);
  let flip = aug[p + 3u] != 0;
  let pad_value = aug[p + 4u];
  var packed = 0u;
  for (var k = 0u; k < 4u; k++) {
    let e = w * 4u + k;
    if (e < ROW_LEN) {
      let plane = u32(H * W);
      let c = e / plane;
      let r = i32(e - c * plane);
      let i = r / W;
      let j = r - i * W;
      let h = i + dy;
      let x = select(j, W - 1 - j, flip) + dx;
      var v = pad_value;
      if (h >= 0 && h < H && x >= 0 && x < W) {
        v = data_at(s, c * plane + u32(h * W + x));
      }
      packed = put(packed, k, v);
    }
  }
  out8[word] = packed;
  if (w == 0u) {
    out_labels[b] = labels[s];
  }
}

// out = clip(trunc((x - mean_c) * 51 / mad_c), -128, 127); stats = (mean_0.., mad_0..).
fn normalize_word(xw: u32, word: u32) -> u32 {
  let j0 = (word % ROW_WORDS) * 4u;
  var packed = 0u;
  for (var k = 0u; k < 4u; k++) {
    let j = j0 + k;
    if (j < ROW_LEN) {
      let c = j / CH_LEN;
      packed = put(packed, k, clamp((lane(xw, k) - stats[c]) * 51 / stats[C + c], -128, 127));
    }
  }
  return packed;
}

@compute @workgroup_size(WG)
fn normalize(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let word = gid.x + gid.y * nwg.x * WG;
  if (word < COUNT) {
    out8[word] = normalize_word(data[word], word);
  }
}

// Same op with input and output in one buffer: each thread reads and writes only its own word.
@compute @workgroup_size(WG)
fn normalize_in_place(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let word = gid.x + gid.y * nwg.x * WG;
  if (word < COUNT) {
    out8[word] = normalize_word(out8[word], word);
  }
}

// Integer hash of (seed, step, element index) deciding which elements drop.
fn dropped(step: u32, index: u32) -> bool {
  var h = seed.x ^ (step * 0x9E3779B1u) ^ (index * 0x85EBCA77u);
  h ^= h >> 16u;
  h *= 0x7feb352du;
  h ^= h >> 15u;
  h *= 0x846ca68bu;
  h ^= h >> 16u;
  return h % 1000u < RATE;
}

fn dropout_word(xw: u32, word: u32) -> u32 {
  let row = word / ROW_WORDS;
  let j0 = (word - row * ROW_WORDS) * 4u;
  let step = bitcast<u32>(cursor[0]);
  var packed = 0u;
  for (var k = 0u; k < 4u; k++) {
    let j = j0 + k;
    if (j < ROW_LEN && !dropped(step, seed.y + row * ROW_LEN + j)) {
      packed = put(packed, k, lane(xw, k) * MULT / 1000);
    }
  }
  return packed;
}

@compute @workgroup_size(WG)
fn dropout(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let word = gid.x + gid.y * nwg.x * WG;
  if (word < COUNT) {
    out8[word] = dropout_word(data[word], word);
  }
}

@compute @workgroup_size(WG)
fn dropout_in_place(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let word = gid.x + gid.y * nwg.x * WG;
  if (word < COUNT) {
    out8[word] = dropout_word(out8[word], word);
  }
}
