/**
 * Integer linear layers on the CPU: forward with the NITRO epilogue, input and weight gradients.
 * All three run on the kernels of wasm.ts (WebAssembly SIMD, or their JavaScript twins in gemm.ts).
 */
import type { Epilogue, LinearParams, Tensor } from '../../backend.ts';
import { nitroRelu } from '../activation/contract.ts';
import { affineTable, type CpuWorkspace, roundUp, type Workspace } from '../../cpu/gemm.ts';
import { dataOf, i32, i8 } from '../../cpu/tensor.ts';
import { share } from '../../cpu/threads.ts';

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
 * out[B, O] = x[B, K] · w[O, K]ᵀ + bias: dot products of int8 rows of x with rows of w split
 * into int16 halves (zero past K), two rows of x by two of w at a time. Threads take ranges of
 * the O output columns, each splitting its own rows of w.
 */
export function linear(cw: CpuWorkspace, p: LinearParams): void {
  const op = 'linear';
  const [B, K] = p.x.shape;
  const [O] = p.w.shape;
  const x = i8(p.x, op);
  const w = i32(p.w, op);
  const K8 = roundUp(K, 8);
  const B2 = roundUp(B, 2);
  const O2 = roundUp(O, 2);
  const padded = K8 !== K;
  const T = cw.threads(B * K * O);
  const { ws, at } = cw.reserve([
    B * K,
    4 * B2,
    4 * O * K,
    padded ? 4 * O * K8 : 0,
    2 * O2 * K8,
    2 * O2 * K8,
    4 * B2 * O2,
  ]);
  const [xAt, rows, wAt, padAt, lo, hi, zAt] = at;
  ws.i8.set(x.subarray(0, B * K), xAt);
  affineTable(ws, rows, B, K);
  if (B2 > B) ws.i32[(rows >> 2) + B] = 0; // an odd B reads row 0 once more; that result is dropped
  ws.i32.set(w.subarray(0, O * K), wAt >> 2);
  // Rows of w padded with zeros to K8 columns (halves past row O are read and dropped).
  if (padded) ws.i32.fill(0, padAt >> 2, (padAt >> 2) + O * K8);
  const src = padded ? padAt : wAt;
  cw.parallel(ws, T, (t, T, k) => {
    const [o0, o1] = share(O2, t, T, 2);
    if (o0 >= o1) return;
    const oEnd = Math.min(o1, O);
    if (padded)
      k.copyRows(wAt + 4 * K * o0, padAt + 4 * K8 * o0, oEnd - o0, 4 * K, 4 * K8, 1, 0, 0, 4 * K);
    const half = 2 * K8 * o0;
    k.split16(src + 4 * K8 * o0, 4 * K8, lo + half, hi + half, 2 * K8, oEnd - o0, K8 / 8);
    k.dot16(
      rows,
      xAt,
      lo + half,
      hi + half,
      2 * K8,
      zAt + 4 * o0,
      4 * O2,
      4,
      B2,
      o1 - o0,
      1,
      K8 / 8,
      0,
      0,
      0,
    );
  });
  const z = cw.array('z', B * O);
  unpackRows(ws, zAt, B, O, 4 * O2, z);
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
 * time.
 */
export function linearInputGrad(cw: CpuWorkspace, p: { g: Tensor; w: Tensor; out: Tensor }): void {
  const op = 'linearInputGrad';
  const [B, O] = p.g.shape;
  const K = p.w.shape[1];
  const g = dataOf(p.g);
  const w = i32(p.w, op);
  const B4 = roundUp(B, 4);
  const K8 = roundUp(K, 8);
  const T = cw.threads(B * O * K);
  const { ws, at } = cw.reserve([4 * B4 * O, 4 * O * K, 4 * O, 4 * (K8 / 8), 4 * B4 * K8]);
  const [gAt, wAt, rowT, panelT, cAt] = at;
  ws.i32.set(g.subarray(0, B * O), gAt >> 2);
  ws.i32.set(w.subarray(0, O * K), wAt >> 2);
  affineTable(ws, rowT, O, 4 * K);
  affineTable(ws, panelT, K8 / 8, 32);
  // Threads take ranges of the panels of 8 output columns.
  cw.parallel(ws, T, (t, T, k) => {
    const [p0, p1] = share(K8 / 8, t, T);
    if (p0 < p1)
      k.axpy32(gAt, 4 * O, 4, wAt, rowT, panelT + 4 * p0, cAt + 32 * p0, 4 * K8, B4, p1 - p0, O, 0);
  });
  unpackRows(ws, cAt, B, K, 4 * K8, i32(p.out, op));
}

/**
 * out[O, K] = gᵀ · x with g [B, O] (i8 or i32) and x [B, K] (i8): Σ over pairs of batch rows of
 * (g[b, o], g[b+1, o]) · (x[b, k], x[b+1, k]), with g split into int16 halves (axpy16).
 */
export function linearWeightGrad(cw: CpuWorkspace, p: { g: Tensor; x: Tensor; out: Tensor }): void {
  const op = 'linearWeightGrad';
  const [B, O] = p.g.shape;
  const K = p.x.shape[1];
  const g = dataOf(p.g);
  const x = i8(p.x, op);
  const O2 = roundUp(O, 2);
  const B2 = roundUp(B, 2);
  const B8 = roundUp(B, 8);
  const K8 = roundUp(K, 8);
  const K16 = roundUp(K, 16);
  const T = cw.threads(B * O * K);
  const { ws, at } = cw.reserve([
    B2 * K,
    (B2 / 2) * 4 * K16,
    4 * B * O,
    4 * O2 * B8,
    2 * O2 * B8,
    2 * O2 * B8,
    4 * O2 * K8,
  ]);
  const [xAt, xp, gAt, gT, lo, hi, cAt] = at;
  ws.i8.set(x.subarray(0, B * K), xAt);
  // An odd batch pairs its last row with a zero row.
  if (B2 > B) ws.i8.fill(0, xAt + B * K, xAt + B2 * K);
  ws.i32.set(g.subarray(0, B * O), gAt >> 2);
  ws.i32.fill(0, gT >> 2, (gT >> 2) + O2 * B8);
  ws.k.transpose32(gAt, 4 * O, gT, 4 * B8, B, O);
  ws.k.split16(gT, 4 * B8, lo, hi, 2 * B8, O2, B8 / 8);
  // Threads take ranges of 16 columns of x: each pairs its own columns, then sums its tiles.
  const tiles = K8 / 8;
  cw.parallel(ws, T, (t, T, k) => {
    const [c0, c1] = share(K16 / 16, t, T);
    if (c0 >= c1) return;
    k.pairRows(xAt + 16 * c0, K, xp + 64 * c0, 4 * K16, B2 / 2, c1 - c0);
    const t1 = Math.min(2 * c1, tiles);
    if (t1 > 2 * c0)
      k.axpy16(
        xp + 64 * c0,
        4 * K16,
        lo,
        hi,
        2 * B8,
        cAt + 64 * c0,
        4 * K8,
        O2,
        t1 - 2 * c0,
        B2 / 2,
      );
  });
  unpackRows(ws, cAt, O, K, 4 * K8, i32(p.out, op));
}
