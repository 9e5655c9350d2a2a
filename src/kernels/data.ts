/** Batch gather with augmentation, input normalisation and training dropout on the device. */
import source from '../../shaders/data.wgsl?raw';
import type { Tensor } from '../backend.ts';
import { type KernelContext, grid1d } from './context.ts';
import {
  expectDistinct,
  expectDtype,
  expectRank,
  expectRowsLike,
  expectShape,
  expectSize,
  fail,
  layoutOf,
  sameStorage,
} from './layout.ts';

const WG = 64;

function grid(ctx: KernelContext, n: number): [number, number, number] {
  return grid1d(n, WG, ctx.limits.maxComputeWorkgroupsPerDimension);
}

export interface GatherParams {
  data: Tensor;
  labels: Tensor;
  indices: Tensor;
  cursor: Tensor;
  out: Tensor;
  outLabels: Tensor;
  augment?: { params: Tensor; pad: number };
}

export function gather(ctx: KernelContext, p: GatherParams): void {
  const op = 'gather';
  expectDtype(op, p.data, 'i8');
  const n = p.data.shape[0];
  const { rowLength, rowWords } = layoutOf(p.data);
  expectDtype(op, p.labels, 'i32');
  expectShape(op, p.labels, [n]);
  expectDtype(op, p.indices, 'i32');
  expectRank(op, p.indices, [1]);
  expectDtype(op, p.cursor, 'i32');
  expectSize(op, p.cursor, 1);
  expectDtype(op, p.out, 'i8');
  expectDtype(op, p.outLabels, 'i32');
  const batch = p.outLabels.size;
  expectRowsLike(op, p.out, [batch, rowLength]);
  if (layoutOf(p.out).rows !== batch)
    fail(op, `${p.out.label} must have ${batch} rows, one per label`);
  expectDistinct(op, p.data, p.out);
  const words = batch * rowWords;
  const overrides = { WG, COUNT: words, ROW_LEN: rowLength, ROW_WORDS: rowWords, B: batch };
  const resources: Record<string, Tensor> = {
    data: p.data,
    labels: p.labels,
    indices: p.indices,
    cursor: p.cursor,
    out8: p.out,
    out_labels: p.outLabels,
  };
  const a = p.augment;
  if (!a) {
    ctx.dispatch(ctx.kernel('data', source, 'gather', overrides), resources, grid(ctx, words));
    return;
  }
  // Images [N, C, H, W] (or [N, H, W]); the crop keeps the image size.
  expectRank(op, p.data, [3, 4]);
  const [h, w] = p.data.shape.slice(-2);
  expectDtype(op, a.params, 'i32');
  expectRank(op, a.params, [2]);
  if (a.params.shape[1] !== 5)
    fail(op, `${a.params.label} must be [steps, 5] (crop, dy, dx, flip, pad value)`);
  if (!Number.isInteger(a.pad) || a.pad < 0)
    fail(op, `augment pad ${a.pad} must be a non-negative integer`);
  const k = ctx.kernel('data', source, 'gather_augment', { ...overrides, H: h, W: w, PAD: a.pad });
  ctx.dispatch(k, { ...resources, aug: a.params }, grid(ctx, words));
}

export function normalize(ctx: KernelContext, p: { x: Tensor; stats: Tensor; out: Tensor }): void {
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
  const x = layoutOf(p.x);
  if (p.x.shape.length < 2 || x.rowLength % channels !== 0)
    fail(op, `${p.x.label} must be [N, ${channels}, ...]`);
  expectDistinct(op, p.stats, p.out);
  const inPlace = sameStorage(p.x, p.out);
  const k = ctx.kernel('data', source, inPlace ? 'normalize_in_place' : 'normalize', {
    WG,
    COUNT: x.words,
    ROW_LEN: x.rowLength,
    ROW_WORDS: x.rowWords,
    C: channels,
    CH_LEN: x.rowLength / channels,
  });
  ctx.dispatch(
    k,
    inPlace ? { stats: p.stats, out8: p.out } : { data: p.x, stats: p.stats, out8: p.out },
    grid(ctx, x.words),
  );
}

/** Train-time multiplier R of the kept values (x · R / 1000) per drop rate in per mille. */
export const DROPOUT_MULTIPLIER: Readonly<Record<number, number>> = {
  50: 1052,
  100: 1111,
  150: 1176,
  200: 1250,
  250: 1333,
};

/** One uniform buffer per seed and device (recorded programs keep referring to it). */
const seedBuffers = new WeakMap<KernelContext, Map<number, GPUBuffer>>();

function seedBuffer(ctx: KernelContext, seed: number): GPUBuffer {
  let buffers = seedBuffers.get(ctx);
  if (!buffers) seedBuffers.set(ctx, (buffers = new Map()));
  let buffer = buffers.get(seed);
  if (!buffer)
    buffers.set(
      seed,
      (buffer = ctx.uniform(Uint32Array.of(seed, 0, 0, 0), `dropout seed ${seed}`)),
    );
  return buffer;
}

export function dropout(
  ctx: KernelContext,
  p: { x: Tensor; out: Tensor; ratePermille: number; seed: number; cursor: Tensor },
): void {
  const op = 'dropout';
  expectDtype(op, p.x, 'i8');
  expectDtype(op, p.out, 'i8');
  expectRowsLike(op, p.out, p.x.shape);
  expectDtype(op, p.cursor, 'i32');
  expectSize(op, p.cursor, 1);
  const mult = DROPOUT_MULTIPLIER[p.ratePermille];
  if (mult === undefined)
    fail(
      op,
      `rate ${p.ratePermille} per mille is not one of ${Object.keys(DROPOUT_MULTIPLIER).join(', ')} (outputs must stay int8)`,
    );
  if (!Number.isInteger(p.seed)) fail(op, `seed ${p.seed} must be an integer`);
  const seed = p.seed >>> 0;
  const x = layoutOf(p.x);
  const inPlace = sameStorage(p.x, p.out);
  const k = ctx.kernel('data', source, inPlace ? 'dropout_in_place' : 'dropout', {
    WG,
    COUNT: x.words,
    ROW_LEN: x.rowLength,
    ROW_WORDS: x.rowWords,
    RATE: p.ratePermille,
    MULT: mult,
  });
  const resources = { cursor: p.cursor, out8: p.out, seed: seedBuffer(ctx, seed) };
  ctx.dispatch(k, inPlace ? resources : { ...resources, data: p.x }, grid(ctx, x.words));
}
