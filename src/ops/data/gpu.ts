/** Batch gather with augmentation, input normalisation and training dropout on the device. */
import type { Tensor } from '../../backend.ts';
import { type KernelContext, grid1d } from '../../kernels/context.ts';
import { layoutOf } from '../../kernels/layout.ts';
import { sameStorage } from '../checks.ts';
import {
  type DropoutParams,
  dropoutMultiplier,
  type GatherParams,
  type NormalizeParams,
} from './contract.ts';
import { defineShader } from '../../kernels/shaders.ts';

/** shaders/data.wgsl: its entry points and override constants (checked against the WGSL). */
export const shader = defineShader(
  'data',
  ['gather', 'gather_augment', 'normalize', 'normalize_in_place', 'dropout', 'dropout_in_place'],
  ['WG', 'COUNT', 'ROW_LEN', 'ROW_WORDS', 'B', 'H', 'W', 'PAD', 'C', 'CH_LEN', 'RATE', 'MULT'],
);

const WG = 64;

function grid(ctx: KernelContext, n: number): [number, number, number] {
  return grid1d(n, WG, ctx.limits.maxComputeWorkgroupsPerDimension);
}

export function gather(ctx: KernelContext, p: GatherParams): void {
  const { rowLength, rowWords } = layoutOf(p.data);
  const batch = p.outLabels.size;
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
    ctx.dispatch(ctx.kernel(shader, 'gather', overrides), resources, grid(ctx, words));
    return;
  }
  const [h, w] = p.data.shape.slice(-2);
  const k = ctx.kernel(shader, 'gather_augment', { ...overrides, H: h, W: w, PAD: a.pad });
  ctx.dispatch(k, { ...resources, aug: a.params }, grid(ctx, words));
}

export function normalize(ctx: KernelContext, p: NormalizeParams): void {
  const channels = p.stats.shape[1];
  const x = layoutOf(p.x);
  const inPlace = sameStorage(p.x, p.out);
  const k = ctx.kernel(shader, inPlace ? 'normalize_in_place' : 'normalize', {
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

export function dropout(ctx: KernelContext, p: DropoutParams): void {
  const mult = dropoutMultiplier(p.ratePermille);
  const seed = p.seed >>> 0;
  const x = layoutOf(p.x);
  const offset = Math.imul(p.rowOffset ?? 0, x.rowLength) >>> 0;
  const inPlace = sameStorage(p.x, p.out);
  const k = ctx.kernel(shader, inPlace ? 'dropout_in_place' : 'dropout', {
    WG,
    COUNT: x.words,
    ROW_LEN: x.rowLength,
    ROW_WORDS: x.rowWords,
    RATE: p.ratePermille,
    MULT: mult,
  });
  const resources = {
    cursor: p.cursor,
    out8: p.out,
    // y: the element index of x's first row in the global batch (a data-parallel shard's).
    seed: ctx.scratch.constants([seed, offset, 0, 0], `dropout seed ${seed} offset ${offset}`),
  };
  ctx.dispatch(k, inPlace ? resources : { ...resources, data: p.x }, grid(ctx, x.words));
}
