// Integer linear layers (NITRO-D.md §2.2, §4): z = x·wᵀ (+ bias) with the NITRO scaling and
// NITRO-ReLU epilogue fused into the store, the input gradient g·w and the weight gradient gᵀ·x.
// int8-valued tensors are packed four to a u32 (each row padded to a whole word); all
// arithmetic is i32 and wraps. Each thread owns a 4×4 register block: four rows of one
// operand against four of the other, so every loaded value feeds four multiply-adds.

@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read> w: array<i32>;
@group(0) @binding(2) var<storage, read> bias: array<i32>;
@group(0) @binding(3) var<storage, read> g: array<u32>;
@group(0) @binding(4) var<storage, read_write> z: array<i32>;
@group(0) @binding(5) var<storage, read_write> s: array<u32>;
@group(0) @binding(6) var<storage, read_write> a: array<u32>;

override WG: u32 = 64;
// x [B, K], w [O, K], g [B, O]; words per packed row of x (KW) and of outputs/g (OW).
override B: u32 = 1;
override K: u32 = 1;
override O: u32 = 1;
override KW: u32 = 1;
override OW: u32 = 1;
override HAS_BIAS: bool = false;
// g is packed int8 (true) or int32 (false).
override G_PACKED: bool = true;
override SF: i32 = 1;
override SLOPE_INV: i32 = 4;
override CORR: i32 = 36;

fn flat_id(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// Element (row, col) of a packed int8 matrix with `words` words per row.
fn x_at(row: u32, col: u32) -> i32 {
  return extractBits(bitcast<i32>(x[row * KW + (col >> 2u)]), (col & 3u) * 8u, 8u);
}

fn g_at(b: u32, o: u32) -> i32 {
  if (G_PACKED) {
    return extractBits(bitcast<i32>(g[b * OW + (o >> 2u)]), (o & 3u) * 8u, 8u);
  }
  return bitcast<i32>(g[b * O + o]);
}

fn w_at(o: u32, k: u32) -> i32 {
  return select(0, w[o * K + k], k < K);
}

fn scaled(v: i32) -> i32 {
  return clamp(v / SF, -127, 127);
}

fn relu(v: i32) -> i32 {
  return clamp(v, 0, 127) + clamp(v, -127, 0) / SLOPE_INV - CORR;
}

// z for rows b0..b0+3 and outputs o0..o0+3: acc[i][j] = z[b0+i, o0+j].
fn forward_block(b0: u32, o0: u32) -> array<vec4<i32>, 4> {
  var acc: array<vec4<i32>, 4>;
  var rows: array<u32, 4>;
  var outs: array<u32, 4>;
  for (var i = 0u; i < 4u; i++) {
    rows[i] = min(b0 + i, B - 1u);
    outs[i] = min(o0 + i, O - 1u);
  }
  for (var kw = 0u; kw < KW; kw++) {
    let k = kw * 4u;
    var wv: array<vec4<i32>, 4>;
    for (var j = 0u; j < 4u; j++) {
      wv[j] = vec4<i32>(w_at(outs[j], k), w_at(outs[j], k + 1u), w_at(outs[j], k + 2u), w_at(outs[j], k + 3u));
    }
    for (var i = 0u; i < 4u; i++) {
      // Row padding of x is zero, so lanes past K add nothing.
      let xv = unpack4xI8(x[rows[i] * KW + kw]);
      acc[i] += vec4<i32>(dot(xv, wv[0]), dot(xv, wv[1]), dot(xv, wv[2]), dot(xv, wv[3]));
    }
  }
  if (HAS_BIAS) {
    let bv = vec4<i32>(bias[outs[0]], bias[outs[1]], bias[outs[2]], bias[outs[3]]);
    for (var i = 0u; i < 4u; i++) {
      acc[i] += bv;
    }
  }
  return acc;
}

// Threads: ceil(O/4) output groups × ceil(B/4) row groups.
fn block_origin(t: u32) -> vec2<u32> {
  let og = (O + 3u) / 4u;
  return vec2<u32>((t / og) * 4u, (t % og) * 4u);
}

fn in_range(t: u32) -> bool {
  return t < ((O + 3u) / 4u) * ((B + 3u) / 4u);
}

@compute @workgroup_size(WG)
fn forward_raw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = flat_id(gid, nwg);
  if (!in_range(t)) {
    return;
  }
  let origin = block_origin(t);
  let acc = forward_block(origin.x, origin.y);
  for (var i = 0u; i < 4u; i++) {
    let b = origin.x + i;
    for (var j = 0u; j < 4u; j++) {
      let o = origin.y + j;
      if (b < B && o < O) {
        z[b * O + o] = acc[i][j];
      }
    }
  }
}

// Packs four outputs into one word; lanes past O stay zero (row padding).
fn pack_lanes(v: vec4<i32>, o0: u32) -> u32 {
  let live = vec4<bool>(o0 < O, o0 + 1u < O, o0 + 2u < O, o0 + 3u < O);
  return pack4xI8(select(vec4<i32>(0), v, live));
}

@compute @workgroup_size(WG)
fn forward_scaled(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = flat_id(gid, nwg);
  if (!in_range(t)) {
    return;
  }
  let origin = block_origin(t);
  let acc = forward_block(origin.x, origin.y);
  for (var i = 0u; i < 4u; i++) {
    let b = origin.x + i;
    if (b < B) {
      let v = vec4<i32>(scaled(acc[i].x), scaled(acc[i].y), scaled(acc[i].z), scaled(acc[i].w));
      s[b * OW + origin.y / 4u] = pack_lanes(v, origin.y);
    }
  }
}

@compute @workgroup_size(WG)
fn forward_relu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = flat_id(gid, nwg);
  if (!in_range(t)) {
    return;
  }
  let origin = block_origin(t);
  let acc = forward_block(origin.x, origin.y);
  for (var i = 0u; i < 4u; i++) {
    let b = origin.x + i;
    if (b < B) {
      let v = vec4<i32>(scaled(acc[i].x), scaled(acc[i].y), scaled(acc[i].z), scaled(acc[i].w));
      s[b * OW + origin.y / 4u] = pack_lanes(v, origin.y);
      a[b * OW + origin.y / 4u] = pack_lanes(vec4<i32>(relu(v.x), relu(v.y), relu(v.z), relu(v.w)), origin.y);
    }
  }
}

// out[b, k] = Σ_o g[b, o] · w[o, k]. Threads: ceil(K/4) column groups × ceil(B/4) row groups.
@compute @workgroup_size(WG)
fn input_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = flat_id(gid, nwg);
  let kg = (K + 3u) / 4u;
  if (t >= kg * ((B + 3u) / 4u)) {
    return;
  }
  let b0 = (t / kg) * 4u;
  let k0 = (t % kg) * 4u;
  var acc: array<vec4<i32>, 4>;
  for (var o = 0u; o < O; o++) {
    let wv = vec4<i32>(w_at(o, k0), w_at(o, k0 + 1u), w_at(o, k0 + 2u), w_at(o, k0 + 3u));
    for (var i = 0u; i < 4u; i++) {
      acc[i] += g_at(min(b0 + i, B - 1u), o) * wv;
    }
  }
  for (var i = 0u; i < 4u; i++) {
    let b = b0 + i;
    for (var j = 0u; j < 4u; j++) {
      let k = k0 + j;
      if (b < B && k < K) {
        z[b * K + k] = acc[i][j];
      }
    }
  }
}

// out[o, k] = Σ_b g[b, o] · x[b, k]. Threads: KW column words × ceil(O/4) row groups.
@compute @workgroup_size(WG)
fn weight_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = flat_id(gid, nwg);
  if (t >= KW * ((O + 3u) / 4u)) {
    return;
  }
  let o0 = (t / KW) * 4u;
  let kw = t % KW;
  var acc: array<vec4<i32>, 4>;
  for (var b = 0u; b < B; b++) {
    let xv = unpack4xI8(x[b * KW + kw]);
    for (var j = 0u; j < 4u; j++) {
      acc[j] += g_at(b, min(o0 + j, O - 1u)) * xv;
    }
  }
  for (var j = 0u; j < 4u; j++) {
    let o = o0 + j;
    for (var l = 0u; l < 4u; l++) {
      let k = kw * 4u + l;
      if (o < O && k < K) {
        z[o * K + k] = acc[j][l];
      }
    }
  }
}
