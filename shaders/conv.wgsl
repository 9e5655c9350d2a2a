// Stride-1 zero-padded integer convolution (cross-correlation, docs/algorithm.md §2.2) with the NITRO
// scaling and NITRO-ReLU epilogue, and its weight gradient (§4.4.5), as implicit GEMMs.
// x [B, C, H, W] is packed int8 (each sample a row padded to a whole word); weights, the raw
// output and the gradients are i32; all arithmetic wraps (so any summation order is exact).
//
// Both GEMMs read the input through `xp`, a copy made by `pack_input`: zero-padded, channels
// innermost and four channels to a word, xp[b, hp, wp, cw] (HP = H + 2 PAD, WP = W + 2 PAD,
// CW = ceil(C / 4) words). One word then feeds four multiply-adds (or one dot4I8Packed), and
// padding needs no tests in the inner loops.
//
// Work split: the invocations of a workgroup differ along one GEMM dimension and agree along
// the other, so one operand's addresses are the same for every invocation of the workgroup.
// Software adapters (lavapipe, SwiftShader) run invocations as SIMD lanes and turn such
// uniform loads into one scalar load, while per-invocation addresses cost one load per lane.
// include: int-common.wgsl, nitro.wgsl

@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read> w: array<i32>;
@group(0) @binding(2) var<storage, read> bias: array<i32>;
@group(0) @binding(3) var<storage, read> delta: array<i32>;
@group(0) @binding(4) var<storage, read_write> z: array<i32>;
@group(0) @binding(5) var<storage, read_write> s: array<u32>;
@group(0) @binding(6) var<storage, read_write> a: array<u32>;
@group(0) @binding(7) var<storage, read_write> xp_out: array<u32>;
@group(0) @binding(8) var<storage, read> xp: array<u32>;
@group(0) @binding(9) var<storage, read_write> wl_out: array<u32>;
@group(0) @binding(10) var<storage, read> wl: array<u32>;
@group(0) @binding(11) var<storage, read> zin: array<i32>;

// Shapes and epilogue constants come in a uniform buffer, so one pipeline serves every layer
// and the loops over taps and channels stay loops (software drivers compile fully unrolled
// bodies very slowly); only the register tile (override constants) is unrolled.
struct Dims {
  B: u32,
  C: u32,
  H: u32,
  W: u32,
  F: u32,
  KS: u32,
  PAD: u32,
  HO: u32,
  WO: u32,
  // Words per packed sample of x and of the output.
  XW: u32,
  OUTW: u32,
  // Padded, channel-packed input geometry.
  HP: u32,
  WP: u32,
  CW: u32,
  // Packed weights of filters F0 .. F1 (a chunk; the forward runs one chunk per dispatch): their
  // limb counts, then limb planes of LPLANE = (F1 - F0) * KS * KS * CW words.
  LBASE: u32,
  LPLANE: u32,
  SF: i32,
  SLOPE_INV: i32,
  CORR: i32,
  F0: u32,
  F1: u32,
  // Sparse weight gradient (filters F0 .. F1): their entry counts, then a list of ECAP entries per
  // filter from word EBASE.
  EBASE: u32,
  ECAP: u32,
  // The tiled kernels take these cases as values, not override constants, so one pipeline
  // serves them all (each compiles slowly on software drivers): the forward's fused epilogue
  // and bias, the fused IntegerSGD's amplification and decay.
  T_FUSED: u32,
  T_BIAS: u32,
  T_AMP: i32,
  T_DECAY_INV: i32,
}

@group(0) @binding(12) var<uniform> dm: Dims;

override WG: u32 = 64;
override HAS_BIAS: bool = false;
// Register tile of one invocation: TF filters by TP consecutive output pixels (forward), or TF
// filters by the four channels of one word at one tap (weight gradient).
override TF: u32 = 4;
override TP: u32 = 4;
// Forward: write the packed int8 epilogue directly (needs TP == 4 and HO*WO % 4 == 0), else z.
override FUSED: bool = false;

// Limb planes pack_weights keeps (1..4): each plane is a quarter of the int32 weights' size.
override PLANES: u32 = 2u;

const MAXF: u32 = 8u;
const MAXP: u32 = 4u;
const MAXACC: u32 = 32u;

fn scaled(v: i32) -> i32 {
  return nitro_scale(v, dm.SF);
}

fn relu(v: i32) -> i32 {
  return nitro_relu_value(v, dm.SLOPE_INV, dm.CORR);
}

fn x_byte(b: u32, c: u32, h: u32, ww: u32) -> u32 {
  let idx = (c * dm.H + h) * dm.W + ww;
  return extractBits(x[b * dm.XW + (idx >> 2u)], (idx & 3u) * 8u, 8u);
}

// One thread per word of xp: four channels of one padded pixel.
@compute @workgroup_size(WG)
fn pack_input(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * WG;
  if (t >= dm.B * dm.HP * dm.WP * dm.CW) {
    return;
  }
  let cw = t % dm.CW;
  let pix = t / dm.CW;
  let wp = pix % dm.WP;
  let hp = (pix / dm.WP) % dm.HP;
  let b = pix / (dm.WP * dm.HP);
  var word = 0u;
  if (hp >= dm.PAD && hp < dm.H + dm.PAD && wp >= dm.PAD && wp < dm.W + dm.PAD) {
    for (var l = 0u; l < 4u; l++) {
      let c = cw * 4u + l;
      if (c < dm.C) {
        word |= x_byte(b, c, hp - dm.PAD, wp - dm.PAD) << (l * 8u);
      }
    }
  }
  xp_out[t] = word;
}

// ---------------------------------------------------------------------------------------------
// Forward. Workgroup (pixel block, filter tile, sample); invocation: TP consecutive pixels of
// the flattened HO x WO plane. Filters are uniform across the workgroup.

struct FwdTile {
  b: u32,
  f0: u32,
  p0: u32,
}

fn fwd_tile(lid: u32, wid: vec3<u32>) -> FwdTile {
  return FwdTile(wid.z, dm.F0 + wid.y * TF, (wid.x * WG + lid) * TP);
}

// Filter f of the tile within the packed chunk (clamped to its last filter).
fn chunk_filter(t: FwdTile, f: u32) -> u32 {
  return min(t.f0 + f, dm.F1 - 1u) - dm.F0;
}

// xp index of the top-left tap of each pixel of the tile (pixels past the plane repeat the last).
fn pixel_bases(t: FwdTile) -> array<u32, MAXP> {
  var base: array<u32, MAXP>;
  for (var p = 0u; p < TP; p++) {
    let q = min(t.p0 + p, dm.HO * dm.WO - 1u);
    base[p] = ((t.b * dm.HP + q / dm.WO) * dm.WP + q % dm.WO) * dm.CW;
  }
  return base;
}

fn forward_i32(t: FwdTile) -> array<i32, MAXACC> {
  var acc: array<i32, MAXACC>;
  let base = pixel_bases(t);
  let kk = dm.KS * dm.KS;
  for (var u = 0u; u < dm.KS; u++) {
    for (var v = 0u; v < dm.KS; v++) {
      let off = (u * dm.WP + v) * dm.CW;
      for (var cw = 0u; cw < dm.CW; cw++) {
        var xv: array<vec4<i32>, MAXP>;
        for (var p = 0u; p < TP; p++) {
          xv[p] = unpack4xI8(xp[base[p] + off + cw]);
        }
        let c0 = cw * 4u;
        for (var f = 0u; f < TF; f++) {
          // Channels past C meet zero lanes of xp; clamping keeps the weight reads in bounds.
          let wb = min(t.f0 + f, dm.F - 1u) * dm.C * kk + u * dm.KS + v;
          let wv = vec4<i32>(
            w[wb + min(c0, dm.C - 1u) * kk],
            w[wb + min(c0 + 1u, dm.C - 1u) * kk],
            w[wb + min(c0 + 2u, dm.C - 1u) * kk],
            w[wb + min(c0 + 3u, dm.C - 1u) * kk],
          );
          for (var p = 0u; p < TP; p++) {
            acc[f * TP + p] += dot(xv[p], wv);
          }
        }
      }
    }
  }
  return acc;
}

// Same sums with the weights split into signed int8 limbs (pack_weights): w = Σ_l limb_l 2^(8l)
// (mod 2^32), so Σ x·w = Σ_l (Σ x·limb_l) << 8l exactly, and each Σ x·limb_l is a run of
// dot4I8Packed. The tile runs as many limbs as its filters need (counts made on the GPU from
// the current weights), so the result stays exact for any weight; a tile that needs more limbs
// than the PLANES kept runs the i32 path on w instead.
fn tile_limbs(t: FwdTile) -> u32 {
  var limbs = 1u;
  for (var f = 0u; f < TF; f++) {
    limbs = max(limbs, wl[chunk_filter(t, f)]);
  }
  return limbs;
}

fn forward_dot4(t: FwdTile, limbs: u32) -> array<i32, MAXACC> {
  var acc: array<i32, MAXACC>;
  let base = pixel_bases(t);
  for (var l = 0u; l < limbs; l++) {
    let shift = 8u * l;
    let plane = dm.LBASE + l * dm.LPLANE;
    for (var u = 0u; u < dm.KS; u++) {
      for (var v = 0u; v < dm.KS; v++) {
        let off = (u * dm.WP + v) * dm.CW;
        for (var cw = 0u; cw < dm.CW; cw++) {
          var xv: array<u32, MAXP>;
          for (var p = 0u; p < TP; p++) {
            xv[p] = xp[base[p] + off + cw];
          }
          for (var f = 0u; f < TF; f++) {
            let lw = wl[plane + ((chunk_filter(t, f) * dm.KS + u) * dm.KS + v) * dm.CW + cw];
            for (var p = 0u; p < TP; p++) {
              acc[f * TP + p] += dot4I8Packed(xv[p], lw) << shift;
            }
          }
        }
      }
    }
  }
  return acc;
}

fn store_forward(t: FwdTile, acc_in: array<i32, MAXACC>) {
  var acc = acc_in;
  let hw = dm.HO * dm.WO;
  for (var f = 0u; f < TF; f++) {
    let fi = t.f0 + f;
    if (fi < dm.F) {
      let bv = select(0, bias[fi], HAS_BIAS);
      let row = (t.b * dm.F + fi) * hw;
      if (FUSED) {
        let sv = vec4<i32>(scaled(acc[f * 4u] + bv), scaled(acc[f * 4u + 1u] + bv), scaled(acc[f * 4u + 2u] + bv), scaled(acc[f * 4u + 3u] + bv));
        let word = (row + t.p0) / 4u;
        s[word] = pack4xI8(sv);
        a[word] = pack4xI8(vec4<i32>(relu(sv.x), relu(sv.y), relu(sv.z), relu(sv.w)));
      } else {
        for (var p = 0u; p < TP; p++) {
          if (t.p0 + p < hw) {
            z[row + t.p0 + p] = acc[f * TP + p] + bv;
          }
        }
      }
    }
  }
}

fn fwd_live(t: FwdTile) -> bool {
  return t.p0 < dm.HO * dm.WO;
}

@compute @workgroup_size(WG)
fn forward(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let t = fwd_tile(lid, wid);
  if (!fwd_live(t)) {
    return;
  }
  store_forward(t, forward_i32(t));
}

@compute @workgroup_size(WG)
fn forward_limbs(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let t = fwd_tile(lid, wid);
  if (!fwd_live(t)) {
    return;
  }
  let limbs = tile_limbs(t);
  if (limbs > PLANES) {
    store_forward(t, forward_i32(t));
  } else {
    store_forward(t, forward_dot4(t, limbs));
  }
}

// The epilogue alone, from the raw sums in zin: one thread per packed output word, for maps
// whose HO*WO is not a multiple of four (a word then spans two filters) or other tiles.

fn sample_word(t: u32) -> vec4<i32> {
  let b = t / dm.OUTW;
  let p0 = (t % dm.OUTW) * 4u;
  let per = dm.F * dm.HO * dm.WO;
  var v = vec4<i32>(0);
  for (var l = 0u; l < 4u; l++) {
    if (p0 + l < per) {
      v[l] = scaled(zin[b * per + p0 + l]);
    }
  }
  return v;
}

@compute @workgroup_size(WG)
fn epilogue_scaled(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * WG;
  if (t >= dm.B * dm.OUTW) {
    return;
  }
  s[t] = pack4xI8(sample_word(t));
}

@compute @workgroup_size(WG)
fn epilogue_relu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * WG;
  if (t >= dm.B * dm.OUTW) {
    return;
  }
  let sv = sample_word(t);
  let b = t / dm.OUTW;
  let p0 = (t % dm.OUTW) * 4u;
  let per = dm.F * dm.HO * dm.WO;
  let live = vec4<bool>(p0 < per, p0 + 1u < per, p0 + 2u < per, p0 + 3u < per);
  s[t] = pack4xI8(sv);
  a[t] = pack4xI8(select(vec4<i32>(0), vec4<i32>(relu(sv.x), relu(sv.y), relu(sv.z), relu(sv.w)), live));
}

// ---------------------------------------------------------------------------------------------
// Weights of filters F0 .. F1 as signed int8 limbs: wl[r] = limbs filter F0 + r needs (1..4), then
// limb plane l < PLANES at LBASE + l * LPLANE holding word ((r * KS + u) * KS + v) * CW + cw =
// four channels' limb l. One thread per filter.

@compute @workgroup_size(WG)
fn pack_weights(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * WG;
  let f = dm.F0 + r;
  if (f >= dm.F1) {
    return;
  }
  let kk = dm.KS * dm.KS;
  var need = 1u;
  for (var uv = 0u; uv < kk; uv++) {
    for (var cw = 0u; cw < dm.CW; cw++) {
      var words = vec4<u32>(0u);
      for (var l = 0u; l < 4u; l++) {
        let c = cw * 4u + l;
        if (c < dm.C) {
          let v = w[(f * dm.C + c) * kk + uv];
          need = max(need, limb_count(v));
          let d = bitcast<vec4<u32>>(limbs_of(v)) & vec4<u32>(0xffu);
          words |= d << vec4<u32>(l * 8u);
        }
      }
      let idx = (r * kk + uv) * dm.CW + cw;
      for (var l = 0u; l < PLANES; l++) {
        wl_out[dm.LBASE + l * dm.LPLANE + idx] = words[l];
      }
    }
  }
  wl_out[r] = need;
}

// ---------------------------------------------------------------------------------------------
// Weight gradient dW[f, c, u, v] = Σ_b Σ_i Σ_j delta[b, f, i, j] · xpad[b, c, i + u, j + v].
// Workgroup (column block, filter tile); invocation: one xp word (four channels) at one tap,
// TF filters. delta is uniform across the workgroup.

@group(0) @binding(13) var<storage, read_write> w_upd: array<i32>;
@group(0) @binding(14) var<storage, read> lr_inv: array<i32>;
@group(0) @binding(15) var<storage, read_write> dl_out: array<u32>;
@group(0) @binding(16) var<storage, read> dl: array<u32>;

override AMP: i32 = 1;
override DECAY_INV: i32 = 0;
// Sum over the listed non-zero pixels of delta where a tile allows it (below); dl and dv bound.
override SPARSE: bool = false;

struct WgradTile {
  cw: u32,
  uv: u32,
  f0: u32,
}

fn weight_grad_sums(t: WgradTile) -> array<vec4<i32>, MAXF> {
  let u = t.uv / dm.KS;
  let v = t.uv % dm.KS;
  var acc: array<vec4<i32>, MAXF>;
  let hw = dm.HO * dm.WO;
  for (var b = 0u; b < dm.B; b++) {
    for (var i = 0u; i < dm.HO; i++) {
      let xrow = ((b * dm.HP + i + u) * dm.WP + v) * dm.CW + t.cw;
      for (var j = 0u; j < dm.WO; j++) {
        let xv = unpack4xI8(xp[xrow + j * dm.CW]);
        let d0 = b * dm.F * hw + i * dm.WO + j;
        for (var f = 0u; f < TF; f++) {
          acc[f] += delta[d0 + min(t.f0 + f, dm.F - 1u) * hw] * xv;
        }
      }
    }
  }
  return acc;
}

fn wgrad_tile(lid: u32, wid: vec3<u32>) -> WgradTile {
  let col = wid.x * WG + lid;
  return WgradTile(col % dm.CW, col / dm.CW, dm.F0 + wid.y * TF);
}

fn wgrad_live(lid: u32, wid: vec3<u32>) -> bool {
  return wid.x * WG + lid < dm.KS * dm.KS * dm.CW;
}

// Stores the sums of filter fi (four channels) into z.
fn store_wgrad(t: WgradTile, fi: u32, acc: vec4<i32>) {
  let kk = dm.KS * dm.KS;
  for (var l = 0u; l < 4u; l++) {
    let c = t.cw * 4u + l;
    if (c < dm.C) {
      z[(fi * dm.C + c) * kk + t.uv] = acc[l];
    }
  }
}

// Applies the sums of filter fi as IntegerSGD (sgd.wgsl) to w_upd in place instead.
fn sgd_wgrad(t: WgradTile, fi: u32, acc: vec4<i32>) {
  let kk = dm.KS * dm.KS;
  let lr = lr_inv[0];
  for (var l = 0u; l < 4u; l++) {
    let c = t.cw * 4u + l;
    if (c < dm.C) {
      let i = (fi * dm.C + c) * kk + t.uv;
      w_upd[i] = sgd_step(w_upd[i], acc[l], AMP, DECAY_INV, lr);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Sparse weight gradient. In NITRO-D the delta of a conv layer comes through its head's max
// pooling backward, which keeps one pixel per pooling window (8x8 to 2x1 windows in VGG8B), and
// the NITRO-ReLU backward truncates more to zero: most of delta is zero. Zero products add
// nothing, so summing over the non-zero pixels only gives the same bits with a fraction of the
// work. `pack_delta` lists them; a tile whose filters are dense runs the dense loop instead.
//
// The lists cover the filters F0 .. F1 of one dispatch (the weight gradient runs in chunks of
// filters so they stay small). dl: dl[r] = how many non-zero pixels filter F0 + r has in delta
// (over the batch), then from EBASE that filter's list of up to ECAP entries (a quarter of its
// B * HO * WO pixels): the xp index of each pixel's top-left tap (tap and word offsets are added
// by the reader), in scan order; dv holds the matching delta values at the same places (minus
// EBASE). A filter with more non-zero pixels than ECAP keeps its count and lists only the first
// ECAP: its tile runs dense.
@group(0) @binding(17) var<storage, read_write> dv_out: array<i32>;
@group(0) @binding(18) var<storage, read> dv: array<i32>;

// One thread per filter.
@compute @workgroup_size(WG)
fn pack_delta(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * WG;
  let f = dm.F0 + r;
  if (f >= dm.F1) {
    return;
  }
  let hw = dm.HO * dm.WO;
  let e0 = r * dm.ECAP;
  var n = 0u;
  for (var b = 0u; b < dm.B; b++) {
    let plane = (b * dm.F + f) * hw;
    for (var i = 0u; i < dm.HO; i++) {
      for (var j = 0u; j < dm.WO; j++) {
        let d = delta[plane + i * dm.WO + j];
        if (d != 0) {
          if (n < dm.ECAP) {
            dl_out[dm.EBASE + e0 + n] = ((b * dm.HP + i) * dm.WP + j) * dm.CW;
            dv_out[e0 + n] = d;
          }
          n++;
        }
      }
    }
  }
  dl_out[r] = n;
}

// A tile runs the listed pixels when every filter of it has all of them listed (at most a
// quarter of its pixels non-zero; past that the dense loop is as fast, since a listed pixel
// costs more than a pixel of the dense loop; results/HISTORY.md has the timings).
fn tile_is_sparse(t: WgradTile) -> bool {
  var most = 0u;
  for (var f = 0u; f < TF; f++) {
    most = max(most, dl[min(t.f0 + f, dm.F1 - 1u) - dm.F0]);
  }
  return most <= dm.ECAP;
}

// Σ over the listed (non-zero) pixels of filter fi for the invocation's word and tap.
fn sparse_sums(t: WgradTile, fi: u32) -> vec4<i32> {
  let tap = ((t.uv / dm.KS) * dm.WP + t.uv % dm.KS) * dm.CW + t.cw;
  let e0 = (fi - dm.F0) * dm.ECAP;
  let n = dl[fi - dm.F0];
  var acc = vec4<i32>(0);
  for (var k = 0u; k < n; k++) {
    acc += dv[e0 + k] * unpack4xI8(xp[dl[dm.EBASE + e0 + k] + tap]);
  }
  return acc;
}

// The tile's sums: over the listed pixels when the sparse path is on (SPARSE, with pack_delta's
// lists bound) and the tile is sparse, else the dense loop.
fn tile_sums(t: WgradTile) -> array<vec4<i32>, MAXF> {
  if (!SPARSE || !tile_is_sparse(t)) {
    return weight_grad_sums(t);
  }
  var acc: array<vec4<i32>, MAXF>;
  for (var f = 0u; f < TF; f++) {
    if (t.f0 + f < dm.F1) {
      acc[f] = sparse_sums(t, t.f0 + f);
    }
  }
  return acc;
}

@compute @workgroup_size(WG)
fn weight_grad(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  if (!wgrad_live(lid, wid)) {
    return;
  }
  let t = wgrad_tile(lid, wid);
  let acc = tile_sums(t);
  for (var f = 0u; f < TF; f++) {
    if (t.f0 + f < dm.F1) {
      store_wgrad(t, t.f0 + f, acc[f]);
    }
  }
}

@compute @workgroup_size(WG)
fn weight_grad_sgd(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  if (!wgrad_live(lid, wid)) {
    return;
  }
  let t = wgrad_tile(lid, wid);
  let acc = tile_sums(t);
  for (var f = 0u; f < TF; f++) {
    if (t.f0 + f < dm.F1) {
      sgd_wgrad(t, t.f0 + f, acc[f]);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Bias gradient db[f] = Σ_b Σ_i Σ_j delta[b, f, i, j] (i32, wrapping). One workgroup per filter
// (filter F0 + workgroup x): each invocation sums a strided share of the filter's B * HO * WO
// pixels, then the workgroup adds its partial sums in a tree.

const BIAS_WG: u32 = 64u;
var<workgroup> bias_part: array<i32, BIAS_WG>;

fn bias_sum(lid: u32, f: u32) -> i32 {
  let hw = dm.HO * dm.WO;
  var acc = 0;
  for (var b = 0u; b < dm.B; b++) {
    let base = (b * dm.F + f) * hw;
    for (var p = lid; p < hw; p += BIAS_WG) {
      acc += delta[base + p];
    }
  }
  bias_part[lid] = acc;
  workgroupBarrier();
  for (var step = BIAS_WG / 2u; step > 0u; step /= 2u) {
    if (lid < step) {
      bias_part[lid] += bias_part[lid + step];
    }
    workgroupBarrier();
  }
  return bias_part[0];
}

@compute @workgroup_size(BIAS_WG)
fn bias_grad(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let f = dm.F0 + wid.x;
  let sum = bias_sum(lid, f);
  if (lid == 0u) {
    z[f] = sum;
  }
}

// The same sums applied as IntegerSGD (sgd.wgsl) to the bias w_upd in place.
@compute @workgroup_size(BIAS_WG)
fn bias_grad_sgd(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let f = dm.F0 + wid.x;
  let sum = bias_sum(lid, f);
  if (lid == 0u) {
    w_upd[f] = sgd_step(w_upd[f], sum, AMP, DECAY_INV, lr_inv[0]);
  }
}

// ---------------------------------------------------------------------------------------------
// Tiled implicit GEMMs for GPUs (variants "bm..-bn.." of the forward, "bf64-bk64" of the weight
// gradient). The kernels above stage nothing and leave reuse to the SIMD lanes of software
// adapters; on a GPU each invocation would then fetch its operands from storage alone. Here a
// workgroup stages a slab of both operands in workgroup memory once, and every invocation
// accumulates a register tile from there, so each byte read from storage feeds a whole row or
// column of the workgroup's tile (the storage bytes per multiply-add of each variant are in
// src/ops/conv/gpu.ts). K runs over KS * KS * CW words, tap-major with four channels a word,
// so layers with few channels waste no slab on padding. Input and limb words come as vec4<u32>
// loads from xp4 and wl4 (the buffers of xp and wl) where four K words are one aligned run (CW,
// or KS * KS * CW for the limbs, a multiple of 4), else word by word from xp and wl. Each barrier sits in uniform control flow: loop bounds come from the
// uniform, per-tile counts through workgroupUniformLoad.

@group(0) @binding(19) var<storage, read> xp4: array<vec4<u32>>;
@group(0) @binding(20) var<storage, read> wl4: array<vec4<u32>>;

// Forward tile: BM output pixels (flattened over the batch, so small maps fill tiles and the
// batch need not divide them) by BN filters, K in slabs of TKW words; TWG = BM * BN / 16
// invocations, each 4 consecutive pixels by 4 filters. BM, BN <= 64, multiples of 4.
override BM: u32 = 64u;
override BN: u32 = 64u;
override TWG: u32 = 256u;
const TKW: u32 = 8u;
const TR: u32 = 4u;

// The slab: BM x TKW input words; PLANES x BN x TKW limb words or BN x TKW x 4 i32 weights.
var<workgroup> tx: array<u32, 512>;
var<workgroup> tw: array<u32, 2048>;
// Per-filter counts of the tile (limbs, list entries) and their maximum.
var<workgroup> tcount: array<u32, 64>;
var<workgroup> tmax: u32;


// The four int8 lanes of a word as i32, without the packed-integer language feature.
fn i8x4(word: u32) -> vec4<i32> {
  let v = bitcast<i32>(word);
  return vec4<i32>(extractBits(v, 0u, 8u), extractBits(v, 8u, 8u), extractBits(v, 16u, 8u), extractBits(v, 24u, 8u));
}

fn k_words() -> u32 {
  return dm.KS * dm.KS * dm.CW;
}

// xp offset of K word k (tap k / CW, channel word k % CW) from a pixel's top-left tap.
fn k_offset(k: u32) -> u32 {
  let tap = k / dm.CW;
  return ((tap / dm.KS) * dm.WP + tap % dm.KS) * dm.CW + k % dm.CW;
}

// xp index of the top-left tap of flattened output pixel m (past the end: the last pixel).
fn pixel_base(m: u32) -> u32 {
  let hw = dm.HO * dm.WO;
  let q = min(m, dm.B * hw - 1u);
  let r = q % hw;
  return (((q / hw) * dm.HP + r / dm.WO) * dm.WP + r % dm.WO) * dm.CW;
}

// K words k .. k + 3 (k a multiple of 4) of the pixel whose top-left tap is at xp index base;
// words past K are zero. With CW a multiple of 4 they are one aligned run of one tap.
fn x_quad(base: u32, k: u32, kw: u32) -> vec4<u32> {
  if (dm.CW % 4u == 0u) {
    if (k >= kw) {
      return vec4<u32>(0u);
    }
    return xp4[(base + k_offset(k)) >> 2u];
  }
  var v = vec4<u32>(0u);
  for (var j = 0u; j < 4u; j++) {
    if (k + j < kw) {
      v[j] = xp[base + k_offset(k + j)];
    }
  }
  return v;
}

struct TFwd {
  // First flattened pixel and first (absolute) filter of the workgroup's tile.
  m0: u32,
  n0: u32,
  // The invocation's pixel quad and filter quad within it.
  tm: u32,
  tn: u32,
}

fn tfwd(lid: u32, wid: vec3<u32>) -> TFwd {
  let tms = BM / TR;
  return TFwd(wid.x * BM, dm.F0 + wid.y * BN, lid % tms, lid / tms);
}

fn stage_x(t: TFwd, k0: u32, kw: u32, lid: u32) {
  for (var i = lid; i < BM * (TKW / 4u); i += TWG) {
    let r = i / (TKW / 4u);
    let h = (i % (TKW / 4u)) * 4u;
    let v = x_quad(pixel_base(t.m0 + r), k0 + h, kw);
    for (var j = 0u; j < 4u; j++) {
      tx[r * TKW + h + j] = v[j];
    }
  }
}

// Limb planes 0 .. limbs of the tile's filters (rows of the chunk, the last one past its end).
fn stage_limbs(t: TFwd, k0: u32, kw: u32, limbs: u32, lid: u32) {
  let rows = dm.F1 - dm.F0;
  for (var i = lid; i < limbs * BN * (TKW / 4u); i += TWG) {
    let h = (i % (TKW / 4u)) * 4u;
    let n = (i / (TKW / 4u)) % BN;
    let l = i / ((TKW / 4u) * BN);
    let r = min(t.n0 - dm.F0 + n, rows - 1u);
    let k = k0 + h;
    let at = dm.LBASE + l * dm.LPLANE + r * kw + k;
    var v = vec4<u32>(0u);
    if (kw % 4u == 0u) {
      if (k < kw) {
        v = wl4[at >> 2u];
      }
    } else {
      for (var j = 0u; j < 4u; j++) {
        if (k + j < kw) {
          v[j] = wl[at + j];
        }
      }
    }
    for (var j = 0u; j < 4u; j++) {
      tw[(l * BN + n) * TKW + h + j] = v[j];
    }
  }
}

// The i32 weights of the tile's filters, four channels per K word: tw[(n * TKW + kq) * 4 + lane].
fn stage_w32(t: TFwd, k0: u32, kw: u32, lid: u32) {
  let kk = dm.KS * dm.KS;
  for (var i = lid; i < BN * TKW * 4u; i += TWG) {
    let k = k0 + (i / 4u) % TKW;
    let f = min(t.n0 + i / (4u * TKW), dm.F - 1u);
    let c = (k % dm.CW) * 4u + i % 4u;
    var v = 0;
    if (k < kw && c < dm.C) {
      v = w[(f * dm.C + c) * kk + k / dm.CW];
    }
    tw[i] = bitcast<u32>(v);
  }
}

fn tiled_i32(t: TFwd, lid: u32) -> array<i32, 16> {
  var acc: array<i32, 16>;
  let kw = k_words();
  for (var k0 = 0u; k0 < kw; k0 += TKW) {
    stage_x(t, k0, kw, lid);
    stage_w32(t, k0, kw, lid);
    workgroupBarrier();
    // A bound from the uniform keeps this a loop (unrolled, it compiles slowly on software drivers).
    for (var kq = 0u; kq < min(TKW, kw - k0); kq++) {
      var xv: array<vec4<i32>, 4>;
      for (var i = 0u; i < TR; i++) {
        xv[i] = i8x4(tx[(t.tm * TR + i) * TKW + kq]);
      }
      for (var j = 0u; j < TR; j++) {
        let o = ((t.tn * TR + j) * TKW + kq) * 4u;
        let wv = bitcast<vec4<i32>>(vec4<u32>(tw[o], tw[o + 1u], tw[o + 2u], tw[o + 3u]));
        for (var i = 0u; i < TR; i++) {
          acc[j * TR + i] += dot(xv[i], wv);
        }
      }
    }
    workgroupBarrier();
  }
  return acc;
}

fn tiled_dot4(t: TFwd, lid: u32, limbs: u32) -> array<i32, 16> {
  var acc: array<i32, 16>;
  let kw = k_words();
  for (var k0 = 0u; k0 < kw; k0 += TKW) {
    stage_x(t, k0, kw, lid);
    stage_limbs(t, k0, kw, limbs, lid);
    workgroupBarrier();
    // A bound from the uniform keeps this a loop (unrolled, it compiles slowly on software drivers).
    for (var kq = 0u; kq < min(TKW, kw - k0); kq++) {
      var xv: array<u32, 4>;
      for (var i = 0u; i < TR; i++) {
        xv[i] = tx[(t.tm * TR + i) * TKW + kq];
      }
      for (var l = 0u; l < limbs; l++) {
        for (var j = 0u; j < TR; j++) {
          let lw = tw[(l * BN + t.tn * TR + j) * TKW + kq];
          for (var i = 0u; i < TR; i++) {
            acc[j * TR + i] += dot4I8Packed(xv[i], lw) << (8u * l);
          }
        }
      }
    }
    workgroupBarrier();
  }
  return acc;
}

// The most limbs any filter of the tile needs (the same for the whole workgroup).
fn tile_limb_count(t: TFwd, lid: u32) -> u32 {
  if (lid < BN) {
    tcount[lid] = wl[min(t.n0 - dm.F0 + lid, dm.F1 - dm.F0 - 1u)];
  }
  workgroupBarrier();
  if (lid == 0u) {
    var most = 1u;
    for (var n = 0u; n < BN; n++) {
      most = max(most, tcount[n]);
    }
    tmax = most;
  }
  return workgroupUniformLoad(&tmax);
}

fn store_tiled(t: TFwd, acc_in: array<i32, 16>) {
  var acc = acc_in;
  let hw = dm.HO * dm.WO;
  let m = t.m0 + t.tm * TR;
  if (m >= dm.B * hw) {
    return;
  }
  let b = m / hw;
  let q = m % hw;
  for (var j = 0u; j < TR; j++) {
    let fi = t.n0 + t.tn * TR + j;
    if (fi < dm.F1) {
      let bv = select(0, bias[fi], dm.T_BIAS != 0u);
      if (dm.T_FUSED != 0u) {
        // HO * WO % 4 == 0: the quad is one packed word of one sample and filter.
        let sv = vec4<i32>(scaled(acc[j * TR] + bv), scaled(acc[j * TR + 1u] + bv), scaled(acc[j * TR + 2u] + bv), scaled(acc[j * TR + 3u] + bv));
        let word = ((b * dm.F + fi) * hw + q) / 4u;
        s[word] = pack4xI8(sv);
        a[word] = pack4xI8(vec4<i32>(relu(sv.x), relu(sv.y), relu(sv.z), relu(sv.w)));
      } else {
        for (var i = 0u; i < TR; i++) {
          let mi = m + i;
          if (mi < dm.B * hw) {
            z[((mi / hw) * dm.F + fi) * hw + mi % hw] = acc[j * TR + i] + bv;
          }
        }
      }
    }
  }
}

@compute @workgroup_size(TWG)
fn forward_tiled(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let t = tfwd(lid, wid);
  store_tiled(t, tiled_i32(t, lid));
}

@compute @workgroup_size(TWG)
fn forward_tiled_limbs(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let t = tfwd(lid, wid);
  let limbs = tile_limb_count(t, lid);
  if (limbs > PLANES) {
    store_tiled(t, tiled_i32(t, lid));
  } else {
    store_tiled(t, tiled_dot4(t, lid, limbs));
  }
}

// Weight gradient tile: TGF filters by TGW K words (4 * TGW channels), the sum over pixels in
// slabs of TGP; 256 invocations, each one filter by four K words (16 sums). Dense: the slab's
// delta values of the tile's filters and input words of its K words are staged. Sparse (SPARSE,
// a tile whose filters have all their non-zero pixels listed): each filter sums its own list, so
// only the list entries are staged and the input words are gathered per entry.
const TGF: u32 = 64u;
const TGW: u32 = 16u;
const TGP: u32 = 16u;
const TG_WG: u32 = 256u;

var<workgroup> gd: array<i32, 1024>;
var<workgroup> gx: array<vec4<u32>, 64>;
var<workgroup> gl: array<u32, 1024>;

struct TGrad {
  f0: u32,
  k0: u32,
  fi: u32,
  wq: u32,
}

fn tgrad(lid: u32, wid: vec3<u32>) -> TGrad {
  return TGrad(dm.F0 + wid.y * TGF, wid.x * TGW, lid % TGF, lid / TGF);
}

fn tgrad_dense(t: TGrad, lid: u32) -> array<vec4<i32>, 4> {
  var acc: array<vec4<i32>, 4>;
  let kw = k_words();
  let hw = dm.HO * dm.WO;
  let np = dm.B * hw;
  for (var p0 = 0u; p0 < np; p0 += TGP) {
    if (lid < TGP * 4u) {
      gx[lid] = x_quad(pixel_base(p0 + lid / 4u), t.k0 + (lid % 4u) * 4u, kw);
    }
    for (var i = lid; i < TGF * TGP; i += TG_WG) {
      let m = p0 + i % TGP;
      let f = t.f0 + i / TGP;
      var d = 0;
      if (m < np && f < dm.F1) {
        d = delta[((m / hw) * dm.F + f) * hw + m % hw];
      }
      gd[i] = d;
    }
    workgroupBarrier();
    for (var p = 0u; p < TGP; p++) {
      let d = gd[t.fi * TGP + p];
      let xq = gx[p * 4u + t.wq];
      for (var j = 0u; j < 4u; j++) {
        acc[j] += d * i8x4(xq[j]);
      }
    }
    workgroupBarrier();
  }
  return acc;
}

// Listed pixels per filter of the tile into tcount; returns the most (uniform).
fn tgrad_counts(t: TGrad, lid: u32) -> u32 {
  if (lid < TGF) {
    var n = 0u;
    if (t.f0 + lid < dm.F1) {
      n = dl[t.f0 + lid - dm.F0];
    }
    tcount[lid] = n;
  }
  workgroupBarrier();
  if (lid == 0u) {
    var most = 0u;
    for (var n = 0u; n < TGF; n++) {
      most = max(most, tcount[n]);
    }
    tmax = most;
  }
  return workgroupUniformLoad(&tmax);
}

fn tgrad_sparse(t: TGrad, lid: u32, most: u32) -> array<vec4<i32>, 4> {
  var acc: array<vec4<i32>, 4>;
  let kw = k_words();
  let k = t.k0 + t.wq * 4u;
  let mine = tcount[t.fi];
  for (var e0 = 0u; e0 < most; e0 += TGP) {
    for (var i = lid; i < TGF * TGP; i += TG_WG) {
      let n = i / TGP;
      let e = e0 + i % TGP;
      var d = 0;
      var at = 0u;
      if (e < tcount[n]) {
        let r = t.f0 + n - dm.F0;
        d = dv[r * dm.ECAP + e];
        at = dl[dm.EBASE + r * dm.ECAP + e];
      }
      gd[i] = d;
      gl[i] = at;
    }
    workgroupBarrier();
    for (var e = 0u; e < TGP; e++) {
      if (e0 + e < mine) {
        let d = gd[t.fi * TGP + e];
        let xq = x_quad(gl[t.fi * TGP + e], k, kw);
        for (var j = 0u; j < 4u; j++) {
          acc[j] += d * i8x4(xq[j]);
        }
      }
    }
    workgroupBarrier();
  }
  return acc;
}

fn tgrad_sums(t: TGrad, lid: u32) -> array<vec4<i32>, 4> {
  if (SPARSE) {
    let most = tgrad_counts(t, lid);
    if (most <= dm.ECAP) {
      return tgrad_sparse(t, lid, most);
    }
  }
  return tgrad_dense(t, lid);
}

const NO_INDEX: u32 = 0xffffffffu;

// The weight index of sum (j, l) of the invocation (K word j of four, channel lane l), or
// NO_INDEX when it is past F1, K or C.
fn tgrad_index(t: TGrad, j: u32, l: u32) -> u32 {
  let f = t.f0 + t.fi;
  let k = t.k0 + t.wq * 4u + j;
  let c = (k % dm.CW) * 4u + l;
  if (f >= dm.F1 || k >= k_words() || c >= dm.C) {
    return NO_INDEX;
  }
  return (f * dm.C + c) * dm.KS * dm.KS + k / dm.CW;
}

@compute @workgroup_size(TG_WG)
fn weight_grad_tiled(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let t = tgrad(lid, wid);
  let acc = tgrad_sums(t, lid);
  for (var j = 0u; j < 4u; j++) {
    for (var l = 0u; l < 4u; l++) {
      let i = tgrad_index(t, j, l);
      if (i != NO_INDEX) {
        z[i] = acc[j][l];
      }
    }
  }
}

// The same sums applied as IntegerSGD (sgd.wgsl) to w_upd in place.
@compute @workgroup_size(TG_WG)
fn weight_grad_tiled_sgd(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let t = tgrad(lid, wid);
  let acc = tgrad_sums(t, lid);
  if (t.f0 + t.fi >= dm.F1) {
    return;
  }
  let lr = lr_inv[0];
  for (var j = 0u; j < 4u; j++) {
    for (var l = 0u; l < 4u; l++) {
      let i = tgrad_index(t, j, l);
      if (i != NO_INDEX) {
        w_upd[i] = sgd_step(w_upd[i], acc[j][l], dm.T_AMP, dm.T_DECAY_INV, lr);
      }
    }
  }
}
