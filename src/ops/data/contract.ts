/**
 * Batch gather (with augmentation, docs/algorithm.md §7.1), integer input normalisation (§2.1)
 * and training dropout (§1.6): parameters, checks and the dropout table.
 */
import type { Ops } from '../../backend.ts';
import { layoutOf } from '../../kernels/layout.ts';
import {
  expectDistinct,
  expectDtype,
  expectInt,
  expectRank,
  expectRowsLike,
  expectShape,
  expectSize,
  fail,
} from '../checks.ts';

export type GatherParams = Parameters<Ops['gather']>[0];

export type NormalizeParams = Parameters<Ops['normalize']>[0];

export type DropoutParams = Parameters<Ops['dropout']>[0];

/**
 * The reference's train-time multipliers R of dropout (kept values become trunc(x · R / 1000)),
 * by rate in per mille: R = ⌊10^6 / (1000 − rate)⌋. Only rates whose scaled NITRO-ReLU outputs
 * stay int8 are listed (91 · 1333 / 1000 = 121 at 250 ‰; 300 ‰ would give 129).
 */
export const DROPOUT: Readonly<Record<number, number>> = {
  50: 1052,
  100: 1111,
  150: 1176,
  200: 1250,
  250: 1333,
};

/** R for an allowed rate (checked by checkDropout). */
export function dropoutMultiplier(ratePermille: number): number {
  return DROPOUT[ratePermille];
}

export function checkGather(p: GatherParams): void {
  const op = 'gather';
  expectDtype(op, p.data, 'i8');
  expectRank(op, p.data, [2, 3, 4]);
  const n = p.data.shape[0];
  const { rowLength } = layoutOf(p.data);
  expectDtype(op, p.labels, 'i32');
  expectShape(op, p.labels, [n]);
  expectDtype(op, p.indices, 'i32');
  expectRank(op, p.indices, [1]);
  expectDtype(op, p.cursor, 'i32');
  expectSize(op, p.cursor, 1);
  expectDtype(op, p.out, 'i8');
  expectDtype(op, p.outLabels, 'i32');
  expectRank(op, p.outLabels, [1]);
  const batch = p.outLabels.size;
  expectRowsLike(op, p.out, [batch, rowLength]);
  expectDistinct(op, p.data, p.out);
  expectDistinct(op, p.labels, p.outLabels);
  const a = p.augment;
  if (!a) return;
  // Images [N, C, H, W] (or [N, H, W]); the crop keeps the image size.
  expectRank(op, p.data, [3, 4]);
  expectShape(op, p.out, [batch, ...p.data.shape.slice(1)]);
  expectDtype(op, a.params, 'i32');
  expectRank(op, a.params, [2]);
  if (a.params.shape[1] !== 5)
    fail(op, `${a.params.label} must be [steps, 5] (crop, dy, dx, flip, pad value)`);
  expectInt(op, 'augment pad', a.pad, 0, 0x7fffffff, 'a non-negative integer');
}

export function checkNormalize(p: NormalizeParams): void {
  const op = 'normalize';
  expectDtype(op, p.x, 'i8');
  expectDtype(op, p.stats, 'i32');
  expectRank(op, p.stats, [2]);
  expectDtype(op, p.out, 'i8');
  expectRowsLike(op, p.out, p.x.shape);
  const [two, channels] = p.stats.shape;
  if (two !== 2) fail(op, `${p.stats.label} must be [2, C] (means, then mean absolute deviations)`);
  if (p.x.shape.length === 4 && p.x.shape[1] !== channels)
    fail(op, `${p.x.label} must have ${channels} channels`);
  if (p.x.shape.length < 2 || layoutOf(p.x).rowLength % channels !== 0)
    fail(op, `${p.x.label} must be [N, ${channels}, ...]`);
  expectDistinct(op, p.stats, p.out);
}

export function checkDropout(p: DropoutParams): void {
  const op = 'dropout';
  expectDtype(op, p.x, 'i8');
  expectDtype(op, p.out, 'i8');
  expectRowsLike(op, p.out, p.x.shape);
  expectDtype(op, p.cursor, 'i32');
  expectSize(op, p.cursor, 1);
  if (DROPOUT[p.ratePermille] === undefined)
    fail(
      op,
      `rate ${p.ratePermille} per mille is not one of ${Object.keys(DROPOUT).join(', ')} (outputs must stay int8)`,
    );
  if (!Number.isInteger(p.seed)) fail(op, `seed ${p.seed} must be an integer`);
  if (p.rowOffset !== undefined)
    expectInt(op, 'rowOffset', p.rowOffset, 0, 0x7fffffff, 'a row count');
}
