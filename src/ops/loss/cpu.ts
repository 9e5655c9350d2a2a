/** Loss gradient (int8 wrap), accuracy and RSS metrics, confusion counts on the CPU. */
import type { LossParams, Tensor } from '../../backend.ts';
import { i32, i8 } from '../../cpu/tensor.ts';

/** Index of the first maximum of row b (ties -> lowest index). */
function argmaxRow(y: Int8Array, b: number, C: number): number {
  let at = 0;
  for (let k = 1; k < C; k++) if (y[b * C + k] > y[b * C + at]) at = k;
  return at;
}

function label(labels: Int32Array, b: number, C: number, op: string): number {
  const l = labels[b];
  if (l < 0 || l >= C)
    throw new Error(`${op}: label ${l} of sample ${b} is not a class index in [0, ${C - 1}]`);
  return l;
}

export function lossGradient(p: LossParams): void {
  const op = 'lossGradient';
  const [B, C] = p.yhat.shape;
  const y = i8(p.yhat, op);
  const labels = i32(p.labels, op);
  const g = i8(p.out, op);
  const oneHot = p.oneHot;
  let correct = 0;
  let rss = 0;
  // One pass per row: the gradient (stored as int8, which wraps as wrapI8 does), its squares and
  // the first maximum, in a loop V8 keeps on typed-array fast paths (no calls inside).
  for (let b = 0, row = 0; b < B; b++, row += C) {
    const l = labels[b];
    if (l < 0 || l >= C) label(labels, b, C, op);
    let at = 0;
    let best = y[row];
    for (let k = 0; k < C; k++) {
      const v = y[row + k];
      if (v > best) {
        best = v;
        at = k;
      }
      const d = k === l ? v - oneHot : v;
      g[row + k] = d;
      rss += d * d;
    }
    if (at === l) correct++;
  }
  if (p.metrics) {
    const m = i32(p.metrics.tensor, op);
    const o = p.metrics.offset;
    m[o] = (m[o] + correct) | 0;
    // 64-bit sum in two words: rss < 2^31 per call, carry from the unsigned low word.
    const lo = (m[o + 1] >>> 0) + rss;
    m[o + 1] = lo | 0;
    m[o + 2] = (m[o + 2] + Math.floor(lo / 0x100000000)) | 0;
  }
}

export function confusion(p: { yhat: Tensor; labels: Tensor; out: Tensor }): void {
  const op = 'confusion';
  const [B, C] = p.yhat.shape;
  const y = i8(p.yhat, op);
  const labels = i32(p.labels, op);
  const out = i32(p.out, op);
  for (let b = 0; b < B; b++) {
    const l = label(labels, b, C, op);
    out[l * C + argmaxRow(y, b, C)]++;
  }
}
