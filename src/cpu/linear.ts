/**
 * Integer linear layers on the CPU: forward with the NITRO epilogue, input and weight gradients.
 * All three run on the kernels of wasm.ts (WebAssembly SIMD, or their JavaScript twins in gemm.ts).
 */
import type { Epilogue, LinearParams, Tensor } from '../backend.ts';
import { checkSlope, nitroRelu } from '../arith.ts';
import { affineTable, reserve, roundUp, type Workspace } from './gemm.ts';
import { dataOf, expectShape, i32, i8 } from './tensor.ts';

/** NITRO-ReLU of every int8 value, indexed by value + 128. */
const reluTables = new Map<number, Int8Array>();
export function reluTable(slopeInv: number): Int8Array {
  let t = reluTables.get(slopeInv);
  if (!t) {
    checkSlope(slopeInv, 'nitroRelu');
    t = new Int8Array(256);
    for (let v = -128; v < 128; v++) t[v + 128] = nitroRelu(v, slopeInv);
    reluTables.set(slopeInv, t);
  }
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
export function storeWithEpilogue(op: string, z: Int32Array, out: Tensor, epilogue: Epilogue | undefined): void {
  if (!epilogue) {
    i32(out, op).set(z);
    return;
  }
  const s = i8(out, op);
  scaleInto(z, s, s.length, epilogue.scale);
  if (epilogue.relu) {
    expectShape(op, epilogue.relu.out, out.shape);
    reluInto(s, i8(epilogue.relu.out, op), s.length, reluTable(epilogue.relu.slopeInv));
  }
}

let scratch = new Int32Array(0);

/** A reusable int32 buffer of at least n elements (its contents are stale). */
export function scratchZ(n: number): Int32Array {
  if (scratch.length < n) scratch = new Int32Array(n);
  return scratch.subarray(0, n);
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
 * out[B, O] = x[B, K] · w[O, K]ᵀ + bias: dot products of int8 rows of x (zero-padded to a
 * multiple of 8) with int32 rows of w, four rows of x by two of w at a time.
 */
export function linear(p: LinearParams): void {
  const op = 'linear';
  const [B, K] = p.x.shape;
  const [O] = p.w.shape;
  expectShape(op, p.w, [O, K]);
  expectShape(op, p.out, [B, O]);
  if (p.bias) expectShape(op, p.bias, [O]);
  const x = i8(p.x, op);
  const w = i32(p.w, op);
  const K8 = roundUp(K, 8);
  const B4 = roundUp(B, 4);
  const O2 = roundUp(O, 2);
  // Regions: x raw, x padded rows, row table, w (plus one row: an odd O reads row O), z.
  const { ws, at } = reserve([B * K, B4 * K8, 4 * B4, 4 * O * K + 4 * K8, 4 * B4 * O2]);
  const [xRaw, xPad, rows, wAt, zAt] = at;
  ws.i8.set(x.subarray(0, B * K), xRaw);
  ws.i8.fill(0, xPad, xPad + B4 * K8);
  ws.k.copyRows(xRaw, xPad, B, K, K8, 1, 0, 0, K);
  affineTable(ws, rows, B4, K8);
  ws.i32.set(w.subarray(0, O * K), wAt >> 2);
  ws.k.dot8(rows, xPad, wAt, 4 * K, zAt, 4 * O2, 4, B4, O2, 1, K8 / 8, 0, 0, 0);
  const z = scratchZ(B * O);
  if (O === O2) z.set(ws.i32.subarray(zAt >> 2, (zAt >> 2) + B * O));
  else for (let b = 0; b < B; b++) z.set(ws.i32.subarray((zAt >> 2) + b * O2, (zAt >> 2) + b * O2 + O), b * O);
  if (p.bias) addBias(z, i32(p.bias, op), O, 1);
  storeWithEpilogue(op, z, p.out, p.epilogue);
}

/** Copies the first N columns of int32 rows (byte stride `stride`) at byte offset `c` to a dense out. */
export function unpackRows(ws: Workspace, c: number, rows: number, N: number, stride: number, out: Int32Array): void {
  const o = c >> 2;
  if (stride === 4 * N) {
    out.set(ws.i32.subarray(o, o + rows * N));
    return;
  }
  const s = stride >> 2;
  for (let m = 0; m < rows; m++) out.set(ws.i32.subarray(o + m * s, o + m * s + N), m * N);
}

/** out[B, K] = g[B, O] · w[O, K]: rows of w scaled by g and summed, 4 rows of g by 8 columns at a time. */
export function linearInputGrad(p: { g: Tensor; w: Tensor; out: Tensor }): void {
  const op = 'linearInputGrad';
  const [B, O] = p.g.shape;
  const K = p.w.shape[1];
  expectShape(op, p.w, [O, K]);
  expectShape(op, p.out, [B, K]);
  const g = dataOf(p.g);
  const w = i32(p.w, op);
  const B4 = roundUp(B, 4);
  const K8 = roundUp(K, 8);
  const { ws, at } = reserve([4 * B4 * O, 4 * O * K, 4 * O, 4 * (K8 / 8), 4 * B4 * K8]);
  const [gAt, wAt, rowT, panelT, cAt] = at;
  ws.i32.set(g.subarray(0, B * O), gAt >> 2);
  ws.i32.set(w.subarray(0, O * K), wAt >> 2);
  affineTable(ws, rowT, O, 4 * K);
  affineTable(ws, panelT, K8 / 8, 32);
  ws.k.axpy32(gAt, 4 * O, 4, wAt, rowT, panelT, cAt, 4 * K8, B4, K8 / 8, O, 0);
  unpackRows(ws, cAt, B, K, 4 * K8, i32(p.out, op));
}

/** out[O, K] = gᵀ · x with g [B, O] (i8 or i32) and x [B, K] (i8): Σ_b g[b, o]·x[b, :]. */
export function linearWeightGrad(p: { g: Tensor; x: Tensor; out: Tensor }): void {
  const op = 'linearWeightGrad';
  const [B, O] = p.g.shape;
  const K = p.x.shape[1];
  expectShape(op, p.x, [B, K]);
  expectShape(op, p.out, [O, K]);
  const g = dataOf(p.g);
  const x = i8(p.x, op);
  const O4 = roundUp(O, 4);
  const K8 = roundUp(K, 8);
  const { ws, at } = reserve([4 * B * O, B * K, 4 * B, 4 * (K8 / 8), 4 * O4 * K8]);
  const [gAt, xAt, rowT, panelT, cAt] = at;
  ws.i32.set(g.subarray(0, B * O), gAt >> 2);
  ws.i8.set(x.subarray(0, B * K), xAt);
  affineTable(ws, rowT, B, K);
  affineTable(ws, panelT, K8 / 8, 8);
  ws.k.axpy8(gAt, 4, 4 * O, xAt, rowT, panelT, cAt, 4 * K8, O4, K8 / 8, B, 0);
  unpackRows(ws, cAt, O, K, 4 * K8, i32(p.out, op));
}
