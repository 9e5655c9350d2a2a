/** IntegerSGD (docs/algorithm.md §5), in place on the weights. */
import common from '../../shaders/int-common.wgsl?raw';
import family from '../../shaders/sgd.wgsl?raw';
import type { SgdUpdate, Tensor } from '../backend.ts';
import { type KernelContext, grid1d } from './context.ts';
import { expectDistinct, expectDtype, expectSize, fail } from './layout.ts';

/** sgd.wgsl with the shared integer helpers it calls (WGSL has no imports). */
const source = `${family}\n${common}`;

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
  checkConstants(op, p.amp, p.decayInv);
  const n = p.w.size;
  const k = ctx.kernel('sgd', source, 'integer_sgd', {
    WG,
    COUNT: n,
    AMP: p.amp,
    DECAY_INV: p.decayInv,
  });
  ctx.dispatch(
    k,
    { w: p.w, grad: p.grad, lr_inv: p.lrInv },
    grid1d(n, WG, ctx.limits.maxComputeWorkgroupsPerDimension),
  );
}

function checkConstants(op: string, amp: number, decayInv: number): void {
  if (!Number.isInteger(amp) || amp < 1 || amp > 0x7fffffff)
    fail(op, `amp ${amp} must be a positive int32`);
  if (!Number.isInteger(decayInv) || decayInv < 0 || decayInv > 0x7fffffff) {
    fail(op, `decayInv ${decayInv} must be 0 (off) or a positive int32`);
  }
}

/**
 * Checks the IntegerSGD a weight-gradient kernel fuses (Ops SgdUpdate) on `size` gradient sums
 * read from `inputs`; returns its override constants (AMP, DECAY_INV of the *_sgd entry points).
 */
export function fusedSgdOverrides(
  op: string,
  sgd: SgdUpdate,
  size: number,
  inputs: Tensor[],
): Record<string, number> {
  expectDtype(op, sgd.w, 'i32');
  expectDtype(op, sgd.lrInv, 'i32');
  expectSize(op, sgd.w, size);
  expectSize(op, sgd.lrInv, 1);
  expectDistinct(op, sgd.lrInv, sgd.w);
  for (const t of inputs) expectDistinct(op, t, sgd.w);
  checkConstants(op, sgd.amp, sgd.decayInv);
  return { AMP: sgd.amp, DECAY_INV: sgd.decayInv };
}
