/** NITRO scaling, NITRO-ReLU and its backward (docs/algorithm.md §1.2, §1.3). */
import family from '../../shaders/activation.wgsl?raw';
import reluBackward from '../../shaders/relu-backward.wgsl?raw';
import { ALLOWED_SLOPES, RELU_CORRECTION } from '../arith.ts';
import type { Tensor } from '../backend.ts';
import { type KernelContext, grid1d } from './context.ts';
import {
  expectDistinct,
  expectDtype,
  expectSameRows,
  expectSize,
  fail,
  layoutOf,
  sameStorage,
} from './layout.ts';

const WG = 64;
const source = `${family}\n${reluBackward}`;

/** c(slopeInv) (arith.ts), failing with a one-line error naming `op` when slopeInv is not an allowed inverse slope. */
export function correction(op: string, slopeInv: number): number {
  const c = RELU_CORRECTION[slopeInv];
  if (c === undefined) fail(op, `slopeInv ${slopeInv} is not one of ${ALLOWED_SLOPES.join(', ')}`);
  return c;
}

function grid(ctx: KernelContext, n: number): [number, number, number] {
  return grid1d(n, WG, ctx.limits.maxComputeWorkgroupsPerDimension);
}

export function scale(ctx: KernelContext, p: { x: Tensor; out: Tensor; scale: number }): void {
  const op = 'scale';
  expectDtype(op, p.x, 'i32');
  expectDtype(op, p.out, 'i8');
  expectSize(op, p.x, p.out.size);
  if (!Number.isInteger(p.scale) || p.scale < 1 || p.scale > 0x7fffffff)
    fail(op, `scale ${p.scale} must be a positive int32`);
  const o = layoutOf(p.out);
  const k = ctx.kernel('activation', source, 'scale', {
    WG,
    COUNT: o.words,
    ROW_LEN: o.rowLength,
    ROW_WORDS: o.rowWords,
    SF: p.scale,
  });
  ctx.dispatch(k, { x32: p.x, out8: p.out }, grid(ctx, o.words));
}

export function nitroRelu(
  ctx: KernelContext,
  p: { x: Tensor; out: Tensor; slopeInv: number },
): void {
  const op = 'nitroRelu';
  expectDtype(op, p.x, 'i8');
  expectDtype(op, p.out, 'i8');
  expectSameRows(op, p.x, p.out);
  const corr = correction(op, p.slopeInv);
  const o = layoutOf(p.out);
  const inPlace = sameStorage(p.x, p.out);
  const k = ctx.kernel('activation', source, inPlace ? 'nitro_relu_in_place' : 'nitro_relu', {
    WG,
    COUNT: o.words,
    ROW_LEN: o.rowLength,
    ROW_WORDS: o.rowWords,
    SLOPE_INV: p.slopeInv,
    CORR: corr,
  });
  ctx.dispatch(k, inPlace ? { out8: p.out } : { x8: p.x, out8: p.out }, grid(ctx, o.words));
}

export function nitroReluBackward(
  ctx: KernelContext,
  p: { delta: Tensor; x: Tensor; out: Tensor; slopeInv: number },
): void {
  const op = 'nitroReluBackward';
  expectDtype(op, p.delta, 'i32');
  expectDtype(op, p.x, 'i8');
  expectDtype(op, p.out, 'i32');
  expectSize(op, p.delta, p.x.size);
  expectSize(op, p.out, p.x.size);
  expectDistinct(op, p.x, p.out);
  correction(op, p.slopeInv);
  const inPlace = sameStorage(p.delta, p.out);
  const x = layoutOf(p.x);
  const n = p.x.size;
  const k = ctx.kernel(
    'activation',
    source,
    inPlace ? 'nitro_relu_backward_in_place' : 'nitro_relu_backward',
    {
      WG,
      COUNT: n,
      ROW_LEN: x.rowLength,
      ROW_WORDS: x.rowWords,
      SLOPE_INV: p.slopeInv,
    },
  );
  ctx.dispatch(
    k,
    inPlace ? { x8: p.x, out32: p.out } : { delta: p.delta, x8: p.x, out32: p.out },
    grid(ctx, n),
  );
}
