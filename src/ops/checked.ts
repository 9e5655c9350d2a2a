/**
 * Every op's contract checks, run once in front of a backend's kernels: `checkedOps(inner)`
 * checks each call's parameters (throwing the contract's one-line error) and only then passes
 * it on, so the WebGPU wrappers and the CPU twins receive checked parameters and compute.
 */
import type { Ops } from '../backend.ts';
import { checkNitroRelu, checkNitroReluBackward, checkScale } from './activation/contract.ts';
import { checkConv2d, checkConv2dBiasGrad, checkConv2dWeightGrad } from './conv/contract.ts';
import { checkDropout, checkGather, checkNormalize } from './data/contract.ts';
import { checkLinear, checkLinearInputGrad, checkLinearWeightGrad } from './linear/contract.ts';
import { checkConfusion, checkLossGradient } from './loss/contract.ts';
import { checkAdvance, checkFill } from './misc/contract.ts';
import { checkMaxPool, checkMaxPoolBackward } from './pool/contract.ts';
import { checkIntegerSgd } from './sgd/contract.ts';

type Checks = { [K in keyof Ops]: (p: Parameters<Ops[K]>[0]) => void };

/** The contract of each op, by name. */
export const CHECKS: Checks = {
  linear: checkLinear,
  conv2d: checkConv2d,
  scale: checkScale,
  nitroRelu: checkNitroRelu,
  nitroReluBackward: checkNitroReluBackward,
  maxPool: checkMaxPool,
  maxPoolBackward: checkMaxPoolBackward,
  lossGradient: checkLossGradient,
  linearInputGrad: checkLinearInputGrad,
  linearWeightGrad: checkLinearWeightGrad,
  conv2dWeightGrad: checkConv2dWeightGrad,
  conv2dBiasGrad: checkConv2dBiasGrad,
  integerSgd: checkIntegerSgd,
  confusion: checkConfusion,
  gather: checkGather,
  normalize: checkNormalize,
  dropout: checkDropout,
  advance: checkAdvance,
  fill: checkFill,
};

export function checkedOps(inner: Ops): Ops {
  const ops = {} as Record<keyof Ops, (p: never) => void>;
  for (const name of Object.keys(CHECKS) as (keyof Ops)[]) {
    const check = CHECKS[name] as (p: never) => void;
    const run = inner[name] as (p: never) => void;
    ops[name] = (p: never) => {
      check(p);
      run(p);
    };
  }
  return ops as unknown as Ops;
}
