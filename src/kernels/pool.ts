/**
 * Max pooling (kernel = stride) and its backward without a stored argmax; the backward can
 * compute the window gradients from a linear head and apply NITRO-ReLU's backward as it routes them.
 */
import family from '../../shaders/pool.wgsl?raw';
import reluBackward from '../../shaders/relu-backward.wgsl?raw';
import { type MaxPoolBackwardParams, type MaxPoolParams, sizeOf } from '../backend.ts';
import { correction } from './activation.ts';
import { type KernelContext, grid1d, type Resource } from './context.ts';
import {
  expectDistinct,
  expectDtype,
  expectRank,
  expectRowsLike,
  expectShape,
  expectSize,
  fail,
  layoutOf,
} from './layout.ts';
import { placeholder } from './scratch.ts';

const WG = 64;
const source = `${family}\n${reluBackward}`;

/** Validates the geometry and returns the override constants shared by both directions. */
function geometry(
  op: string,
  p: Omit<MaxPoolParams, 'out'>,
): { out: number[]; overrides: Record<string, number> } {
  expectDtype(op, p.x, 'i8');
  expectRank(op, p.x, [4]);
  const [B, C, H, W] = p.x.shape;
  const [kh, kw] = p.kernel;
  const [ph, pw] = p.padding;
  for (const [k, pad] of [
    [kh, ph],
    [kw, pw],
  ]) {
    if (!Number.isInteger(k) || k < 1)
      fail(op, `kernel [${p.kernel.join(', ')}] must be positive integers`);
    // A pad as wide as the kernel would allow windows of pad cells only.
    if (!Number.isInteger(pad) || pad < 0 || pad >= k)
      fail(op, `padding [${p.padding.join(', ')}] must be in [0, kernel)`);
  }
  if (p.padMode !== 'zero' && p.padMode !== 'ignore')
    fail(op, `unknown padMode ${String(p.padMode)}`);
  const ho = Math.floor((H + 2 * ph - kh) / kh) + 1;
  const wo = Math.floor((W + 2 * pw - kw) / kw) + 1;
  if (ho < 1 || wo < 1)
    fail(op, `input ${H}x${W} is smaller than the kernel ${kh}x${kw} with padding`);
  return {
    out: [B, C, ho, wo],
    overrides: {
      WG,
      C,
      H,
      W,
      HO: ho,
      WO: wo,
      KH: kh,
      KW: kw,
      PH: ph,
      PW: pw,
      IGNORE_PAD: p.padMode === 'ignore' ? 1 : 0,
      X_ROW_WORDS: layoutOf(p.x).rowWords,
    },
  };
}

export function maxPool(ctx: KernelContext, p: MaxPoolParams): void {
  const op = 'maxPool';
  const g = geometry(op, p);
  expectDtype(op, p.out, 'i8');
  expectRowsLike(op, p.out, g.out); // [B, C, Ho, Wo] or its flattened [B, C*Ho*Wo]
  expectDistinct(op, p.x, p.out);
  const o = layoutOf(p.out);
  const k = ctx.kernel('pool', source, 'max_pool', {
    ...g.overrides,
    COUNT: o.words,
    OUT_ROW_WORDS: o.rowWords,
  });
  ctx.dispatch(
    k,
    { x8: p.x, out8: p.out },
    grid1d(o.words, WG, ctx.limits.maxComputeWorkgroupsPerDimension),
  );
}

export function maxPoolBackward(ctx: KernelContext, p: MaxPoolBackwardParams): void {
  const op = 'maxPoolBackward';
  const g = geometry(op, p);
  const [B, C, ho, wo] = g.out;
  expectDtype(op, p.out, 'i32');
  expectSize(op, p.out, p.x.size);
  if ((p.delta === undefined) === (p.head === undefined))
    fail(
      op,
      'needs exactly one of delta (the pool output gradient) and head (g and w to compute it)',
    );
  const windows = sizeOf(g.out);
  const overrides: Record<string, number> = { ...g.overrides, COUNT: windows };
  const resources: Record<string, Resource> = { x8: p.x, out32: p.out };
  if (p.delta) {
    expectDtype(op, p.delta, 'i32');
    expectSize(op, p.delta, windows);
    expectDistinct(op, p.delta, p.out);
    resources.delta = p.delta;
    resources.g8 = placeholder(ctx.device, 'g8');
    resources.head_w = placeholder(ctx.device, 'head_w');
  } else if (p.head) {
    const { g: hg, w } = p.head;
    expectDtype(op, hg, 'i8');
    expectRank(op, hg, [2]);
    const classes = hg.shape[1];
    expectShape(op, hg, [B, classes]);
    expectDtype(op, w, 'i32');
    expectShape(op, w, [classes, C * ho * wo]);
    expectDistinct(op, w, p.out);
    Object.assign(overrides, { HEAD: 1, CLASSES: classes, G_ROW_WORDS: layoutOf(hg).rowWords });
    resources.delta = placeholder(ctx.device, 'delta');
    resources.g8 = hg;
    resources.head_w = w;
  }
  if (p.relu) {
    expectDtype(op, p.relu.x, 'i8');
    expectRowsLike(op, p.relu.x, p.x.shape);
    correction(op, p.relu.slopeInv);
    Object.assign(overrides, { RELU: 1, SLOPE_INV: p.relu.slopeInv });
    resources.s8 = p.relu.x;
  } else {
    resources.s8 = placeholder(ctx.device, 's8');
  }
  const k = ctx.kernel('pool', source, 'max_pool_backward', overrides);
  ctx.dispatch(k, resources, grid1d(windows, WG, ctx.limits.maxComputeWorkgroupsPerDimension));
}
