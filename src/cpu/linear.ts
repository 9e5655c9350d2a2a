/** Integer linear layers on the CPU: forward with the NITRO epilogue, input and weight gradients. */
import type { Epilogue, LinearParams, Tensor } from '../backend.ts';
import { nitroRelu, nitroScale } from '../arith.ts';
import { dataOf, expectShape, i32, i8 } from './tensor.ts';

/** Writes z (int32) to `out` directly, or through NITRO scaling (and NITRO-ReLU) as int8. */
export function storeWithEpilogue(op: string, z: Int32Array, out: Tensor, epilogue: Epilogue | undefined): void {
  if (!epilogue) {
    i32(out, op).set(z);
    return;
  }
  const s = i8(out, op);
  const sf = epilogue.scale;
  for (let i = 0; i < z.length; i++) s[i] = nitroScale(z[i], sf);
  if (epilogue.relu) {
    expectShape(op, epilogue.relu.out, out.shape);
    const a = i8(epilogue.relu.out, op);
    const slope = epilogue.relu.slopeInv;
    for (let i = 0; i < s.length; i++) a[i] = nitroRelu(s[i], slope);
  }
}

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
  const z = new Int32Array(B * O);
  for (let b = 0; b < B; b++) {
    const xo = b * K;
    for (let o = 0; o < O; o++) {
      const wo = o * K;
      // |x| <= 128 and |w| < 2^31: products and up to 2^14 of their sums are exact doubles.
      let acc = bias ? bias[o] : 0;
      let k = 0;
      while (k < K) {
        const end = Math.min(K, k + 8192);
        let part = 0;
        for (; k < end; k++) part += x[xo + k] * w[wo + k];
        acc = (acc + (part | 0)) | 0;
      }
      z[b * O + o] = acc;
    }
  }
  storeWithEpilogue(op, z, p.out, p.epilogue);
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
  out.fill(0);
  for (let b = 0; b < B; b++) {
    const ob = b * K;
    for (let o = 0; o < O; o++) {
      const gv = g[b * O + o];
      if (gv === 0) continue;
      const wo = o * K;
      for (let k = 0; k < K; k++) out[ob + k] = (out[ob + k] + Math.imul(gv, w[wo + k])) | 0;
    }
  }
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
  out.fill(0);
  for (let o = 0; o < O; o++) {
    const oo = o * K;
    for (let b = 0; b < B; b++) {
      const gv = g[b * O + o];
      if (gv === 0) continue;
      const xb = b * K;
      for (let k = 0; k < K; k++) out[oo + k] = (out[oo + k] + Math.imul(gv, x[xb + k])) | 0;
    }
  }
}
