/** Loss gradient with metric accumulation, and confusion counts (docs/algorithm.md §3). */
import source from '../../shaders/loss.wgsl?raw';
import type { LossParams, Tensor } from '../backend.ts';
import { type KernelContext, grid1d } from './context.ts';
import {
  expectDistinct,
  expectDtype,
  expectRank,
  expectRowsLike,
  expectShape,
  fail,
  layoutOf,
} from './layout.ts';

const WG = 64;

function predictions(op: string, yhat: Tensor, labels: Tensor): { batch: number; classes: number } {
  expectDtype(op, yhat, 'i8');
  expectRank(op, yhat, [2]);
  const [batch, classes] = yhat.shape;
  expectDtype(op, labels, 'i32');
  expectShape(op, labels, [batch]);
  return { batch, classes };
}

export function lossGradient(ctx: KernelContext, p: LossParams): void {
  const op = 'lossGradient';
  const { batch, classes } = predictions(op, p.yhat, p.labels);
  expectDtype(op, p.out, 'i8');
  expectRowsLike(op, p.out, p.yhat.shape);
  expectDistinct(op, p.yhat, p.out);
  if (!Number.isInteger(p.oneHot) || p.oneHot < -128 || p.oneHot > 127)
    fail(op, `oneHot ${p.oneHot} must be an int8`);
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
      ctx.kernel('loss', source, 'loss_gradient', overrides),
      { yhat: p.yhat, labels: p.labels, out8: p.out },
      grid,
    );
    return;
  }
  expectDtype(op, m.tensor, 'i32');
  if (!Number.isInteger(m.offset) || m.offset < 0 || m.offset + 3 > m.tensor.size) {
    fail(
      op,
      `metrics offset ${m.offset} needs three words inside ${m.tensor.label} (${m.tensor.size} elements)`,
    );
  }
  const k = ctx.kernel('loss', source, 'loss_gradient_metrics', { ...overrides, OFFSET: m.offset });
  ctx.dispatch(k, { yhat: p.yhat, labels: p.labels, out8: p.out, metrics: m.tensor }, grid);
}

export function confusion(
  ctx: KernelContext,
  p: { yhat: Tensor; labels: Tensor; out: Tensor },
): void {
  const op = 'confusion';
  const { batch, classes } = predictions(op, p.yhat, p.labels);
  expectDtype(op, p.out, 'i32');
  expectShape(op, p.out, [classes, classes]);
  const k = ctx.kernel('loss', source, 'confusion', {
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
