/** Loss gradient with metric accumulation, and confusion counts (docs/algorithm.md §3). */
import type { LossParams, Tensor } from '../../backend.ts';
import { type KernelContext, grid1d } from '../../kernels/context.ts';
import { layoutOf } from '../../kernels/layout.ts';
import { defineShader } from '../../kernels/shaders.ts';

/** shaders/loss.wgsl: its entry points and override constants (checked against the WGSL). */
export const shader = defineShader(
  'loss',
  ['loss_gradient', 'loss_gradient_metrics', 'confusion'],
  ['WG', 'B', 'CLASSES', 'ROW_WORDS', 'ONE_HOT', 'OFFSET'],
);

const WG = 64;

export function lossGradient(ctx: KernelContext, p: LossParams): void {
  const [batch, classes] = p.yhat.shape;
  const overrides = {
    WG,
    B: batch,
    CLASSES: classes,
    ROW_WORDS: layoutOf(p.yhat).rowWords,
    ONE_HOT: p.oneHot,
  };
  const grid = grid1d(batch, WG, ctx.limits.maxComputeWorkgroupsPerDimension);
  const m = p.metrics;
  if (!m) {
    ctx.dispatch(
      ctx.kernel(shader, 'loss_gradient', overrides),
      { yhat: p.yhat, labels: p.labels, out8: p.out },
      grid,
    );
    return;
  }
  const k = ctx.kernel(shader, 'loss_gradient_metrics', { ...overrides, OFFSET: m.offset });
  ctx.dispatch(k, { yhat: p.yhat, labels: p.labels, out8: p.out, metrics: m.tensor }, grid);
}

export function confusion(
  ctx: KernelContext,
  p: { yhat: Tensor; labels: Tensor; out: Tensor },
): void {
  const [batch, classes] = p.yhat.shape;
  const k = ctx.kernel(shader, 'confusion', {
    WG,
    B: batch,
    CLASSES: classes,
    ROW_WORDS: layoutOf(p.yhat).rowWords,
  });
  ctx.dispatch(
    k,
    { yhat: p.yhat, labels: p.labels, confusion_counts: p.out },
    grid1d(batch, WG, ctx.limits.maxComputeWorkgroupsPerDimension),
  );
}
