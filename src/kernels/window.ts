/**
 * A window of a tensor's storage: the rows [b0, b1) of a batch tensor, or a scratch role seen as
 * a tensor, bound at a byte offset with the window's own size. Kernel wrappers take it like any
 * tensor (they read its shape); the WebGPU backend binds `{ buffer, offset, size }`.
 */
import { type DType, deviceBytes, type Tensor } from '../backend.ts';
import type { ScratchRole } from './scratch.ts';

export class TensorWindow implements Tensor {
  readonly size: number;
  /** Bytes the window binds (deviceBytes of its shape). */
  readonly byteLength: number;

  constructor(
    /** The tensor (or scratch role) whose storage the window lies in. */
    readonly base: Tensor | ScratchRole,
    /** Offset of the window in the base's storage; a multiple of minStorageBufferOffsetAlignment. */
    readonly byteOffset: number,
    readonly shape: readonly number[],
    readonly dtype: DType,
    readonly label: string,
  ) {
    this.size = shape.reduce((a, b) => a * b, 1);
    this.byteLength = deviceBytes(shape, dtype);
  }

  /** The scratch role `role` (grown to fit) as a tensor of `shape`. */
  static ofScratch(role: ScratchRole, shape: readonly number[], dtype: DType): TensorWindow {
    return new TensorWindow(role, 0, shape, dtype, `scratch ${role.role}`);
  }
}

/** Bytes between consecutive indexes of dimension 0 (whole rows; single elements of a 1-D tensor). */
export function strideBytes(t: Tensor): number {
  if (t.shape.length >= 2) return deviceBytes(t.shape, t.dtype) / t.shape[0];
  return t.dtype === 'i32' ? 4 : 1;
}

/** Rows [b0, b1) along dimension 0 of `t` (a window of a window stays in the first base). */
export function rowWindow(t: Tensor, b0: number, b1: number): TensorWindow {
  const shape = [b1 - b0, ...t.shape.slice(1)];
  const offset = b0 * strideBytes(t);
  const label = `${t.label}[${b0}:${b1}]`;
  if (t instanceof TensorWindow)
    return new TensorWindow(t.base, t.byteOffset + offset, shape, t.dtype, label);
  return new TensorWindow(t, offset, shape, t.dtype, label);
}
