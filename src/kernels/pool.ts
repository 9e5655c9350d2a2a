/** Max pooling (kernel = stride) and its backward without a stored argmax. */
import source from '../../shaders/pool.wgsl?raw';
import { type MaxPoolBackwardParams, type MaxPoolParams, sizeOf } from '../backend.ts';
import { type KernelContext, grid1d } from './context.ts';
import { expectDistinct, expectDtype, expectRank, expectRowsLike, expectSize, fail, layoutOf } from './layout.ts';

const WG = 64;

/** Validates the geometry and returns the override constants shared by both directions. */
function geometry(op: string, p: Omit<MaxPoolParams, 'out'>): { out: number[]; overrides: Record<string, number> } {
  expectDtype(op, p.x, 'i8');
  expectRank(op, p.x, [4]);
  const [B, C, H, W] = p.x.shape;
  const [kh, kw] = p.kernel;
  const [ph, pw] = p.padding;
  for (const [k, pad] of [[kh, ph], [kw, pw]]) {
    if (!Number.isInteger(k) || k < 1) fail(op, `kernel [${p.kernel.join(', ')}] must be positive integers`);
    // A pad as wide as the kernel would allow windows of pad cells only.
    if (!Number.isInteger(pad) || pad < 0 || pad >= k) fail(op, `padding [${p.padding.join(', ')}] must be in [0, kernel)`);
  }
  if (p.padMode !== 'zero' && p.padMode !== 'ignore') fail(op, `unknown padMode ${String(p.padMode)}`);
  const ho = Math.floor((H + 2 * ph - kh) / kh) + 1;
  const wo = Math.floor((W + 2 * pw - kw) / kw) + 1;
  if (ho < 1 || wo < 1) fail(op, `input ${H}x${W} is smaller than the kernel ${kh}x${kw} with padding`);
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
  const k = ctx.kernel('pool', source, 'max_pool', { ...g.overrides, COUNT: o.words, OUT_ROW_WORDS: o.rowWords });
  ctx.dispatch(k, { x8: p.x, out8: p.out }, grid1d(o.words, WG, ctx.limits.maxComputeWorkgroupsPerDimension));
}

export function maxPoolBackward(ctx: KernelContext, p: MaxPoolBackwardParams): void {
  const op = 'maxPoolBackward';
  const g = geometry(op, p);
  expectDtype(op, p.delta, 'i32');
  expectSize(op, p.delta, sizeOf(g.out));
  expectDtype(op, p.out, 'i32');
  expectSize(op, p.out, p.x.size);
  expectDistinct(op, p.delta, p.out);
  const windows = p.delta.size;
  const k = ctx.kernel('pool', source, 'max_pool_backward', { ...g.overrides, COUNT: windows });
  ctx.dispatch(k, { x8: p.x, delta: p.delta, out32: p.out }, grid1d(windows, WG, ctx.limits.maxComputeWorkgroupsPerDimension));
}
