/**
 * Max-pooling with kernel = stride on the CPU; the backward recomputes each window's argmax,
 * optionally takes the window gradients from a linear head and applies NITRO-ReLU's backward.
 */
import type { MaxPoolBackwardParams, MaxPoolParams, PadMode } from '../../backend.ts';
import type { CpuWorkspace } from '../../cpu/gemm.ts';
import { CpuTensor, i32, i8 } from '../../cpu/tensor.ts';
import { invSlopeTable, reluBackwardAt } from '../activation/cpu.ts';
import { linearInputGrad } from '../linear/cpu.ts';
import { poolGeometry } from './contract.ts';

/**
 * The winning cell of window (oi, oj) in one plane: returns its flat index in the plane, or -1
 * when a pad cell wins ('zero' mode; first maximum in row-major window order).
 */
function argmaxOf(
  x: Int8Array,
  base: number,
  H: number,
  W: number,
  oi: number,
  oj: number,
  kh: number,
  kw: number,
  ph: number,
  pw: number,
  mode: PadMode,
): number {
  let best = -2147483648;
  let at = -1;
  for (let u = 0; u < kh; u++) {
    const h = oi * kh + u - ph;
    for (let v = 0; v < kw; v++) {
      const w = oj * kw + v - pw;
      const inside = h >= 0 && h < H && w >= 0 && w < W;
      if (!inside && mode === 'ignore') continue;
      const value = inside ? x[base + h * W + w] : 0;
      if (value > best) {
        best = value;
        at = inside ? h * W + w : -1;
      }
    }
  }
  return at;
}

/**
 * Max of window (oi, oj) over its cells inside the image (int8 values); -129 when none. Cells
 * of a window that reaches into the padding are skipped here; the callers add the pad cells'
 * zero in 'zero' mode.
 */
function insideMax(
  x: Int8Array,
  base: number,
  H: number,
  W: number,
  h0: number,
  w0: number,
  kh: number,
  kw: number,
): number {
  const hEnd = Math.min(H, h0 + kh);
  const wEnd = Math.min(W, w0 + kw);
  const ws = Math.max(0, w0);
  let best = -129;
  for (let h = Math.max(0, h0); h < hEnd; h++) {
    const row = base + h * W;
    for (let w = ws; w < wEnd; w++) {
      // max without a branch (int8 values: the difference cannot overflow).
      const d = x[row + w] - best;
      best += d & ~(d >> 31);
    }
  }
  return best;
}

export function maxPool(p: MaxPoolParams): void {
  const op = 'maxPool';
  const { B, C, ho: Ho, wo: Wo } = poolGeometry(p);
  const [, , H, W] = p.x.shape;
  const [kh, kw] = p.kernel;
  const [ph, pw] = p.padding;
  const x = i8(p.x, op);
  const out = i8(p.out, op);
  const zeroPads = p.padMode === 'zero';
  for (let plane = 0; plane < B * C; plane++) {
    const base = plane * H * W;
    for (let oi = 0; oi < Ho; oi++) {
      const h0 = oi * kh - ph;
      const rowPads = h0 < 0 || h0 + kh > H;
      for (let oj = 0; oj < Wo; oj++) {
        const w0 = oj * kw - pw;
        let m = insideMax(x, base, H, W, h0, w0, kh, kw);
        // A window with pad cells: in 'zero' mode they hold 0 and take part in the max.
        if (zeroPads && m < 0 && (rowPads || w0 < 0 || w0 + kw > W)) m = 0;
        out[(plane * Ho + oi) * Wo + oj] = m < -128 ? 0 : m;
      }
    }
  }
}

/** First cell holding the maximum of a window that lies wholly inside the image (row-major order). */
function interiorArgmax(
  x: Int8Array,
  base: number,
  W: number,
  h0: number,
  w0: number,
  kh: number,
  kw: number,
): number {
  let at = base + h0 * W + w0;
  let best = x[at];
  for (let u = 0; u < kh; u++) {
    const row = base + (h0 + u) * W + w0;
    for (let v = 0; v < kw; v++) {
      // Strictly greater replaces (first maximum wins), without a branch: gt is -1 or 0.
      const gt = (best - x[row + v]) >> 31;
      best += (x[row + v] - best) & gt;
      at += (row + v - at) & gt;
    }
  }
  return at - base;
}

/** The gradient at every pool output [B, C, Ho, Wo]: p.delta, or the head's input gradient g·w (linearInputGrad into a reused array). */
function windowDeltas(
  cw: CpuWorkspace,
  op: string,
  p: MaxPoolBackwardParams,
  shape: readonly number[],
): Int32Array {
  if (p.delta) return i32(p.delta, op);
  const { g, w } = p.head!;
  const [B, C, Ho, Wo] = shape;
  const J = C * Ho * Wo;
  const d = cw.array('pool.head', B * J);
  linearInputGrad(cw, { g, w, out: new CpuTensor([B, J], 'i32', `${op} head gradient`, d, false) });
  return d;
}

export function maxPoolBackward(cw: CpuWorkspace, p: MaxPoolBackwardParams): void {
  const op = 'maxPoolBackward';
  const { B, C, ho: Ho, wo: Wo } = poolGeometry(p);
  const delta = windowDeltas(cw, op, p, [B, C, Ho, Wo]);
  const [, , H, W] = p.x.shape;
  const [kh, kw] = p.kernel;
  const [ph, pw] = p.padding;
  const x = i8(p.x, op);
  const out = i32(p.out, op);
  let s: Int8Array | undefined;
  let table: Int32Array = new Int32Array(0);
  if (p.relu) {
    s = i8(p.relu.x, op);
    table = invSlopeTable(p.relu.slopeInv);
  }
  out.fill(0);
  for (let plane = 0; plane < B * C; plane++) {
    const base = plane * H * W;
    for (let oi = 0; oi < Ho; oi++) {
      const h0 = oi * kh - ph;
      const rowInside = h0 >= 0 && h0 + kh <= H;
      for (let oj = 0; oj < Wo; oj++) {
        const w0 = oj * kw - pw;
        const at =
          rowInside && w0 >= 0 && w0 + kw <= W
            ? interiorArgmax(x, base, W, h0, w0, kh, kw)
            : argmaxOf(x, base, H, W, oi, oj, kh, kw, ph, pw, p.padMode);
        if (at < 0) continue;
        const d = delta[(plane * Ho + oi) * Wo + oj];
        out[base + at] = s ? reluBackwardAt(d, s[base + at], table) : d;
      }
    }
  }
}
