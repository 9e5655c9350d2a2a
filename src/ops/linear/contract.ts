/**
 * The integer linear layer (docs/algorithm.md §2.2): forward with the NITRO epilogue, input
 * gradient (optionally through NITRO-ReLU's backward) and weight gradient (optionally with the
 * IntegerSGD update fused): parameters, checks and GEMM dimensions.
 */
import type { LinearParams, Ops, Tensor } from '../../backend.ts';
import { checkEpilogue, checkSlope } from '../activation/contract.ts';
import { expectDistinct, expectDtype, expectRank, expectShape, fail } from '../checks.ts';
import { checkSgdUpdate, gradientTarget } from '../sgd/contract.ts';

export type LinearInputGradParams = Parameters<Ops['linearInputGrad']>[0];

export type LinearWeightGradParams = Parameters<Ops['linearWeightGrad']>[0];

/** g of a gradient op: [B, O], i8 (a loss gradient) or i32 (a δ). */
function expectGradient(op: string, g: Tensor): void {
  expectRank(op, g, [2]);
  if (g.dtype !== 'i8' && g.dtype !== 'i32') fail(op, `${g.label} must be i8 or i32`);
}

export function checkLinear(p: LinearParams): void {
  const op = 'linear';
  expectDtype(op, p.x, 'i8');
  expectRank(op, p.x, [2]);
  const [B, K] = p.x.shape;
  expectDtype(op, p.w, 'i32');
  expectRank(op, p.w, [2]);
  const O = p.w.shape[0];
  expectShape(op, p.w, [O, K]);
  if (p.bias) {
    expectDtype(op, p.bias, 'i32');
    expectShape(op, p.bias, [O]);
  }
  expectShape(op, p.out, [B, O]);
  checkEpilogue(op, p.out, p.epilogue);
  expectDistinct(op, p.x, p.out);
  expectDistinct(op, p.w, p.out);
}

export function checkLinearInputGrad(p: LinearInputGradParams): void {
  const op = 'linearInputGrad';
  expectGradient(op, p.g);
  const [B, O] = p.g.shape;
  expectDtype(op, p.w, 'i32');
  expectRank(op, p.w, [2]);
  const K = p.w.shape[1];
  expectShape(op, p.w, [O, K]);
  expectDtype(op, p.out, 'i32');
  expectShape(op, p.out, [B, K]);
  expectDistinct(op, p.g, p.out);
  expectDistinct(op, p.w, p.out);
  if (p.relu) {
    expectDtype(op, p.relu.x, 'i8');
    expectShape(op, p.relu.x, [B, K]);
    expectDistinct(op, p.relu.x, p.out);
    checkSlope(op, p.relu.slopeInv);
  }
}

export function checkLinearWeightGrad(p: LinearWeightGradParams): void {
  const op = 'linearWeightGrad';
  gradientTarget(op, p.out, p.sgd);
  expectGradient(op, p.g);
  const [B, O] = p.g.shape;
  expectDtype(op, p.x, 'i8');
  expectRank(op, p.x, [2]);
  const K = p.x.shape[1];
  expectShape(op, p.x, [B, K]);
  if (p.out) {
    expectDtype(op, p.out, 'i32');
    expectShape(op, p.out, [O, K]);
    expectDistinct(op, p.g, p.out);
    expectDistinct(op, p.x, p.out);
  }
  if (p.sgd) checkSgdUpdate(op, p.sgd, O * K, [p.g, p.x]);
}
