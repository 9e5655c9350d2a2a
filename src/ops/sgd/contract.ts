/** IntegerSGD (docs/algorithm.md §5): its parameters and checks, alone or fused into a weight gradient. */
import type { Ops, SgdUpdate, Tensor } from '../../backend.ts';
import { expectDistinct, expectDtype, expectInt, expectSize } from '../checks.ts';

export type IntegerSgdParams = Parameters<Ops['integerSgd']>[0];

function checkConstants(op: string, amp: number, decayInv: number): void {
  expectInt(op, 'amp', amp, 1, 0x7fffffff, 'a positive int32');
  expectInt(op, 'decayInv', decayInv, 0, 0x7fffffff, '0 (off) or a positive int32');
}

/** The gradient has as many elements as the weights (any shape: [O, K] or a flat view). */
export function checkIntegerSgd(p: IntegerSgdParams): void {
  const op = 'integerSgd';
  expectDtype(op, p.w, 'i32');
  expectDtype(op, p.grad, 'i32');
  expectDtype(op, p.lrInv, 'i32');
  expectSize(op, p.grad, p.w.size);
  expectSize(op, p.lrInv, 1);
  expectDistinct(op, p.grad, p.w);
  expectDistinct(op, p.lrInv, p.w);
  checkConstants(op, p.amp, p.decayInv);
}

/**
 * The IntegerSGD a weight-gradient op fuses (Ops SgdUpdate) on `size` gradient sums read from
 * `inputs`: the weights take that many elements and are none of the inputs.
 */
export function checkSgdUpdate(op: string, sgd: SgdUpdate, size: number, inputs: Tensor[]): void {
  expectDtype(op, sgd.w, 'i32');
  expectDtype(op, sgd.lrInv, 'i32');
  expectSize(op, sgd.w, size);
  expectSize(op, sgd.lrInv, 1);
  expectDistinct(op, sgd.lrInv, sgd.w);
  for (const t of inputs) expectDistinct(op, t, sgd.w);
  checkConstants(op, sgd.amp, sgd.decayInv);
}

/** A weight-gradient op stores its gradient in `out` or applies it with `sgd`: at least one. */
export function gradientTarget(
  op: string,
  out: Tensor | undefined,
  sgd: SgdUpdate | undefined,
): Tensor {
  const t = out ?? sgd?.w;
  if (!t)
    throw new Error(`${op}: needs out (for the gradient) or sgd (to update the weights with it)`);
  return t;
}
