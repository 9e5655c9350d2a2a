/**
 * Integer linear layers on the CPU: forward with the NITRO epilogue, input and weight gradients.
 * All three run on the kernels of kernels.wat (WebAssembly SIMD, or their JavaScript twins in gemm.ts).
 */
import type { Epilogue, LinearParams, SgdUpdate, Tensor } from '../../backend.ts';
import { correction, nitroRelu } from '../activation/contract.ts';
import {
  affineTable,
  type CpuWorkspace,
  roundUp,
  sgdMagic,
  type Workspace,
} from '../../cpu/gemm.ts';
import { type Kernels, LIST_ENTRY } from '../../cpu/wasm.ts';
import { CpuTensor, dataOf, i32, i8 } from '../../cpu/tensor.ts';
import { share } from '../../cpu/threads.ts';
import { fusedSgd, kernelSgd, sgdRange } from '../sgd/cpu.ts';

/** NITRO-ReLU of every int8 value (index value + 128) for an allowed slope. */
export function reluTable(slopeInv: number): Int8Array {
  const t = new Int8Array(256);
  for (let v = -128; v < 128; v++) t[v + 128] = nitroRelu(v, slopeInv);
  return t;
}

/**
 * s = clip(trunc(z / sf), -127, 127): NITRO scaling. For sf ≥ 2 the quotient lies within ±2^30,
 * so the clip is done without branches (mispredicted branches cost more than the division).
 */
export function scaleInto(z: Int32Array, s: Int8Array, n: number, sf: number): void {
  if (sf < 2) {
    for (let i = 0; i < n; i++) s[i] = Math.max(-127, Math.min(127, (z[i] / sf) | 0));
    return;
  }
  for (let i = 0; i < n; i++) {
    let q = (z[i] / sf) | 0;
    const above = 127 - q;
    q += above & (above >> 31);
    const below = q + 127;
    q -= below & (below >> 31);
    s[i] = q;
  }
}

export function reluInto(s: Int8Array, a: Int8Array, n: number, table: Int8Array): void {
  for (let i = 0; i < n; i++) a[i] = table[s[i] + 128];
}

/**
 * Writes z (int32) to `out` directly, or through NITRO scaling (and NITRO-ReLU) as int8. The
 * loops live in small functions of their own: V8 then optimises each from its own feedback
 * instead of deoptimising a half-warmed function on every call.
 */
export function storeWithEpilogue(
  op: string,
  z: Int32Array,
  out: Tensor,
  epilogue: Epilogue | undefined,
): void {
  if (!epilogue) {
    i32(out, op).set(z);
    return;
  }
  const s = i8(out, op);
  scaleInto(z, s, s.length, epilogue.scale);
  if (epilogue.relu) {
    reluInto(s, i8(epilogue.relu.out, op), s.length, reluTable(epilogue.relu.slopeInv));
  }
}

/** Adds bias[f] to every element of channel f of z [B, F, plane] (int32 wrap). */
export function addBias(z: Int32Array, bias: Int32Array, F: number, plane: number): void {
  const n = z.length;
  for (let base = 0, f = 0; base < n; base += plane, f = f + 1 === F ? 0 : f + 1) {
    const bf = bias[f];
    for (let i = base; i < base + plane; i++) z[i] = (z[i] + bf) | 0;
  }
}

/**
 * How many hi-half corrections a product takes as a list (fixLinear, fixWgrad) before a second
 * pass over all hi halves is cheaper: one list entry costs about as much as `LIST_PER` elements
 * of the dense pass.
 */
const LIST_PER = 32;

/**
 * out[B, O] = x[B, K] · w[O, K]ᵀ + bias: dot4 over x (int8) and the low int16 halves of w in
 * blocks of four rows (packW, zero past K and O), then the hi halves: a list of corrections when
 * few weights leave int16, else a second pass over the hi halves (packed in the same place).
 */
export function linear(cw: CpuWorkspace, p: LinearParams): void {
  const op = 'linear';
  const [B, K] = p.x.shape;
  const [O] = p.w.shape;
  const x = i8(p.x, op);
  const w = i32(p.w, op);
  const K8 = roundUp(K, 8);
  const B2 = roundUp(B, 2);
  const O4 = roundUp(O, 4);
  const cap = Math.floor((O * K) / LIST_PER);
  // NITRO scaling on the kernels (scale8) for the divisors they take, else on the int32 sums here.
  const sf = p.epilogue?.scale;
  const fused = sf !== undefined && Number.isInteger(sf) && sf >= 2 && sf < 2 ** 31;
  // With scaling on the kernels, NITRO-ReLU runs there too (relu8), on each thread's rows.
  const relu = fused ? p.epilogue?.relu : undefined;
  const { ws, at } = cw.reserve([
    B2 * K,
    4 * O4 * K8,
    2 * O4 * K8,
    LIST_ENTRY * cap,
    4 * B2 * O4,
    fused ? 4 * O : 0,
    fused ? B * O : 0,
    relu ? B * O : 0,
  ]);
  const [xAt, wAt, lo, list, cAt, biasAt, sAt, aAt] = at;
  // Rows of x are read 8 bytes at a time across their ends; the columns past K meet zero weights.
  ws.i8.set(x.subarray(0, B * K), xAt);
  const w32 = wAt >> 2;
  if (K8 === K) ws.i32.set(w.subarray(0, O * K), w32);
  else for (let o = 0; o < O; o++) ws.i32.set(w.subarray(o * K, o * K + K), w32 + o * K8);
  if (K8 !== K) for (let o = 0; o < O; o++) ws.i32.fill(0, w32 + o * K8 + K, w32 + (o + 1) * K8);
  ws.i32.fill(0, w32 + O * K8, w32 + O4 * K8);
  const n = ws.k.packW(wAt, 4 * K8, lo, O4 / 4, K8 / 8, 0, list, cap);
  const magic = fused ? sgdMagic(sf) : { m: 0, s: 0 };
  const slope = relu ? relu.slopeInv : 0;
  const reluMagic = relu ? sgdMagic(slope) : { m: 0, s: 0 };
  const reluC = relu ? correction(slope) : 0;
  if (fused && p.bias) ws.i32.set(i32(p.bias, op).subarray(0, O), biasAt >> 2);
  // Threads take ranges of batch rows (pairs, as dot4 computes them): the products, their
  // corrections and NITRO scaling of their own rows.
  const T = cw.threads(B * K * O);
  const second = n > cap;
  const rest = (b0: number, b1: number, k: Kernels) => {
    if (!second) k.fixLinear(list, n, xAt, K, cAt, 4 * O4, b0, b1);
    if (fused) {
      const rows = Math.min(b1, B) - b0;
      const c = cAt + 4 * O4 * b0;
      k.scale8(c, 4 * O4, biasAt, p.bias ? 1 : 0, sAt + O * b0, rows, O, sf, magic.m, magic.s);
      if (relu)
        k.relu8(sAt + O * b0, aAt + O * b0, rows * O, slope, reluMagic.m, reluMagic.s, reluC);
    }
  };
  cw.parallel(ws, T, (t, T, k) => {
    const [b0, b1] = share(B, t, T, 2);
    if (b0 >= b1) return;
    k.dot4(xAt, K, 1, 0, lo, cAt, 4 * O4, b0, b1, O4 / 4, K8 / 8, 0, 0);
    if (!second) rest(b0, b1, k);
  });
  if (second) {
    // The hi halves replace the lo ones in place: a second run once every thread is done.
    ws.k.packW(wAt, 4 * K8, lo, O4 / 4, K8 / 8, 1, list, 0);
    cw.parallel(ws, T, (t, T, k) => {
      const [b0, b1] = share(B, t, T, 2);
      if (b0 >= b1) return;
      k.dot4(xAt, K, 1, 0, lo, cAt, 4 * O4, b0, b1, O4 / 4, K8 / 8, 1, 16);
      rest(b0, b1, k);
    });
  }
  if (fused && p.epilogue) {
    const out = i8(p.out, op);
    out.set(ws.i8.subarray(sAt, sAt + B * O));
    if (relu) i8(relu.out, op).set(ws.i8.subarray(aAt, aAt + B * O));
    return;
  }
  const z = cw.array('z', B * O);
  unpackRows(ws, cAt, B, O, 4 * O4, z);
  if (p.bias) addBias(z, i32(p.bias, op), O, 1);
  storeWithEpilogue(op, z, p.out, p.epilogue);
}

/** Copies the first N columns of int32 rows (byte stride `stride`) at byte offset `c` to a dense out. */
export function unpackRows(
  ws: Workspace,
  c: number,
  rows: number,
  N: number,
  stride: number,
  out: Int32Array,
): void {
  const o = c >> 2;
  if (stride === 4 * N) {
    out.set(ws.i32.subarray(o, o + rows * N));
    return;
  }
  const s = stride >> 2;
  for (let m = 0; m < rows; m++) out.set(ws.i32.subarray(o + m * s, o + m * s + N), m * N);
}

/**
 * out[B, K] = g[B, O] · w[O, K]: rows of w scaled by g and summed, 4 rows of g by 8 columns at a
 * time; with `relu`, then NITRO-ReLU's backward at its saved input (reluBack), on each thread's
 * columns.
 */
export function linearInputGrad(
  cw: CpuWorkspace,
  p: { g: Tensor; w: Tensor; out: Tensor; relu?: { x: Tensor; slopeInv: number } },
): void {
  const op = 'linearInputGrad';
  const [B, O] = p.g.shape;
  const K = p.w.shape[1];
  const g = dataOf(p.g);
  const w = i32(p.w, op);
  const B4 = roundUp(B, 4);
  const K8 = roundUp(K, 8);
  const relu = p.relu;
  const { ws, at } = cw.reserve([
    4 * B4 * O,
    4 * O * K,
    4 * O,
    4 * (K8 / 8),
    4 * B4 * K8,
    relu ? B * K : 0,
  ]);
  const [gAt, wAt, rowT, panelT, cAt, xAt] = at;
  const slope = relu ? relu.slopeInv : 0;
  const magic = relu ? sgdMagic(slope) : { m: 0, s: 0 };
  if (relu) ws.i8.set(i8(relu.x, op).subarray(0, B * K), xAt);
  ws.i32.set(g.subarray(0, B * O), gAt >> 2);
  ws.i32.set(w.subarray(0, O * K), wAt >> 2);
  affineTable(ws, rowT, O, 4 * K);
  affineTable(ws, panelT, K8 / 8, 32);
  // Threads take ranges of the panels of 8 output columns.
  cw.parallel(ws, cw.threads(B * O * K), (t, T, k) => {
    const [p0, p1] = share(K8 / 8, t, T);
    if (p0 >= p1) return;
    k.axpy32(
      gAt,
      4 * O,
      4,
      wAt,
      rowT,
      panelT + 4 * p0,
      cAt + 32 * p0,
      4 * K8,
      0,
      B4,
      p1 - p0,
      O,
      0,
    );
    if (relu) {
      const cols = Math.min(8 * p1, K) - 8 * p0;
      const d = cAt + 32 * p0;
      k.reluBack(d, 4 * K8, xAt + 8 * p0, K, B, cols, slope, magic.m, magic.s);
    }
  });
  unpackRows(ws, cAt, B, K, 4 * K8, i32(p.out, op));
}

/**
 * out[O, K] = gᵀ · x with g [B, O] (i8 or i32) and x [B, K] (i8): Σ over pairs of batch rows of
 * (g[b, o], g[b+1, o]) · (x[b, k], x[b+1, k]) on the low int16 halves of g (packG, wgrad), then
 * the hi halves: a list of corrections when few elements of g leave int16, else a second pass.
 */
export function linearWeightGrad(
  cw: CpuWorkspace,
  p: { g: Tensor; x: Tensor; out?: Tensor; sgd?: SgdUpdate },
): void {
  const op = 'linearWeightGrad';
  const [B, O] = p.g.shape;
  const K = p.x.shape[1];
  const g = dataOf(p.g);
  const x = i8(p.x, op);
  const O2 = roundUp(O, 2);
  const B2 = roundUp(B, 2);
  const K16 = roundUp(K, 16);
  const cap = Math.floor((B * O) / LIST_PER);
  const { ws, at } = cw.reserve([
    B2 * K,
    (B2 / 2) * 4 * K16,
    4 * B2 * O,
    2 * O2 * B2,
    2 * O2 * B2,
    LIST_ENTRY * cap,
    4 * O2 * K16,
    p.sgd ? 4 * O * K : 0,
    p.sgd && K16 !== K ? 4 * O * K : 0,
  ]);
  const [xAt, xp, gAt, lo, hi, list, cAt, wAt, denseAt] = at;
  ws.i8.set(x.subarray(0, B * K), xAt);
  // An odd batch pairs its last row with a zero row.
  if (B2 > B) ws.i8.fill(0, xAt + B * K, xAt + B2 * K);
  ws.k.pairRows(xAt, K, xp, 4 * K16, B2 / 2, K16 / 16);
  ws.i32.set(g.subarray(0, B * O), gAt >> 2);
  if (B2 > B) ws.i32.fill(0, (gAt >> 2) + B * O, (gAt >> 2) + B2 * O);
  // Rows O..O2 of the halves stay zero (wgrad computes rows in pairs).
  ws.i16.fill(0, (lo >> 1) + O * B2, (lo >> 1) + O2 * B2);
  ws.i16.fill(0, (hi >> 1) + O * B2, (hi >> 1) + O2 * B2);
  const n = ws.k.packG(gAt, 4 * O, O, B2 / 2, lo, hi, 2 * B2, list, cap);
  // The update on the kernels runs in the same thread run: each thread updates its own rows.
  const u = p.sgd ? kernelSgd(op, p.sgd) : null;
  const wv = p.sgd && u ? i32(p.sgd.w, op) : undefined;
  if (wv) ws.i32.set(wv, wAt >> 2);
  const gradAt = K16 !== K ? denseAt : cAt;
  // Threads take ranges of rows o (pairs, as wgrad computes them), with their corrections.
  cw.parallel(ws, cw.threads(B * O * K), (t, T, k) => {
    const [o0, o1] = share(O, t, T, 2);
    if (o0 >= o1) return;
    k.wgrad(xp, 4 * K16, lo, 2 * B2, cAt, 4 * K16, o0, o1, K16 / 16, B2 / 2, 0, 0);
    if (n > cap) k.wgrad(xp, 4 * K16, hi, 2 * B2, cAt, 4 * K16, o0, o1, K16 / 16, B2 / 2, 1, 16);
    else k.fixWgrad(list, n, xAt, K, cAt, 4 * K16, o0, o1, K16 / 16);
    if (!u) return;
    const rows = Math.min(o1, O) - o0;
    if (gradAt !== cAt)
      k.copyRows(cAt + 4 * K16 * o0, gradAt + 4 * K * o0, rows, 4 * K16, 4 * K, 1, 0, 0, 4 * K);
    sgdRange(k, u, wAt, gradAt, o0 * K, (o0 + rows) * K);
  });
  if (p.out) unpackRows(ws, cAt, O, K, 4 * K16, i32(p.out, op));
  if (!p.sgd) return;
  if (wv) {
    wv.set(ws.i32.subarray(wAt >> 2, (wAt >> 2) + O * K));
    return;
  }
  const grad = cw.array('gradient', O * K);
  unpackRows(ws, cAt, O, K, 4 * K16, grad);
  fusedSgd(op, p.sgd, new CpuTensor([O, K], 'i32', `${op} gradient`, grad, false));
}
