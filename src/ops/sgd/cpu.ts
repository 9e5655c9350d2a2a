/** IntegerSGD (docs/algorithm.md §5) on the CPU, alone or after a weight gradient. */
import type { SgdUpdate, Tensor } from '../../backend.ts';
import { i32 } from '../../cpu/tensor.ts';
import type { IntegerSgdParams } from './contract.ts';

/**
 * w -= trunc(g / D) (+ trunc(w / decayInv)) with D = amp·lrInv. One division replaces
 * trunc(trunc(g / amp) / lrInv): the two are equal for positive divisors, and the double
 * quotient truncates exactly (|g| ≤ 2^31; a D too large to be exact makes both quotients 0).
 */
function sgdStep(w: Int32Array, g: Int32Array, n: number, D: number, decayInv: number): void {
  if (decayInv > 0) {
    for (let i = 0; i < n; i++) {
      const wi = w[i];
      w[i] = (wi - ((((g[i] / D) | 0) + ((wi / decayInv) | 0)) | 0)) | 0;
    }
  } else {
    for (let i = 0; i < n; i++) w[i] = (w[i] - ((g[i] / D) | 0)) | 0;
  }
}

/** Weights and gradient as flat arrays of one size (checked by the contract). */
function update(op: string, w: Tensor, grad: Int32Array, p: Omit<SgdUpdate, 'w'>): void {
  const lrInv = i32(p.lrInv, op)[0];
  // A value on the device, so only known here: the GPU cannot refuse it.
  if (lrInv <= 0) throw new Error(`${op}: lrInv ${lrInv} (in ${p.lrInv.label}) must be positive`);
  const wv = i32(w, op);
  sgdStep(wv, grad, wv.length, p.amp * lrInv, p.decayInv);
}

export function integerSgd(p: IntegerSgdParams): void {
  update('integerSgd', p.w, i32(p.grad, 'integerSgd'), p);
}

/** The update a weight-gradient op fuses (Ops SgdUpdate), with the gradient in `grad`. */
export function fusedSgd(op: string, sgd: SgdUpdate, grad: Tensor): void {
  update(op, sgd.w, i32(grad, op), sgd);
}
