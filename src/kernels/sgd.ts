/** IntegerSGD (NITRO-D.md §5), in place on the weights. */
import source from '../../shaders/sgd.wgsl?raw';
import type { Tensor } from '../backend.ts';
import { type KernelContext, grid1d } from './context.ts';
import { expectDistinct, expectDtype, expectSize, fail } from './layout.ts';

const WG = 64;

export function integerSgd(
  ctx: KernelContext,
  p: { w: Tensor; grad: Tensor; lrInv: Tensor; amp: number; decayInv: number },
): void {
  const op = 'integerSgd';
  expectDtype(op, p.w, 'i32');
  expectDtype(op, p.grad, 'i32');
  expectDtype(op, p.lrInv, 'i32');
  expectSize(op, p.grad, p.w.size);
  expectSize(op, p.lrInv, 1);
  expectDistinct(op, p.grad, p.w);
  expectDistinct(op, p.lrInv, p.w);
  if (!Number.isInteger(p.amp) || p.amp < 1 || p.amp > 0x7fffffff) fail(op, `amp ${p.amp} must be a positive int32`);
  if (!Number.isInteger(p.decayInv) || p.decayInv < 0 || p.decayInv > 0x7fffffff) {
    fail(op, `decayInv ${p.decayInv} must be 0 (off) or a positive int32`);
  }
  const n = p.w.size;
  const k = ctx.kernel('sgd', source, 'integer_sgd', { WG, COUNT: n, AMP: p.amp, DECAY_INV: p.decayInv });
  ctx.dispatch(k, { w: p.w, grad: p.grad, lr_inv: p.lrInv }, grid1d(n, WG, ctx.limits.maxComputeWorkgroupsPerDimension));
}
