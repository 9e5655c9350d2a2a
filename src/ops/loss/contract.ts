/** The loss gradient with metrics, and confusion counts (docs/algorithm.md §3): checks. */
import type { LossParams, Tensor } from '../../backend.ts';
import {
  expectDistinct,
  expectDtype,
  expectInt,
  expectRank,
  expectRowsLike,
  expectShape,
  fail,
} from '../checks.ts';

/** yhat [B, classes] i8 and labels [B] i32; returns B and the class count. */
function predictions(op: string, yhat: Tensor, labels: Tensor): { batch: number; classes: number } {
  expectDtype(op, yhat, 'i8');
  expectRank(op, yhat, [2]);
  const [batch, classes] = yhat.shape;
  expectDtype(op, labels, 'i32');
  expectShape(op, labels, [batch]);
  return { batch, classes };
}

export function checkLossGradient(p: LossParams): void {
  const op = 'lossGradient';
  predictions(op, p.yhat, p.labels);
  expectDtype(op, p.out, 'i8');
  expectRowsLike(op, p.out, p.yhat.shape);
  expectDistinct(op, p.yhat, p.out);
  expectInt(op, 'oneHot', p.oneHot, -128, 127, 'an int8');
  const m = p.metrics;
  if (!m) return;
  expectDtype(op, m.tensor, 'i32');
  if (!Number.isInteger(m.offset) || m.offset < 0 || m.offset + 3 > m.tensor.size) {
    fail(
      op,
      `metrics offset ${m.offset} needs three words inside ${m.tensor.label} (${m.tensor.size} elements)`,
    );
  }
}

export function checkConfusion(p: { yhat: Tensor; labels: Tensor; out: Tensor }): void {
  const op = 'confusion';
  const { classes } = predictions(op, p.yhat, p.labels);
  expectDtype(op, p.out, 'i32');
  expectShape(op, p.out, [classes, classes]);
}
