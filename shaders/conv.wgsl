// Stride-1 zero-padded integer convolution (cross-correlation, NITRO-D.md §2.2) with the NITRO
// scaling and NITRO-ReLU epilogue fused into the store, and its weight gradient (§4.4.5).
// x [B, C, H, W] is packed int8 (each sample a row padded to a whole word); weights, the raw
// output and the gradients are i32; all arithmetic wraps.

@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read> w: array<i32>;
@group(0) @binding(2) var<storage, read> bias: array<i32>;
@group(0) @binding(3) var<storage, read> delta: array<i32>;
@group(0) @binding(4) var<storage, read_write> z: array<i32>;
@group(0) @binding(5) var<storage, read_write> s: array<u32>;
@group(0) @binding(6) var<storage, read_write> a: array<u32>;

override WG: u32 = 64;
override B: u32 = 1;
override C: u32 = 1;
override H: u32 = 1;
override W: u32 = 1;
override F: u32 = 1;
override KS: u32 = 3;
override PAD: u32 = 1;
override HO: u32 = 1;
override WO: u32 = 1;
// Words per packed sample of x and of the outputs.
override XW: u32 = 1;
override OUTW: u32 = 1;
override HAS_BIAS: bool = false;
override SF: i32 = 1;
override SLOPE_INV: i32 = 4;
override CORR: i32 = 36;

fn flat_id(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// x[b, c, h, ww] with h, ww in padded coordinates (zero outside the image).
fn x_at(b: u32, c: u32, hp: u32, wp: u32) -> i32 {
  if (hp < PAD || wp < PAD || hp >= H + PAD || wp >= W + PAD) {
    return 0;
  }
  let idx = (c * H + hp - PAD) * W + wp - PAD;
  return extractBits(bitcast<i32>(x[b * XW + (idx >> 2u)]), (idx & 3u) * 8u, 8u);
}

// z at flat output position p = (f * HO + i) * WO + j of sample b.
fn output_at(b: u32, p: u32) -> i32 {
  let f = p / (HO * WO);
  let r = p % (HO * WO);
  let i = r / WO;
  let j = r % WO;
  var acc = 0;
  if (HAS_BIAS) {
    acc = bias[f];
  }
  for (var c = 0u; c < C; c++) {
    let wbase = (f * C + c) * KS * KS;
    for (var u = 0u; u < KS; u++) {
      for (var v = 0u; v < KS; v++) {
        acc += w[wbase + u * KS + v] * x_at(b, c, i + u, j + v);
      }
    }
  }
  return acc;
}

fn scaled(v: i32) -> i32 {
  return clamp(v / SF, -127, 127);
}

fn relu(v: i32) -> i32 {
  return clamp(v, 0, 127) + clamp(v, -127, 0) / SLOPE_INV - CORR;
}

// One thread per output word: four consecutive positions of one sample.
fn word_outputs(t: u32) -> vec4<i32> {
  let b = t / OUTW;
  let p0 = (t % OUTW) * 4u;
  var v = vec4<i32>(0);
  for (var l = 0u; l < 4u; l++) {
    if (p0 + l < F * HO * WO) {
      v[l] = output_at(b, p0 + l);
    }
  }
  return v;
}

fn live_lanes(t: u32) -> vec4<bool> {
  let p0 = (t % OUTW) * 4u;
  let n = F * HO * WO;
  return vec4<bool>(p0 < n, p0 + 1u < n, p0 + 2u < n, p0 + 3u < n);
}

@compute @workgroup_size(WG)
fn forward_raw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = flat_id(gid, nwg);
  if (t >= B * OUTW) {
    return;
  }
  let v = word_outputs(t);
  let b = t / OUTW;
  let p0 = (t % OUTW) * 4u;
  for (var l = 0u; l < 4u; l++) {
    if (p0 + l < F * HO * WO) {
      z[b * F * HO * WO + p0 + l] = v[l];
    }
  }
}

@compute @workgroup_size(WG)
fn forward_scaled(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = flat_id(gid, nwg);
  if (t >= B * OUTW) {
    return;
  }
  let v = word_outputs(t);
  let sv = vec4<i32>(scaled(v.x), scaled(v.y), scaled(v.z), scaled(v.w));
  s[t] = pack4xI8(select(vec4<i32>(0), sv, live_lanes(t)));
}

@compute @workgroup_size(WG)
fn forward_relu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = flat_id(gid, nwg);
  if (t >= B * OUTW) {
    return;
  }
  let v = word_outputs(t);
  let sv = vec4<i32>(scaled(v.x), scaled(v.y), scaled(v.z), scaled(v.w));
  let live = live_lanes(t);
  s[t] = pack4xI8(select(vec4<i32>(0), sv, live));
  a[t] = pack4xI8(select(vec4<i32>(0), vec4<i32>(relu(sv.x), relu(sv.y), relu(sv.z), relu(sv.w)), live));
}

// dW[f, c, u, v] = Σ_b Σ_i Σ_j delta[b, f, i, j] · xpad[b, c, i + u, j + v]; one thread per weight.
@compute @workgroup_size(WG)
fn weight_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = flat_id(gid, nwg);
  if (t >= F * C * KS * KS) {
    return;
  }
  let v = t % KS;
  let u = (t / KS) % KS;
  let c = (t / (KS * KS)) % C;
  let f = t / (KS * KS * C);
  // Output rows/cols whose tap lands inside the image.
  // (signed: with wide padding H + PAD - u can be negative)
  let i0 = u32(max(0, i32(PAD) - i32(u)));
  let i1 = u32(clamp(i32(H + PAD) - i32(u), 0, i32(HO)));
  let j0 = u32(max(0, i32(PAD) - i32(v)));
  let j1 = u32(clamp(i32(W + PAD) - i32(v), 0, i32(WO)));
  var acc = 0;
  for (var b = 0u; b < B; b++) {
    let dbase = (b * F + f) * HO * WO;
    for (var i = i0; i < i1; i++) {
      let row = (c * H + i + u - PAD) * W + v - PAD;
      for (var j = j0; j < j1; j++) {
        let idx = row + j;
        let xv = extractBits(bitcast<i32>(x[b * XW + (idx >> 2u)]), (idx & 3u) * 8u, 8u);
        acc += delta[dbase + i * WO + j] * xv;
      }
    }
  }
  z[t] = acc;
}
