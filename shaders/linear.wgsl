// Integer linear layers (docs/algorithm.md §2.2, §4): z = x·wᵀ (+ bias) with the NITRO scaling and
// NITRO-ReLU epilogue fused into the store, the input gradient g·w and the weight gradient gᵀ·x.
// int8-valued tensors are packed four to a u32 (each row padded to a whole word); all
// arithmetic is i32 and wraps, so any summation order gives the same bits.
//
// Register-blocked GEMMs whose invocations differ along one dimension and agree along the
// other: the operand indexed by the shared dimension is read at one address by the whole
// workgroup, which software adapters (lavapipe, SwiftShader: invocations are SIMD lanes) turn
// into a single scalar load instead of one load per lane. Shapes come in a uniform buffer so
// one pipeline serves every layer; only the register tile (override constants) is unrolled.
// include: int-common.wgsl, nitro.wgsl

@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read> w: array<i32>;
@group(0) @binding(2) var<storage, read> bias: array<i32>;
@group(0) @binding(3) var<storage, read> g: array<u32>;
@group(0) @binding(4) var<storage, read_write> z: array<i32>;
@group(0) @binding(5) var<storage, read_write> s: array<u32>;
@group(0) @binding(6) var<storage, read_write> a: array<u32>;
@group(0) @binding(7) var<storage, read_write> wl_out: array<u32>;
@group(0) @binding(8) var<storage, read> wl: array<u32>;

struct Dims {
  // x [B, K], w [O, K], g [B, O]; words per packed row of x (KW) and of outputs/g (OW).
  B: u32,
  K: u32,
  O: u32,
  KW: u32,
  OW: u32,
  // Packed weights of rows O0 .. O1 (a chunk of w; the forward runs one chunk per dispatch):
  // O1 - O0 limb counts, then limb planes of LPLANE = (O1 - O0) * KW words.
  LBASE: u32,
  LPLANE: u32,
  SF: i32,
  SLOPE_INV: i32,
  CORR: i32,
  O0: u32,
  O1: u32,
}

@group(0) @binding(9) var<uniform> dm: Dims;

override WG: u32 = 64;
override HAS_BIAS: bool = false;
// g is packed int8 (true) or int32 (false).
override G_PACKED: bool = true;
// Register tile: TM rows (forward, input grad: samples) by TN columns (outputs, inputs; a
// multiple of 4 for the forward so the int8 epilogue writes whole words).
override TM: u32 = 1;
override TN: u32 = 8;

// Limb planes pack_weights keeps (1..4): each plane is a quarter of the int32 weights' size.
override PLANES: u32 = 2u;

const MAXM: u32 = 4u;
const MAXACC: u32 = 32u;

fn scaled(v: i32) -> i32 {
  return nitro_scale(v, dm.SF);
}

fn relu(v: i32) -> i32 {
  return nitro_relu_value(v, dm.SLOPE_INV, dm.CORR);
}

fn g_at(b: u32, o: u32) -> i32 {
  if (G_PACKED) {
    return extractBits(bitcast<i32>(g[b * dm.OW + (o >> 2u)]), (o & 3u) * 8u, 8u);
  }
  return bitcast<i32>(g[b * dm.O + o]);
}

// ---------------------------------------------------------------------------------------------
// Forward. Workgroup (row block, output tile of TN); invocation: TM rows. Weights are uniform.

struct FwdTile {
  b0: u32,
  o0: u32,
}

fn fwd_tile(lid: u32, wid: vec3<u32>) -> FwdTile {
  return FwdTile((wid.x * WG + lid) * TM, dm.O0 + wid.y * TN);
}

// Row n of the tile within the packed chunk (clamped to its last row).
fn chunk_row(t: FwdTile, n: u32) -> u32 {
  return min(t.o0 + n, dm.O1 - 1u) - dm.O0;
}

fn row_bases(t: FwdTile) -> array<u32, MAXM> {
  var r: array<u32, MAXM>;
  for (var m = 0u; m < TM; m++) {
    r[m] = min(t.b0 + m, dm.B - 1u) * dm.KW;
  }
  return r;
}

fn forward_i32(t: FwdTile) -> array<i32, MAXACC> {
  var acc: array<i32, MAXACC>;
  let rows = row_bases(t);
  for (var kw = 0u; kw < dm.KW; kw++) {
    var xv: array<vec4<i32>, MAXM>;
    for (var m = 0u; m < TM; m++) {
      xv[m] = unpack4xI8(x[rows[m] + kw]);
    }
    // Lanes of x past K are zero (row padding); the clamped reads stay inside w.
    let k = kw * 4u;
    let kl = dm.K - 1u;
    for (var n = 0u; n < TN; n++) {
      let wb = min(t.o0 + n, dm.O - 1u) * dm.K;
      let wv = vec4<i32>(w[wb + k], w[wb + min(k + 1u, kl)], w[wb + min(k + 2u, kl)], w[wb + min(k + 3u, kl)]);
      for (var m = 0u; m < TM; m++) {
        acc[m * TN + n] += dot(xv[m], wv);
      }
    }
  }
  return acc;
}

// Weights as signed int8 limbs (pack_weights): w = Σ_l limb_l 2^(8l) (mod 2^32), so
// Σ x·w = Σ_l (Σ x·limb_l) << 8l exactly; each inner sum is a run of dot4I8Packed on x's
// packed words. The tile runs as many limbs as its rows need (counted on the GPU); a tile
// whose weights need more limbs than the PLANES kept runs the i32 path on w instead.
fn tile_limbs(t: FwdTile) -> u32 {
  var limbs = 1u;
  for (var n = 0u; n < TN; n++) {
    limbs = max(limbs, wl[chunk_row(t, n)]);
  }
  return limbs;
}

fn forward_dot4(t: FwdTile, limbs: u32) -> array<i32, MAXACC> {
  var acc: array<i32, MAXACC>;
  let rows = row_bases(t);
  for (var l = 0u; l < limbs; l++) {
    let shift = 8u * l;
    let plane = dm.LBASE + l * dm.LPLANE;
    for (var kw = 0u; kw < dm.KW; kw++) {
      var xv: array<u32, MAXM>;
      for (var m = 0u; m < TM; m++) {
        xv[m] = x[rows[m] + kw];
      }
      for (var n = 0u; n < TN; n++) {
        let lw = wl[plane + chunk_row(t, n) * dm.KW + kw];
        for (var m = 0u; m < TM; m++) {
          acc[m * TN + n] += dot4I8Packed(xv[m], lw) << shift;
        }
      }
    }
  }
  return acc;
}

fn forward_limbs(t: FwdTile) -> array<i32, MAXACC> {
  let limbs = tile_limbs(t);
  if (limbs > PLANES) {
    return forward_i32(t);
  }
  return forward_dot4(t, limbs);
}

fn add_bias(t: FwdTile, acc_in: array<i32, MAXACC>) -> array<i32, MAXACC> {
  var acc = acc_in;
  if (HAS_BIAS) {
    for (var n = 0u; n < TN; n++) {
      let bv = bias[min(t.o0 + n, dm.O - 1u)];
      for (var m = 0u; m < TM; m++) {
        acc[m * TN + n] += bv;
      }
    }
  }
  return acc;
}

// mode 0: raw z; 1: scaled; 2: scaled + NITRO-ReLU.
fn store_forward(t: FwdTile, acc_in: array<i32, MAXACC>, mode: u32) {
  let acc = add_bias(t, acc_in);
  for (var m = 0u; m < TM; m++) {
    let b = t.b0 + m;
    if (b < dm.B) {
      if (mode == 0u) {
        for (var n = 0u; n < TN; n++) {
          let o = t.o0 + n;
          if (o < dm.O) {
            z[b * dm.O + o] = acc[m * TN + n];
          }
        }
      } else {
        for (var q = 0u; q < TN / 4u; q++) {
          let o = t.o0 + q * 4u;
          if (o < dm.O) {
            let i = m * TN + q * 4u;
            let live = vec4<bool>(true, o + 1u < dm.O, o + 2u < dm.O, o + 3u < dm.O);
            let sv = select(vec4<i32>(0), vec4<i32>(scaled(acc[i]), scaled(acc[i + 1u]), scaled(acc[i + 2u]), scaled(acc[i + 3u])), live);
            let word = b * dm.OW + o / 4u;
            s[word] = pack4xI8(sv);
            if (mode == 2u) {
              a[word] = pack4xI8(select(vec4<i32>(0), vec4<i32>(relu(sv.x), relu(sv.y), relu(sv.z), relu(sv.w)), live));
            }
          }
        }
      }
    }
  }
}

fn fwd_live(t: FwdTile) -> bool {
  return t.b0 < dm.B;
}

@compute @workgroup_size(WG)
fn forward_raw(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let t = fwd_tile(lid, wid);
  if (fwd_live(t)) {
    store_forward(t, forward_i32(t), 0u);
  }
}

@compute @workgroup_size(WG)
fn forward_scaled(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let t = fwd_tile(lid, wid);
  if (fwd_live(t)) {
    store_forward(t, forward_i32(t), 1u);
  }
}

@compute @workgroup_size(WG)
fn forward_relu(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let t = fwd_tile(lid, wid);
  if (fwd_live(t)) {
    store_forward(t, forward_i32(t), 2u);
  }
}

@compute @workgroup_size(WG)
fn forward_raw_limbs(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let t = fwd_tile(lid, wid);
  if (fwd_live(t)) {
    store_forward(t, forward_limbs(t), 0u);
  }
}

@compute @workgroup_size(WG)
fn forward_scaled_limbs(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let t = fwd_tile(lid, wid);
  if (fwd_live(t)) {
    store_forward(t, forward_limbs(t), 1u);
  }
}

@compute @workgroup_size(WG)
fn forward_relu_limbs(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let t = fwd_tile(lid, wid);
  if (fwd_live(t)) {
    store_forward(t, forward_limbs(t), 2u);
  }
}

// ---------------------------------------------------------------------------------------------
// Weight limbs of rows O0 .. O1: wl[r] = limbs row O0 + r needs (1..4), then limb plane l < PLANES
// at LBASE + l * LPLANE with word r * KW + kw = limb l of w[O0 + r, 4kw .. 4kw+3] (zero past K).
// One thread per row.

@compute @workgroup_size(WG)
fn pack_weights(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * WG;
  let o = dm.O0 + r;
  if (o >= dm.O1) {
    return;
  }
  var need = 1u;
  for (var kw = 0u; kw < dm.KW; kw++) {
    var words = vec4<u32>(0u);
    for (var j = 0u; j < 4u; j++) {
      let k = kw * 4u + j;
      if (k < dm.K) {
        let v = w[o * dm.K + k];
        need = max(need, limb_count(v));
        words |= (bitcast<vec4<u32>>(limbs_of(v)) & vec4<u32>(0xffu)) << vec4<u32>(j * 8u);
      }
    }
    for (var l = 0u; l < PLANES; l++) {
      wl_out[dm.LBASE + l * dm.LPLANE + r * dm.KW + kw] = words[l];
    }
  }
  wl_out[r] = need;
}

// ---------------------------------------------------------------------------------------------
// Input gradient out[b, k] = Σ_o g[b, o] · w[o, k]. Workgroup (row block, column tile of TN);
// invocation: TM rows. w is uniform. With RELU, NITRO-ReLU's backward (nitro.wgsl) at the
// saved int8 input, bound as x, is applied in the store.

override RELU: bool = false;

@compute @workgroup_size(WG)
fn input_grad(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let b0 = (wid.x * WG + lid) * TM;
  let k0 = wid.y * TN;
  if (b0 >= dm.B) {
    return;
  }
  var acc: array<i32, MAXACC>;
  for (var o = 0u; o < dm.O; o++) {
    var gv: array<i32, MAXM>;
    for (var m = 0u; m < TM; m++) {
      gv[m] = g_at(min(b0 + m, dm.B - 1u), o);
    }
    let wb = o * dm.K;
    for (var n = 0u; n < TN; n++) {
      let wv = w[wb + min(k0 + n, dm.K - 1u)];
      for (var m = 0u; m < TM; m++) {
        acc[m * TN + n] += gv[m] * wv;
      }
    }
  }
  for (var m = 0u; m < TM; m++) {
    let b = b0 + m;
    for (var n = 0u; n < TN; n++) {
      let k = k0 + n;
      if (b < dm.B && k < dm.K) {
        var v = acc[m * TN + n];
        if (RELU) {
          v = relu_backward(v, extractBits(bitcast<i32>(x[b * dm.KW + k / 4u]), (k % 4u) * 8u, 8u), dm.SLOPE_INV);
        }
        z[b * dm.K + k] = v;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Weight gradient out[o, k] = Σ_b g[b, o] · x[b, k]. Workgroup (column-word block, output tile
// of TN); invocation: one word of x (four columns). g is uniform. Each invocation owns whole
// sums, so weight_grad_sgd applies IntegerSGD (sgd.wgsl) to w_upd from them instead of storing.

@group(0) @binding(10) var<storage, read_write> w_upd: array<i32>;
@group(0) @binding(11) var<storage, read> lr_inv: array<i32>;

override AMP: i32 = 1;
override DECAY_INV: i32 = 0;

fn weight_grad_sums(kw: u32, o0: u32) -> array<vec4<i32>, 8> {
  var acc: array<vec4<i32>, 8>;
  for (var b = 0u; b < dm.B; b++) {
    let xv = unpack4xI8(x[b * dm.KW + kw]);
    for (var n = 0u; n < TN; n++) {
      acc[n] += g_at(b, min(o0 + n, dm.O - 1u)) * xv;
    }
  }
  return acc;
}

@compute @workgroup_size(WG)
fn weight_grad(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let kw = wid.x * WG + lid;
  let o0 = wid.y * TN;
  if (kw >= dm.KW) {
    return;
  }
  let acc = weight_grad_sums(kw, o0);
  for (var n = 0u; n < TN; n++) {
    let o = o0 + n;
    for (var l = 0u; l < 4u; l++) {
      let k = kw * 4u + l;
      if (o < dm.O && k < dm.K) {
        z[o * dm.K + k] = acc[n][l];
      }
    }
  }
}

@compute @workgroup_size(WG)
fn weight_grad_sgd(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let kw = wid.x * WG + lid;
  let o0 = wid.y * TN;
  if (kw >= dm.KW) {
    return;
  }
  let acc = weight_grad_sums(kw, o0);
  let lr = lr_inv[0];
  for (var n = 0u; n < TN; n++) {
    let o = o0 + n;
    for (var l = 0u; l < 4u; l++) {
      let k = kw * 4u + l;
      if (o < dm.O && k < dm.K) {
        let i = o * dm.K + k;
        w_upd[i] = sgd_step(w_upd[i], acc[n][l], AMP, DECAY_INV, lr);
      }
    }
  }
}
