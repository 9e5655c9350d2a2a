/**
 * Max pooling with kernel = stride (docs/algorithm.md §1.4, §10.3) and its backward, optionally
 * from a linear head and through NITRO-ReLU's backward: parameters, checks and output shape.
 */
import type { MaxPoolBackwardParams, MaxPoolParams } from '../../backend.ts';
import { checkSlope } from '../activation/contract.ts';
import {
  expectDistinct,
  expectDtype,
  expectRank,
  expectRowsLike,
  expectShape,
  expectSize,
  fail,
} from '../checks.ts';

export interface PoolGeometry {
  B: number;
  C: number;
  H: number;
  W: number;
  kh: number;
  kw: number;
  ph: number;
  pw: number;
  /** Output rows and columns: floor((H + 2 ph - kh) / kh) + 1, likewise for W. */
  ho: number;
  wo: number;
}

/** The geometry of a checked call. */
export function poolGeometry(p: Omit<MaxPoolParams, 'out'>): PoolGeometry {
  const [B, C, H, W] = p.x.shape;
  const [kh, kw] = p.kernel;
  const [ph, pw] = p.padding;
  const ho = Math.floor((H + 2 * ph - kh) / kh) + 1;
  const wo = Math.floor((W + 2 * pw - kw) / kw) + 1;
  return { B, C, H, W, kh, kw, ph, pw, ho, wo };
}

/** x [B, C, H, W] i8; a pad at most half the kernel (wider would allow windows of pad cells only). */
function checkWindows(op: string, p: Omit<MaxPoolParams, 'out'>): PoolGeometry {
  expectDtype(op, p.x, 'i8');
  expectRank(op, p.x, [4]);
  for (const [k, pad] of [
    [p.kernel[0], p.padding[0]],
    [p.kernel[1], p.padding[1]],
  ]) {
    if (!Number.isInteger(k) || k < 1)
      fail(op, `kernel [${p.kernel.join(', ')}] must be positive integers`);
    if (!Number.isInteger(pad) || pad < 0 || 2 * pad > k)
      fail(op, `padding [${p.padding.join(', ')}] must be at most half the kernel`);
  }
  if (p.padMode !== 'zero' && p.padMode !== 'ignore')
    fail(op, `unknown padMode ${String(p.padMode)}`);
  const g = poolGeometry(p);
  if (g.ho < 1 || g.wo < 1)
    fail(op, `input ${g.H}x${g.W} is smaller than the kernel ${g.kh}x${g.kw} with padding`);
  return g;
}

export function checkMaxPool(p: MaxPoolParams): void {
  const op = 'maxPool';
  const g = checkWindows(op, p);
  expectDtype(op, p.out, 'i8');
  expectRowsLike(op, p.out, [g.B, g.C, g.ho, g.wo]); // or its flattened [B, C*Ho*Wo]
  expectDistinct(op, p.x, p.out);
}

export function checkMaxPoolBackward(p: MaxPoolBackwardParams): void {
  const op = 'maxPoolBackward';
  const g = checkWindows(op, p);
  expectDtype(op, p.out, 'i32');
  expectSize(op, p.out, p.x.size);
  expectDistinct(op, p.x, p.out);
  if ((p.delta === undefined) === (p.head === undefined))
    fail(
      op,
      'needs exactly one of delta (the pool output gradient) and head (g and w to compute it)',
    );
  const windows = g.B * g.C * g.ho * g.wo;
  if (p.delta) {
    expectDtype(op, p.delta, 'i32');
    expectSize(op, p.delta, windows);
    expectDistinct(op, p.delta, p.out);
  } else if (p.head) {
    const { g: hg, w } = p.head;
    expectDtype(op, hg, 'i8');
    expectRank(op, hg, [2]);
    const classes = hg.shape[1];
    expectShape(op, hg, [g.B, classes]);
    expectDtype(op, w, 'i32');
    expectShape(op, w, [classes, g.C * g.ho * g.wo]);
    expectDistinct(op, hg, p.out);
    expectDistinct(op, w, p.out);
  }
  if (p.relu) {
    expectDtype(op, p.relu.x, 'i8');
    expectRowsLike(op, p.relu.x, p.x.shape);
    expectDistinct(op, p.relu.x, p.out);
    checkSlope(op, p.relu.slopeInv);
  }
}
