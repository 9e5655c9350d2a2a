/**
 * Max pooling (kernel = stride) and its backward without a stored argmax; the backward can
 * compute the window gradients from a linear head and apply NITRO-ReLU's backward as it routes them.
 */
import type { MaxPoolBackwardParams, MaxPoolParams } from '../../backend.ts';
import { type KernelContext, grid1d, type Resource } from '../../kernels/context.ts';
import { layoutOf } from '../../kernels/layout.ts';
import { poolGeometry } from './contract.ts';
import { defineShader } from '../../kernels/shaders.ts';

/** shaders/pool.wgsl: its entry points and override constants (checked against the WGSL). */
export const shader = defineShader(
  'pool',
  ['max_pool', 'max_pool_backward'],
  [
    'WG',
    'COUNT',
    'C',
    'H',
    'W',
    'HO',
    'WO',
    'KH',
    'KW',
    'PH',
    'PW',
    'IGNORE_PAD',
    'X_ROW_WORDS',
    'OUT_ROW_WORDS',
    'HEAD',
    'CLASSES',
    'G_ROW_WORDS',
    'RELU',
    'SLOPE_INV',
  ],
);

const WG = 64;

/** The override constants shared by both directions. */
function overridesOf(p: Omit<MaxPoolParams, 'out'>): Record<string, number> {
  const g = poolGeometry(p);
  return {
    WG,
    C: g.C,
    H: g.H,
    W: g.W,
    HO: g.ho,
    WO: g.wo,
    KH: g.kh,
    KW: g.kw,
    PH: g.ph,
    PW: g.pw,
    IGNORE_PAD: p.padMode === 'ignore' ? 1 : 0,
    X_ROW_WORDS: layoutOf(p.x).rowWords,
  };
}

export function maxPool(ctx: KernelContext, p: MaxPoolParams): void {
  const o = layoutOf(p.out);
  const k = ctx.kernel(shader, 'max_pool', {
    ...overridesOf(p),
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
  const g = poolGeometry(p);
  const windows = g.B * g.C * g.ho * g.wo;
  const overrides: Record<string, number> = { ...overridesOf(p), COUNT: windows };
  const resources: Record<string, Resource> = { x8: p.x, out32: p.out };
  if (p.delta) {
    resources.delta = p.delta;
    resources.g8 = ctx.scratch.placeholder('g8');
    resources.head_w = ctx.scratch.placeholder('head_w');
  } else if (p.head) {
    const { g: hg, w } = p.head;
    const classes = hg.shape[1];
    Object.assign(overrides, { HEAD: 1, CLASSES: classes, G_ROW_WORDS: layoutOf(hg).rowWords });
    resources.delta = ctx.scratch.placeholder('delta');
    resources.g8 = hg;
    resources.head_w = w;
  }
  if (p.relu) {
    Object.assign(overrides, { RELU: 1, SLOPE_INV: p.relu.slopeInv });
    resources.s8 = p.relu.x;
  } else {
    resources.s8 = ctx.scratch.placeholder('s8');
  }
  const k = ctx.kernel(shader, 'max_pool_backward', overrides);
  ctx.dispatch(k, resources, grid1d(windows, WG, ctx.limits.maxComputeWorkgroupsPerDimension));
}
