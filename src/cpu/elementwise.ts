/** Element-wise NITRO ops on the CPU: scaling, NITRO-ReLU both ways, IntegerSGD, normalisation, dropout. */
import type { SgdUpdate, Tensor } from '../backend.ts';
import { checkSlope, dropoutFactor, dropoutKeeps, nitroReluInvSlope } from '../arith.ts';
import { reluInto, reluTable, scaleInto } from './linear.ts';
import { CpuTensor, dataOf, expectShape, expectSize, i32, i8 } from './tensor.ts';

export function scale(p: { x: Tensor; out: Tensor; scale: number }): void {
  expectSize('scale', p.out, p.x.shape);
  if (!Number.isInteger(p.scale) || p.scale <= 0)
    throw new Error(`scale: scaling factor must be a positive integer, got ${p.scale}`);
  const x = i32(p.x, 'scale');
  const out = i8(p.out, 'scale');
  scaleInto(x, out, x.length, p.scale);
}

export function nitroReluForward(p: { x: Tensor; out: Tensor; slopeInv: number }): void {
  checkSlope(p.slopeInv, 'nitroRelu');
  expectSize('nitroRelu', p.out, p.x.shape);
  const x = i8(p.x, 'nitroRelu');
  const out = i8(p.out, 'nitroRelu');
  reluInto(x, out, x.length, reluTable(p.slopeInv));
}

/** NITRO-ReLU's inverse slope at every int8 input, indexed by value + 128. */
const invSlopeTables = new Map<number, Int32Array>();
export function invSlopeTable(slopeInv: number): Int32Array {
  let t = invSlopeTables.get(slopeInv);
  if (!t) {
    t = new Int32Array(256);
    for (let v = -128; v < 128; v++) t[v + 128] = nitroReluInvSlope(v, slopeInv);
    invSlopeTables.set(slopeInv, t);
  }
  return t;
}

/** NITRO-ReLU's backward at one cell: trunc(d / g_inv(x)) for the saved int8 input x (table: invSlopeTable). */
export function reluBackwardAt(d: number, x: number, table: Int32Array): number {
  return (d / table[x + 128]) | 0;
}

function divideBySlope(
  d: Int32Array,
  x: Int8Array,
  out: Int32Array,
  n: number,
  table: Int32Array,
): void {
  for (let i = 0; i < n; i++) out[i] = reluBackwardAt(d[i], x[i], table);
}

export function nitroReluBackward(p: {
  delta: Tensor;
  x: Tensor;
  out: Tensor;
  slopeInv: number;
}): void {
  const op = 'nitroReluBackward';
  checkSlope(p.slopeInv, op);
  expectSize(op, p.x, p.delta.shape);
  expectSize(op, p.out, p.delta.shape);
  const d = i32(p.delta, op);
  divideBySlope(d, i8(p.x, op), i32(p.out, op), d.length, invSlopeTable(p.slopeInv));
}

/**
 * w -= trunc(g / D) (+ trunc(w / decayInv)) with D = amp·lrInv. One division replaces
 * trunc(trunc(g / amp) / lrInv): the two are equal for positive divisors, and the double
 * quotient truncates exactly (|g| ≤ 2^31; a D too large to be exact makes both quotients 0).
 */
function sgdStep(w: Int32Array, g: Int32Array, n: number, D: number, decayInv: number): void {
  if (decayInv > 0) {
    for (let i = 0; i < n; i++) {
      const wi = w[i];
      w[i] = (wi - ((((g[i] / D) | 0) + ((wi / decayInv) | 0)) | 0)) | 0;
    }
  } else {
    for (let i = 0; i < n; i++) w[i] = (w[i] - ((g[i] / D) | 0)) | 0;
  }
}

export function integerSgd(p: {
  w: Tensor;
  grad: Tensor;
  lrInv: Tensor;
  amp: number;
  decayInv: number;
}): void {
  const op = 'integerSgd';
  expectShape(op, p.grad, p.w.shape);
  const w = i32(p.w, op);
  const g = i32(p.grad, op);
  const lrInv = i32(p.lrInv, op)[0];
  if (lrInv <= 0 || p.amp <= 0 || p.decayInv < 0)
    throw new Error(
      `${op}: lrInv ${lrInv}, amp ${p.amp} and decayInv ${p.decayInv} must be positive`,
    );
  sgdStep(w, g, w.length, p.amp * lrInv, p.decayInv);
}

/** The update a weight-gradient op fuses (Ops SgdUpdate): integerSgd of sgd.w with the gradient in `grad`. */
export function fusedSgd(op: string, sgd: SgdUpdate, grad: Tensor): void {
  if (sgd.w.size !== grad.size) {
    throw new Error(
      `${op}: weights ${sgd.w.label} [${sgd.w.shape.join(', ')}] do not match the gradient ${grad.label} [${grad.shape.join(', ')}]`,
    );
  }
  integerSgd({ ...sgd, grad: new CpuTensor(sgd.w.shape, 'i32', grad.label, i32(grad, op), false) });
}

export function normalize(p: { x: Tensor; stats: Tensor; out: Tensor }): void {
  const op = 'normalize';
  // Channels come from the stats, so flattened [N, C*H*W] rows work as on the GPU.
  const C = p.stats.shape[1];
  const N = p.x.shape[0];
  expectShape(op, p.out, p.x.shape);
  expectShape(op, p.stats, [2, C]);
  if (
    p.x.shape.length < 2 ||
    (p.x.size / N) % C !== 0 ||
    (p.x.shape.length === 4 && p.x.shape[1] !== C)
  ) {
    throw new Error(
      `${op}: tensor ${p.x.label} of shape [${p.x.shape.join(', ')}] must be [N, ${C}, ...] for ${C} channels of stats`,
    );
  }
  const x = i8(p.x, op);
  const out = i8(p.out, op);
  const stats = i32(p.stats, op);
  const plane = p.x.size / (N * C);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const mean = stats[c];
      const mad = stats[C + c];
      if (mad <= 0) throw new Error(`${op}: MAD of channel ${c} must be positive, got ${mad}`);
      const o = (n * C + c) * plane;
      for (let i = o; i < o + plane; i++) {
        const v = (((x[i] - mean) * 51) / mad) | 0;
        out[i] = Math.max(-128, Math.min(127, v));
      }
    }
  }
}

export function dropout(p: {
  x: Tensor;
  out: Tensor;
  ratePermille: number;
  seed: number;
  cursor: Tensor;
}): void {
  const op = 'dropout';
  expectShape(op, p.out, p.x.shape);
  const R = dropoutFactor(p.ratePermille);
  const x = i8(p.x, op);
  const out = i8(p.out, op);
  const step = i32(p.cursor, op)[0];
  for (let i = 0; i < x.length; i++) {
    out[i] = dropoutKeeps(p.seed, step, i, p.ratePermille) ? ((x[i] * R) / 1000) | 0 : 0;
  }
}

export function fill(p: { out: Tensor; value: number }): void {
  dataOf(p.out).fill(p.value);
}

export function advance(p: { cursor: Tensor }): void {
  const c = i32(p.cursor, 'advance');
  c[0] = (c[0] + 1) | 0;
}
