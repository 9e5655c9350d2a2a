/**
 * Integer linear layers on the CPU: forward with the NITRO epilogue, input and weight gradients.
 * All three are products of gemm.ts, whose operands are packed so that the long dimension
 * (features) is the one the kernel vectorises and the batch stays on the short side.
 */
import type { Epilogue, LinearParams, Tensor } from '../backend.ts';
import { checkSlope, nitroRelu } from '../arith.ts';
import { multiply, packA, packB, workspace } from './gemm.ts';
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

/** Writes z (int32) to `out` directly, or through NITRO scaling (and NITRO-ReLU) as int8. */
export function storeWithEpilogue(op: string, z: Int32Array, out: Tensor, epilogue: Epilogue | undefined): void {
  if (!epilogue) {
    i32(out, op).set(z);
    return;
  }
  const s = i8(out, op);
  const sf = epilogue.scale;
  const n = s.length;
  // nitroScale inlined: clip(trunc(z / sf), -127, 127).
  for (let i = 0; i < n; i++) {
    const q = (z[i] / sf) | 0;
    s[i] = q < -127 ? -127 : q > 127 ? 127 : q;
  }
  if (epilogue.relu) {
    expectShape(op, epilogue.relu.out, out.shape);
    const a = i8(epilogue.relu.out, op);
    const table = reluTable(epilogue.relu.slopeInv);
    for (let i = 0; i < n; i++) a[i] = table[s[i] + 128];
  }
}

let scratch = new Int32Array(0);

/** A reusable int32 buffer of at least n elements (its contents are stale). */
export function scratchZ(n: number): Int32Array {
  if (scratch.length < n) scratch = new Int32Array(n);
  return scratch.subarray(0, n);
}

/** out[B, O] = x[B, K] · w[O, K]ᵀ + bias, computed as zᵀ[O, B] = w · xᵀ. */
export function linear(p: LinearParams): void {
  const op = 'linear';
  const [B, K] = p.x.shape;
  const [O] = p.w.shape;
  expectShape(op, p.w, [O, K]);
  expectShape(op, p.out, [B, O]);
  if (p.bias) expectShape(op, p.bias, [O]);
  const x = i8(p.x, op);
  const w = i32(p.w, op);
  const bias = p.bias ? i32(p.bias, op) : undefined;
  const ws = workspace(O, B, K);
  packA(ws, w, 0, K, 1);
  packB(ws, x, 0, 1, K);
  multiply(ws);
  const { mem, c, N8 } = ws;
  const z = scratchZ(B * O);
  for (let o = 0; o < O; o++) {
    const bo = bias ? bias[o] : 0;
    let q = c + o * N8;
    for (let b = 0; b < B; b++, q++) z[b * O + o] = (mem[q] + bo) | 0;
  }
  storeWithEpilogue(op, z, p.out, p.epilogue);
}

/** Copies C[M, N] (row stride N8) of a product to a dense [M, N] int32 output. */
function unpackC(mem: Int32Array, c: number, M: number, N: number, N8: number, out: Int32Array): void {
  if (N === N8) {
    out.set(mem.subarray(c, c + M * N));
    return;
  }
  for (let m = 0; m < M; m++) out.set(mem.subarray(c + m * N8, c + m * N8 + N), m * N);
}

/** out[B, K] = g[B, O] · w[O, K]. */
export function linearInputGrad(p: { g: Tensor; w: Tensor; out: Tensor }): void {
  const op = 'linearInputGrad';
  const [B, O] = p.g.shape;
  const K = p.w.shape[1];
  expectShape(op, p.w, [O, K]);
  expectShape(op, p.out, [B, K]);
  const g = dataOf(p.g);
  const w = i32(p.w, op);
  const out = i32(p.out, op);
  const ws = workspace(B, K, O);
  packA(ws, g, 0, O, 1);
  packB(ws, w, 0, K, 1);
  multiply(ws);
  unpackC(ws.mem, ws.c, B, K, ws.N8, out);
}

/** out[O, K] = gᵀ · x with g [B, O] (i8 or i32) and x [B, K] (i8). */
export function linearWeightGrad(p: { g: Tensor; x: Tensor; out: Tensor }): void {
  const op = 'linearWeightGrad';
  const [B, O] = p.g.shape;
  const K = p.x.shape[1];
  expectShape(op, p.x, [B, K]);
  expectShape(op, p.out, [O, K]);
  const g = dataOf(p.g);
  const x = i8(p.x, op);
  const out = i32(p.out, op);
  const ws = workspace(O, K, B);
  packA(ws, g, 0, 1, O);
  packB(ws, x, 0, K, 1);
  multiply(ws);
  unpackC(ws.mem, ws.c, O, K, ws.N8, out);
}
