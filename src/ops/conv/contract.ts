/**
 * Stride-1 zero-padded integer convolution (cross-correlation, docs/algorithm.md §2.2) with the
 * NITRO epilogue, its weight gradient and its bias gradient (§4; the IntegerSGD update optionally
 * fused into either): parameters, checks and the output geometry.
 */
import type { Conv2dParams, Ops, Tensor } from '../../backend.ts';
import { checkEpilogue } from '../activation/contract.ts';
import {
  expectDistinct,
  expectDtype,
  expectInt,
  expectRank,
  expectShape,
  fail,
  shapeText,
} from '../checks.ts';
import { checkSgdUpdate, gradientTarget } from '../sgd/contract.ts';

export type ConvWeightGradParams = Parameters<Ops['conv2dWeightGrad']>[0];

export type ConvBiasGradParams = Parameters<Ops['conv2dBiasGrad']>[0];

export interface ConvGeometry {
  B: number;
  C: number;
  H: number;
  W: number;
  F: number;
  /** Kernel size (square) and padding. */
  k: number;
  pad: number;
  /** Output rows and columns: H + 2 pad - k + 1, likewise for W. */
  HO: number;
  WO: number;
}

/** The geometry of input x [B, C, H, W] under weights w [F, C, k, k] (a checked call). */
export function convGeometry(x: Tensor, w: Tensor, padding: number): ConvGeometry {
  const [B, C, H, W] = x.shape;
  const [F, , k] = w.shape;
  return {
    B,
    C,
    H,
    W,
    F,
    k,
    pad: padding,
    HO: H + 2 * padding - k + 1,
    WO: W + 2 * padding - k + 1,
  };
}

function checkGeometry(op: string, x: Tensor, w: Tensor, padding: number): ConvGeometry {
  expectDtype(op, x, 'i8');
  expectDtype(op, w, 'i32');
  const [, C] = x.shape;
  const [, Cw, k, k2] = w.shape;
  if (x.shape.length !== 4 || w.shape.length !== 4 || Cw !== C || k !== k2)
    fail(op, `input ${shapeText(x)} and weights ${shapeText(w)} do not fit`);
  expectInt(op, 'padding', padding, 0, 0x7fffffff, 'a non-negative integer');
  const g = convGeometry(x, w, padding);
  if (g.HO <= 0 || g.WO <= 0) fail(op, `kernel ${k} is larger than the padded input ${g.H}x${g.W}`);
  return g;
}

export function checkConv2d(p: Conv2dParams): void {
  const op = 'conv2d';
  const g = checkGeometry(op, p.x, p.w, p.padding);
  expectShape(op, p.out, [g.B, g.F, g.HO, g.WO]);
  if (p.bias) {
    expectDtype(op, p.bias, 'i32');
    expectShape(op, p.bias, [g.F]);
  }
  checkEpilogue(op, p.out, p.epilogue);
  expectDistinct(op, p.x, p.out);
  expectDistinct(op, p.w, p.out);
}

/** The weights' shape comes from out, or from the weights sgd updates. */
export function checkConv2dWeightGrad(p: ConvWeightGradParams): void {
  const op = 'conv2dWeightGrad';
  const shaped = gradientTarget(op, p.out, p.sgd);
  const g = checkGeometry(op, p.x, shaped, p.padding);
  expectDtype(op, p.delta, 'i32');
  expectShape(op, p.delta, [g.B, g.F, g.HO, g.WO]);
  if (p.out) {
    expectDistinct(op, p.delta, p.out);
    expectDistinct(op, p.x, p.out);
  }
  if (p.sgd) checkSgdUpdate(op, p.sgd, shaped.size, [p.delta, p.x]);
}

export function checkConv2dBiasGrad(p: ConvBiasGradParams): void {
  const op = 'conv2dBiasGrad';
  const shaped = gradientTarget(op, p.out, p.sgd);
  expectDtype(op, p.delta, 'i32');
  expectRank(op, p.delta, [4]);
  const F = p.delta.shape[1];
  expectDtype(op, shaped, 'i32');
  expectShape(op, shaped, [F]);
  if (p.out) expectDistinct(op, p.delta, p.out);
  if (p.sgd) checkSgdUpdate(op, p.sgd, F, [p.delta]);
}
