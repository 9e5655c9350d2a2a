/**
 * The CPU implementation of every op on one backend's workspace: one twin per op family, on
 * checked parameters (the backend puts checkedOps in front). A weight-gradient op with a fused
 * update and no `out` puts its gradient in a workspace array reused from call to call.
 */
import { type Ops, type SgdUpdate, sizeOf, type Tensor } from '../backend.ts';
import type { CpuWorkspace } from '../cpu/gemm.ts';
import { CpuTensor } from '../cpu/tensor.ts';
import { nitroRelu, nitroReluBackward, scale } from './activation/cpu.ts';
import { conv2d, conv2dBiasGrad, conv2dWeightGrad } from './conv/cpu.ts';
import { dropout, gather, normalize } from './data/cpu.ts';
import { linear, linearInputGrad, linearWeightGrad } from './linear/cpu.ts';
import { confusion, lossGradient } from './loss/cpu.ts';
import { advance, fill } from './misc/cpu.ts';
import { maxPool, maxPoolBackward } from './pool/cpu.ts';
import { fusedSgd, integerSgd } from './sgd/cpu.ts';

export function createCpuOps(cw: CpuWorkspace): Ops {
  /** Where a weight-gradient op puts the gradient: `out`, or with a fused update the reused buffer. */
  const gradientOut = (op: string, out: Tensor | undefined, shape: readonly number[]): Tensor => {
    if (out) return out;
    const data = cw.array('gradient', sizeOf(shape));
    return new CpuTensor(shape, 'i32', `${op} gradient`, data, false);
  };
  const withSgd = (op: string, sgd: SgdUpdate | undefined, grad: Tensor) => {
    if (sgd) fusedSgd(op, sgd, grad);
  };
  return {
    linear: (p) => linear(cw, p),
    conv2d: (p) => conv2d(cw, p),
    scale,
    nitroRelu,
    nitroReluBackward,
    maxPool: (p) => maxPool(cw, p),
    maxPoolBackward: (p) => maxPoolBackward(cw, p),
    lossGradient,
    linearInputGrad: (p) => linearInputGrad(cw, p),
    // The updates run on the gradient in the workspace (no gradient array without `out`).
    linearWeightGrad: (p) => linearWeightGrad(cw, p),
    conv2dWeightGrad: (p) => conv2dWeightGrad(cw, p),
    conv2dBiasGrad: (p) => {
      const out = gradientOut('conv2dBiasGrad', p.out, [p.delta.shape[1]]);
      conv2dBiasGrad({ delta: p.delta, out });
      withSgd('conv2dBiasGrad', p.sgd, out);
    },
    integerSgd,
    confusion,
    gather,
    normalize,
    dropout,
    advance,
    fill,
  };
}
