/** NITRO scaling, NITRO-ReLU and its backward on WebGPU (docs/algorithm.md §1.2, §1.3). */
import type { Tensor } from '../../backend.ts';
import { type KernelContext, grid1d } from '../../kernels/context.ts';
import { layoutOf } from '../../kernels/layout.ts';
import { sameStorage } from '../checks.ts';
import { correction } from './contract.ts';
import { defineShader } from '../../kernels/shaders.ts';

/** shaders/activation.wgsl: its entry points and override constants (checked against the WGSL). */
export const shader = defineShader(
  'activation',
  [
    'scale',
    'nitro_relu',
    'nitro_relu_in_place',
    'nitro_relu_backward',
    'nitro_relu_backward_in_place',
  ],
  ['WG', 'COUNT', 'ROW_LEN', 'ROW_WORDS', 'SF', 'SLOPE_INV', 'CORR'],
);

const WG = 64;

function grid(ctx: KernelContext, n: number): [number, number, number] {
  return grid1d(n, WG, ctx.limits.maxComputeWorkgroupsPerDimension);
}

export function scale(ctx: KernelContext, p: { x: Tensor; out: Tensor; scale: number }): void {
  const o = layoutOf(p.out);
  const k = ctx.kernel(shader, 'scale', {
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
  const o = layoutOf(p.out);
  const inPlace = sameStorage(p.x, p.out);
  const k = ctx.kernel(shader, inPlace ? 'nitro_relu_in_place' : 'nitro_relu', {
    WG,
    COUNT: o.words,
    ROW_LEN: o.rowLength,
    ROW_WORDS: o.rowWords,
    SLOPE_INV: p.slopeInv,
    CORR: correction(p.slopeInv),
  });
  ctx.dispatch(k, inPlace ? { out8: p.out } : { x8: p.x, out8: p.out }, grid(ctx, o.words));
}

export function nitroReluBackward(
  ctx: KernelContext,
  p: { delta: Tensor; x: Tensor; out: Tensor; slopeInv: number },
): void {
  const inPlace = sameStorage(p.delta, p.out);
  const x = layoutOf(p.x);
  const n = p.x.size;
  const k = ctx.kernel(shader, inPlace ? 'nitro_relu_backward_in_place' : 'nitro_relu_backward', {
    WG,
    COUNT: n,
    ROW_LEN: x.rowLength,
    ROW_WORDS: x.rowWords,
    SLOPE_INV: p.slopeInv,
  });
  ctx.dispatch(
    k,
    inPlace ? { x8: p.x, out32: p.out } : { delta: p.delta, x8: p.x, out32: p.out },
    grid(ctx, n),
  );
}
