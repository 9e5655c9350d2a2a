/**
 * NITRO scaling and NITRO-ReLU both ways (docs/algorithm.md §1.2, §1.3): parameters, checks and
 * the table of allowed inverse slopes with their mean corrections. The linear and conv layers
 * check their fused epilogue (scaling, then NITRO-ReLU) with the same functions.
 */
import { INT32_MAX } from '../../arith.ts';
import type { Epilogue, Ops, Tensor } from '../../backend.ts';
import {
  expectDistinct,
  expectDtype,
  expectInt,
  expectRowsLike,
  expectShape,
  expectSize,
  fail,
} from '../checks.ts';

/** Allowed NITRO-ReLU inverse slopes s and their mean corrections c(s). */
export const RELU_CORRECTION: Readonly<Record<number, number>> = {
  3: 31,
  4: 36,
  5: 38,
  7: 40,
  8: 42,
  10: 43,
  15: 44,
  16: 44,
  20: 45,
};
export const ALLOWED_SLOPES: readonly number[] = Object.keys(RELU_CORRECTION).map(Number);

export function checkSlope(op: string, slopeInv: number): void {
  if (RELU_CORRECTION[slopeInv] === undefined)
    fail(op, `slopeInv ${slopeInv} is not one of ${ALLOWED_SLOPES.join(', ')}`);
}

/** f(x) = clip(x, 0, 127) + trunc(clip(x, -127, 0) / s) - c(s). */
export function nitroRelu(x: number, s: number): number {
  const pos = x > 127 ? 127 : x > 0 ? x : 0;
  const neg = x < -127 ? -127 : x < 0 ? x : 0;
  return pos + ((neg / s) | 0) - RELU_CORRECTION[s];
}

/** Inverse slope of NITRO-ReLU at its saved input x: the backward divides by it. */
export function nitroReluInvSlope(x: number, s: number): number {
  if (x >= 127 || x < -127) return INT32_MAX;
  return x >= 0 ? 1 : s;
}

/** c(s) of an allowed slope (checked by checkSlope). */
export function correction(slopeInv: number): number {
  return RELU_CORRECTION[slopeInv];
}

/** The scaling factor SF of NITRO scaling: out = clip(trunc(z / SF), -127, 127). */
export function checkScaleFactor(op: string, scale: number): void {
  expectInt(op, 'scale', scale, 1, 0x7fffffff, 'a positive int32');
}

/** A linear or conv layer's epilogue on its [B, ...] output `out` (i8 with one, i32 without). */
export function checkEpilogue(op: string, out: Tensor, e: Epilogue | undefined): void {
  expectDtype(op, out, e ? 'i8' : 'i32');
  if (!e) return;
  checkScaleFactor(op, e.scale);
  if (e.relu) {
    expectDtype(op, e.relu.out, 'i8');
    expectShape(op, e.relu.out, out.shape);
    checkSlope(op, e.relu.slopeInv);
  }
}

export function checkScale(p: { x: Tensor; out: Tensor; scale: number }): void {
  const op = 'scale';
  expectDtype(op, p.x, 'i32');
  expectDtype(op, p.out, 'i8');
  expectSize(op, p.x, p.out.size);
  checkScaleFactor(op, p.scale);
}

/** In place (x and out one tensor) is allowed. */
export function checkNitroRelu(p: { x: Tensor; out: Tensor; slopeInv: number }): void {
  const op = 'nitroRelu';
  expectDtype(op, p.x, 'i8');
  expectDtype(op, p.out, 'i8');
  expectRowsLike(op, p.out, p.x.shape);
  checkSlope(op, p.slopeInv);
}

/** delta and out may be one tensor; the saved input x may not be out. */
export type NitroReluBackwardParams = Parameters<Ops['nitroReluBackward']>[0];

export function checkNitroReluBackward(p: NitroReluBackwardParams): void {
  const op = 'nitroReluBackward';
  expectDtype(op, p.delta, 'i32');
  expectDtype(op, p.x, 'i8');
  expectDtype(op, p.out, 'i32');
  expectSize(op, p.delta, p.x.size);
  expectSize(op, p.out, p.x.size);
  expectDistinct(op, p.x, p.out);
  checkSlope(op, p.slopeInv);
}
