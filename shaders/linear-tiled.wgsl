// Workgroup-tiled integer linear layers (docs/algorithm.md §2.2, §4), the GPU-shaped twins of
// linear.wgsl: the forward z = x·wᵀ with the NITRO epilogue, the input gradient g·w (with
// NITRO-ReLU's backward) and the weight gradient gᵀ·x (raw sums, or the IntegerSGD update).
//
// A workgroup of 8 x 8 invocations owns a BM x BN block of the output (BM = 8 TM, BN = 8 TN).
// Along the reduction it stages one step of both operands in workgroup memory, each element
// loaded from storage once per workgroup, and every invocation accumulates its TM x TN register
// tile from there. So each operand is read from storage once per tile of the other, not once
// per invocation: (bytes of a) / BN + (bytes of b) / BM per multiply-add. The *_v4 entry points
// load the operands as vec4 words, for shapes whose rows are whole vec4s (the wrapper picks).
// The forward's dot4 path reads the weights as int8 limb planes made by linear.wgsl's
// pack_weights (same layout, rows O0 .. O1 of one chunk). All arithmetic is i32 and wraps, so
// the bits are those of linear.wgsl and the CPU backend.
// include: int-common.wgsl, nitro.wgsl

@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read> x4: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> w: array<i32>;
@group(0) @binding(3) var<storage, read> w4: array<vec4<i32>>;
@group(0) @binding(4) var<storage, read> wl: array<u32>;
@group(0) @binding(5) var<storage, read> wl4: array<vec4<u32>>;
@group(0) @binding(6) var<storage, read> bias: array<i32>;
@group(0) @binding(7) var<storage, read> g: array<u32>;
@group(0) @binding(8) var<storage, read> g4: array<vec4<u32>>;
@group(0) @binding(9) var<storage, read_write> z: array<i32>;
@group(0) @binding(10) var<storage, read_write> s: array<u32>;
@group(0) @binding(11) var<storage, read_write> a: array<u32>;
@group(0) @binding(12) var<storage, read_write> w_upd: array<i32>;
@group(0) @binding(13) var<storage, read> lr_inv: array<i32>;

struct Dims {
  // x [B, K], w [O, K], g [B, O]; words per packed row of x (KW) and of g or outputs (OW).
  B: u32,
  K: u32,
  O: u32,
  KW: u32,
  OW: u32,
  // Limb planes of rows O0 .. O1 (pack_weights): counts, then planes of LPLANE words from LBASE.
  LBASE: u32,
  LPLANE: u32,
  SF: i32,
  SLOPE_INV: i32,
  CORR: i32,
  O0: u32,
  O1: u32,
  // Forward epilogue: 0 raw int32 sums into z, 1 NITRO-scaled int8 into s, 2 also NITRO-ReLU
  // into a; whether it adds a bias. Gradients: g packed int8 (1) or int32 (0); the input
  // gradient's NITRO-ReLU backward at the saved int8 input bound as x (1); IntegerSGD's
  // amplification and inverse decay. Uniform values, not override constants: one pipeline
  // serves every case (software drivers compile these kernels slowly).
  MODE: u32,
  HAS_BIAS: u32,
  G_PACKED: u32,
  RELU: u32,
  AMP: i32,
  DECAY_INV: i32,
}

@group(0) @binding(14) var<uniform> dm: Dims;

// Register tile (4 or 8 each); the workgroup is 8 x 8 invocations.
override TM: u32 = 4u;
override TN: u32 = 4u;
// Forward: the dot4I8Packed path on the weight limbs (a tile whose weights need more limbs than
// the PLANES kept runs the i32 path).
override DOT4: bool = false;
override PLANES: u32 = 2u;

const WG: u32 = 64u;
const SIDE: u32 = 8u;
// Largest block side (8 TM or 8 TN) and reduction step (elements).
const MAXB: u32 = 64u;
const STEP: u32 = 16u;
const MAXACC: u32 = 64u;
const MAXPLANES: u32 = 2u;

var<private> acc: array<i32, MAXACC>;

// Step operands: packed int8 words of x (forward), or unpacked i32 values.
var<workgroup> pa: array<u32, 256>;
var<workgroup> ia: array<i32, 1024>;
var<workgroup> ib: array<i32, 1024>;
var<workgroup> pl: array<u32, 512>;
var<workgroup> limb_need: array<u32, 64>;

fn bm() -> u32 {
  return SIDE * TM;
}

fn bn() -> u32 {
  return SIDE * TN;
}

// ---------------------------------------------------------------------------------------------
// Forward. Workgroup (row block of BM samples, block of BN outputs of the chunk O0 .. O1); step:
// 4 words (16 inputs) of x's rows and of w's rows. pa[r * 4 + q] = word q of row r's step;
// ib[c * 16 + j] = w[o0 + c, k + j]; pl[(l * 64 + c) * 4 + q] = limb l's word q of row c.

struct FTile {
  b0: u32,
  o0: u32,
  tr: u32,
  tc: u32,
}

fn ftile(lid: u32, wid: vec3<u32>) -> FTile {
  return FTile(wid.x * bm(), dm.O0 + wid.y * bn(), (lid % SIDE) * TM, (lid / SIDE) * TN);
}

// Limbs the block's rows need (1 when the dot4 path is off). Called in uniform control flow.
fn block_limbs(t: FTile, lid: u32) -> u32 {
  if (!DOT4) {
    return 1u;
  }
  var n = 1u;
  let o = t.o0 + lid;
  if (lid < bn() && o < dm.O1) {
    n = wl[o - dm.O0];
  }
  limb_need[lid] = n;
  workgroupBarrier();
  var most = 1u;
  for (var c = 0u; c < bn(); c++) {
    most = max(most, limb_need[c]);
  }
  return most;
}

fn stage_x(t: FTile, lid: u32, kw0: u32) {
  for (var i = lid; i < bm() * 4u; i += WG) {
    let b = t.b0 + i / 4u;
    let kw = kw0 + i % 4u;
    var v = 0u;
    if (b < dm.B && kw < dm.KW) {
      v = x[b * dm.KW + kw];
    }
    pa[i] = v;
  }
}

fn stage_x4(t: FTile, lid: u32, kw0: u32) {
  for (var r = lid; r < bm(); r += WG) {
    let b = t.b0 + r;
    var v = vec4<u32>(0u);
    if (b < dm.B) {
      v = x4[(b * dm.KW + kw0) / 4u];
    }
    pa[r * 4u] = v.x;
    pa[r * 4u + 1u] = v.y;
    pa[r * 4u + 2u] = v.z;
    pa[r * 4u + 3u] = v.w;
  }
}

fn stage_w(t: FTile, lid: u32, kw0: u32) {
  for (var i = lid; i < bn() * STEP; i += WG) {
    let o = t.o0 + i / STEP;
    let k = kw0 * 4u + i % STEP;
    var v = 0;
    if (o < dm.O1 && k < dm.K) {
      v = w[o * dm.K + k];
    }
    ib[i] = v;
  }
}

fn stage_w4(t: FTile, lid: u32, kw0: u32) {
  for (var i = lid; i < bn() * 4u; i += WG) {
    let o = t.o0 + i / 4u;
    var v = vec4<i32>(0);
    if (o < dm.O1) {
      v = w4[o * dm.KW + kw0 + i % 4u];
    }
    let c = i / 4u;
    let j = (i % 4u) * 4u;
    ib[c * STEP + j] = v.x;
    ib[c * STEP + j + 1u] = v.y;
    ib[c * STEP + j + 2u] = v.z;
    ib[c * STEP + j + 3u] = v.w;
  }
}

fn plane_word(l: u32, o: u32, kw: u32) -> u32 {
  return dm.LBASE + l * dm.LPLANE + (o - dm.O0) * dm.KW + kw;
}

fn stage_limbs(t: FTile, lid: u32, kw0: u32, limbs: u32) {
  for (var l = 0u; l < limbs; l++) {
    for (var i = lid; i < bn() * 4u; i += WG) {
      let o = t.o0 + i / 4u;
      let kw = kw0 + i % 4u;
      var v = 0u;
      if (o < dm.O1 && kw < dm.KW) {
        v = wl[plane_word(l, o, kw)];
      }
      pl[l * 256u + i] = v;
    }
  }
}

fn stage_limbs4(t: FTile, lid: u32, kw0: u32, limbs: u32) {
  for (var l = 0u; l < limbs; l++) {
    for (var c = lid; c < bn(); c += WG) {
      let o = t.o0 + c;
      var v = vec4<u32>(0u);
      if (o < dm.O1) {
        v = wl4[plane_word(l, o, kw0) / 4u];
      }
      let i = l * 256u + c * 4u;
      pl[i] = v.x;
      pl[i + 1u] = v.y;
      pl[i + 2u] = v.z;
      pl[i + 3u] = v.w;
    }
  }
}

fn mac_i32(t: FTile) {
  for (var q = 0u; q < 4u; q++) {
    var xv: array<vec4<i32>, 8>;
    for (var m = 0u; m < TM; m++) {
      xv[m] = unpack4xI8(pa[(t.tr + m) * 4u + q]);
    }
    for (var n = 0u; n < TN; n++) {
      let c = (t.tc + n) * STEP + q * 4u;
      let wv = vec4<i32>(ib[c], ib[c + 1u], ib[c + 2u], ib[c + 3u]);
      for (var m = 0u; m < TM; m++) {
        acc[m * TN + n] += dot(xv[m], wv);
      }
    }
  }
}

fn mac_dot4(t: FTile, limbs: u32) {
  for (var q = 0u; q < 4u; q++) {
    var xv: array<u32, 8>;
    for (var m = 0u; m < TM; m++) {
      xv[m] = pa[(t.tr + m) * 4u + q];
    }
    for (var l = 0u; l < limbs; l++) {
      for (var n = 0u; n < TN; n++) {
        let lw = pl[l * 256u + (t.tc + n) * 4u + q];
        for (var m = 0u; m < TM; m++) {
          acc[m * TN + n] += dot4I8Packed(xv[m], lw) << (8u * l);
        }
      }
    }
  }
}

fn store_forward(t: FTile) {
  if (dm.HAS_BIAS != 0u) {
    for (var n = 0u; n < TN; n++) {
      let o = t.o0 + t.tc + n;
      if (o < dm.O1) {
        let bv = bias[o];
        for (var m = 0u; m < TM; m++) {
          acc[m * TN + n] += bv;
        }
      }
    }
  }
  for (var m = 0u; m < TM; m++) {
    let b = t.b0 + t.tr + m;
    if (b < dm.B) {
      if (dm.MODE == 0u) {
        for (var n = 0u; n < TN; n++) {
          let o = t.o0 + t.tc + n;
          if (o < dm.O1) {
            z[b * dm.O + o] = acc[m * TN + n];
          }
        }
      } else {
        for (var q = 0u; q < TN / 4u; q++) {
          let o = t.o0 + t.tc + q * 4u;
          if (o < dm.O1) {
            let i = m * TN + q * 4u;
            let live = vec4<bool>(true, o + 1u < dm.O1, o + 2u < dm.O1, o + 3u < dm.O1);
            let sv = select(vec4<i32>(0), vec4<i32>(nitro_scale(acc[i], dm.SF), nitro_scale(acc[i + 1u], dm.SF), nitro_scale(acc[i + 2u], dm.SF), nitro_scale(acc[i + 3u], dm.SF)), live);
            let word = b * dm.OW + o / 4u;
            s[word] = pack4xI8(sv);
            if (dm.MODE == 2u) {
              let rv = vec4<i32>(nitro_relu_value(sv.x, dm.SLOPE_INV, dm.CORR), nitro_relu_value(sv.y, dm.SLOPE_INV, dm.CORR), nitro_relu_value(sv.z, dm.SLOPE_INV, dm.CORR), nitro_relu_value(sv.w, dm.SLOPE_INV, dm.CORR));
              a[word] = pack4xI8(select(vec4<i32>(0), rv, live));
            }
          }
        }
      }
    }
  }
}

@compute @workgroup_size(WG)
fn forward(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let t = ftile(lid, wid);
  let limbs = block_limbs(t, lid);
  let dot4 = DOT4 && limbs <= PLANES;
  for (var kw0 = 0u; kw0 < dm.KW; kw0 += 4u) {
    stage_x(t, lid, kw0);
    if (dot4) {
      stage_limbs(t, lid, kw0, limbs);
    } else {
      stage_w(t, lid, kw0);
    }
    workgroupBarrier();
    if (dot4) {
      mac_dot4(t, limbs);
    } else {
      mac_i32(t);
    }
    workgroupBarrier();
  }
  store_forward(t);
}

@compute @workgroup_size(WG)
fn forward_v4(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let t = ftile(lid, wid);
  let limbs = block_limbs(t, lid);
  let dot4 = DOT4 && limbs <= PLANES;
  for (var kw0 = 0u; kw0 < dm.KW; kw0 += 4u) {
    stage_x4(t, lid, kw0);
    if (dot4) {
      stage_limbs4(t, lid, kw0, limbs);
    } else {
      stage_w4(t, lid, kw0);
    }
    workgroupBarrier();
    if (dot4) {
      mac_dot4(t, limbs);
    } else {
      mac_i32(t);
    }
    workgroupBarrier();
  }
  store_forward(t);
}

// ---------------------------------------------------------------------------------------------
// Input gradient out[b, k] = Σ_o g[b, o] · w[o, k]. Workgroup (row block of BM samples, block
// of BN inputs); step: 16 outputs. ia[r * 16 + j] = g[b0 + r, o + j];
// ib[j * 64 + c] = w[o + j, k0 + c].

struct GTile {
  r0: u32,
  c0: u32,
  tr: u32,
  tc: u32,
}

fn gtile(lid: u32, wid: vec3<u32>) -> GTile {
  return GTile(wid.x * bm(), wid.y * bn(), (lid % SIDE) * TM, (lid / SIDE) * TN);
}

fn stage_g_rows(t: GTile, lid: u32, o0: u32) {
  if (dm.G_PACKED != 0u) {
    // Four words of each row: 16 int8 lanes.
    for (var i = lid; i < bm() * 4u; i += WG) {
      let b = t.r0 + i / 4u;
      let ow = o0 / 4u + i % 4u;
      var v = vec4<i32>(0);
      if (b < dm.B && ow < dm.OW) {
        v = unpack4xI8(g[b * dm.OW + ow]);
      }
      let j = (i / 4u) * STEP + (i % 4u) * 4u;
      ia[j] = v.x;
      ia[j + 1u] = v.y;
      ia[j + 2u] = v.z;
      ia[j + 3u] = v.w;
    }
  } else {
    for (var i = lid; i < bm() * STEP; i += WG) {
      let b = t.r0 + i / STEP;
      let o = o0 + i % STEP;
      var v = 0;
      if (b < dm.B && o < dm.O) {
        v = bitcast<i32>(g[b * dm.O + o]);
      }
      ia[i] = v;
    }
  }
}

fn stage_g_rows4(t: GTile, lid: u32, o0: u32) {
  if (dm.G_PACKED != 0u) {
    for (var r = lid; r < bm(); r += WG) {
      let b = t.r0 + r;
      var v = vec4<u32>(0u);
      if (b < dm.B) {
        v = g4[(b * dm.OW + o0 / 4u) / 4u];
      }
      for (var q = 0u; q < 4u; q++) {
        let u = unpack4xI8(v[q]);
        let j = r * STEP + q * 4u;
        ia[j] = u.x;
        ia[j + 1u] = u.y;
        ia[j + 2u] = u.z;
        ia[j + 3u] = u.w;
      }
    }
  } else {
    for (var i = lid; i < bm() * 4u; i += WG) {
      let b = t.r0 + i / 4u;
      var v = vec4<u32>(0u);
      if (b < dm.B) {
        v = g4[(b * dm.O + o0) / 4u + i % 4u];
      }
      let j = (i / 4u) * STEP + (i % 4u) * 4u;
      ia[j] = bitcast<i32>(v.x);
      ia[j + 1u] = bitcast<i32>(v.y);
      ia[j + 2u] = bitcast<i32>(v.z);
      ia[j + 3u] = bitcast<i32>(v.w);
    }
  }
}

fn stage_w_cols(t: GTile, lid: u32, o0: u32) {
  for (var i = lid; i < STEP * bn(); i += WG) {
    let o = o0 + i / bn();
    let c = i % bn();
    let k = t.c0 + c;
    var v = 0;
    if (o < dm.O && k < dm.K) {
      v = w[o * dm.K + k];
    }
    ib[(i / bn()) * MAXB + c] = v;
  }
}

fn stage_w_cols4(t: GTile, lid: u32, o0: u32) {
  let per = bn() / 4u;
  for (var i = lid; i < STEP * per; i += WG) {
    let o = o0 + i / per;
    let c = (i % per) * 4u;
    let k = t.c0 + c;
    var v = vec4<i32>(0);
    if (o < dm.O && k < dm.K) {
      v = w4[(o * dm.K + k) / 4u];
    }
    let j = (i / per) * MAXB + c;
    ib[j] = v.x;
    ib[j + 1u] = v.y;
    ib[j + 2u] = v.z;
    ib[j + 3u] = v.w;
  }
}

fn mac_rows_cols(t: GTile) {
  for (var j = 0u; j < STEP; j++) {
    var av: array<i32, 8>;
    for (var m = 0u; m < TM; m++) {
      av[m] = ia[(t.tr + m) * STEP + j];
    }
    for (var n = 0u; n < TN; n++) {
      let bv = ib[j * MAXB + t.tc + n];
      for (var m = 0u; m < TM; m++) {
        acc[m * TN + n] += av[m] * bv;
      }
    }
  }
}

fn store_input_grad(t: GTile) {
  for (var m = 0u; m < TM; m++) {
    let b = t.r0 + t.tr + m;
    if (b < dm.B) {
      for (var q = 0u; q < TN / 4u; q++) {
        let k0 = t.c0 + t.tc + q * 4u;
        if (k0 < dm.K) {
          var xw = 0u;
          if (dm.RELU != 0u) {
            xw = x[b * dm.KW + k0 / 4u];
          }
          for (var l = 0u; l < 4u; l++) {
            let k = k0 + l;
            if (k < dm.K) {
              var v = acc[m * TN + q * 4u + l];
              if (dm.RELU != 0u) {
                v = relu_backward(v, extractBits(bitcast<i32>(xw), l * 8u, 8u), dm.SLOPE_INV);
              }
              z[b * dm.K + k] = v;
            }
          }
        }
      }
    }
  }
}

@compute @workgroup_size(WG)
fn input_grad(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let t = gtile(lid, wid);
  for (var o0 = 0u; o0 < dm.O; o0 += STEP) {
    stage_g_rows(t, lid, o0);
    stage_w_cols(t, lid, o0);
    workgroupBarrier();
    mac_rows_cols(t);
    workgroupBarrier();
  }
  store_input_grad(t);
}

@compute @workgroup_size(WG)
fn input_grad_v4(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let t = gtile(lid, wid);
  for (var o0 = 0u; o0 < dm.O; o0 += STEP) {
    stage_g_rows4(t, lid, o0);
    stage_w_cols4(t, lid, o0);
    workgroupBarrier();
    mac_rows_cols(t);
    workgroupBarrier();
  }
  store_input_grad(t);
}

// ---------------------------------------------------------------------------------------------
// Weight gradient out[o, k] = Σ_b g[b, o] · x[b, k]. Workgroup (block of BM outputs, block of BN
// inputs); step: 16 samples. ia[j * 64 + r] = g[b + j, o0 + r]; ib[j * 64 + c] = x[b + j, k0 + c].

fn stage_g_cols(t: GTile, lid: u32, b0: u32) {
  if (dm.G_PACKED != 0u) {
    let per = bm() / 4u;
    for (var i = lid; i < STEP * per; i += WG) {
      let b = b0 + i / per;
      let ow = t.r0 / 4u + i % per;
      var v = vec4<i32>(0);
      if (b < dm.B && ow < dm.OW) {
        v = unpack4xI8(g[b * dm.OW + ow]);
      }
      let j = (i / per) * MAXB + (i % per) * 4u;
      ia[j] = v.x;
      ia[j + 1u] = v.y;
      ia[j + 2u] = v.z;
      ia[j + 3u] = v.w;
    }
  } else {
    for (var i = lid; i < STEP * bm(); i += WG) {
      let b = b0 + i / bm();
      let o = t.r0 + i % bm();
      var v = 0;
      if (b < dm.B && o < dm.O) {
        v = bitcast<i32>(g[b * dm.O + o]);
      }
      ia[(i / bm()) * MAXB + i % bm()] = v;
    }
  }
}

fn stage_g_cols4(t: GTile, lid: u32, b0: u32) {
  if (dm.G_PACKED != 0u) {
    let per = bm() / 16u;
    for (var i = lid; i < STEP * per; i += WG) {
      let b = b0 + i / per;
      let ow = t.r0 / 4u + (i % per) * 4u;
      var v = vec4<u32>(0u);
      if (b < dm.B && ow < dm.OW) {
        v = g4[(b * dm.OW + ow) / 4u];
      }
      for (var q = 0u; q < 4u; q++) {
        let u = unpack4xI8(v[q]);
        let j = (i / per) * MAXB + (i % per) * 16u + q * 4u;
        ia[j] = u.x;
        ia[j + 1u] = u.y;
        ia[j + 2u] = u.z;
        ia[j + 3u] = u.w;
      }
    }
  } else {
    let per = bm() / 4u;
    for (var i = lid; i < STEP * per; i += WG) {
      let b = b0 + i / per;
      let o = t.r0 + (i % per) * 4u;
      var v = vec4<u32>(0u);
      if (b < dm.B && o < dm.O) {
        v = g4[(b * dm.O + o) / 4u];
      }
      let j = (i / per) * MAXB + (i % per) * 4u;
      ia[j] = bitcast<i32>(v.x);
      ia[j + 1u] = bitcast<i32>(v.y);
      ia[j + 2u] = bitcast<i32>(v.z);
      ia[j + 3u] = bitcast<i32>(v.w);
    }
  }
}

fn stage_x_cols(t: GTile, lid: u32, b0: u32) {
  let per = bn() / 4u;
  for (var i = lid; i < STEP * per; i += WG) {
    let b = b0 + i / per;
    let kw = t.c0 / 4u + i % per;
    var v = vec4<i32>(0);
    if (b < dm.B && kw < dm.KW) {
      v = unpack4xI8(x[b * dm.KW + kw]);
    }
    let j = (i / per) * MAXB + (i % per) * 4u;
    ib[j] = v.x;
    ib[j + 1u] = v.y;
    ib[j + 2u] = v.z;
    ib[j + 3u] = v.w;
  }
}

fn stage_x_cols4(t: GTile, lid: u32, b0: u32) {
  let per = bn() / 16u;
  for (var i = lid; i < STEP * per; i += WG) {
    let b = b0 + i / per;
    let kw = t.c0 / 4u + (i % per) * 4u;
    var v = vec4<u32>(0u);
    if (b < dm.B && kw < dm.KW) {
      v = x4[(b * dm.KW + kw) / 4u];
    }
    for (var q = 0u; q < 4u; q++) {
      let u = unpack4xI8(v[q]);
      let j = (i / per) * MAXB + (i % per) * 16u + q * 4u;
      ib[j] = u.x;
      ib[j + 1u] = u.y;
      ib[j + 2u] = u.z;
      ib[j + 3u] = u.w;
    }
  }
}

fn mac_cols_cols(t: GTile) {
  for (var j = 0u; j < STEP; j++) {
    var av: array<i32, 8>;
    for (var m = 0u; m < TM; m++) {
      av[m] = ia[j * MAXB + t.tr + m];
    }
    for (var n = 0u; n < TN; n++) {
      let bv = ib[j * MAXB + t.tc + n];
      for (var m = 0u; m < TM; m++) {
        acc[m * TN + n] += av[m] * bv;
      }
    }
  }
}

// The sums as raw int32 into z.
fn store_weight_grad(t: GTile) {
  for (var m = 0u; m < TM; m++) {
    let o = t.r0 + t.tr + m;
    for (var n = 0u; n < TN; n++) {
      let k = t.c0 + t.tc + n;
      if (o < dm.O && k < dm.K) {
        z[o * dm.K + k] = acc[m * TN + n];
      }
    }
  }
}

// The sums applied as IntegerSGD (sgd.wgsl) to w_upd in place.
fn update_weights(t: GTile) {
  let lr = lr_inv[0];
  for (var m = 0u; m < TM; m++) {
    let o = t.r0 + t.tr + m;
    for (var n = 0u; n < TN; n++) {
      let k = t.c0 + t.tc + n;
      if (o < dm.O && k < dm.K) {
        let i = o * dm.K + k;
        w_upd[i] = sgd_step(w_upd[i], acc[m * TN + n], dm.AMP, dm.DECAY_INV, lr);
      }
    }
  }
}

fn weight_grad_sums(t: GTile, lid: u32) {
  for (var b0 = 0u; b0 < dm.B; b0 += STEP) {
    stage_g_cols(t, lid, b0);
    stage_x_cols(t, lid, b0);
    workgroupBarrier();
    mac_cols_cols(t);
    workgroupBarrier();
  }
}

fn weight_grad_sums4(t: GTile, lid: u32) {
  for (var b0 = 0u; b0 < dm.B; b0 += STEP) {
    stage_g_cols4(t, lid, b0);
    stage_x_cols4(t, lid, b0);
    workgroupBarrier();
    mac_cols_cols(t);
    workgroupBarrier();
  }
}

@compute @workgroup_size(WG)
fn weight_grad(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let t = gtile(lid, wid);
  weight_grad_sums(t, lid);
  store_weight_grad(t);
}

@compute @workgroup_size(WG)
fn weight_grad_v4(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let t = gtile(lid, wid);
  weight_grad_sums4(t, lid);
  store_weight_grad(t);
}

@compute @workgroup_size(WG)
fn weight_grad_sgd(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let t = gtile(lid, wid);
  weight_grad_sums(t, lid);
  update_weights(t);
}

@compute @workgroup_size(WG)
fn weight_grad_sgd_v4(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let t = gtile(lid, wid);
  weight_grad_sums4(t, lid);
  update_weights(t);
}
