/** CPU tensors: int8-valued data in an Int8Array, int32 in an Int32Array, dense C-order. */
import { type DType, sizeOf, type Tensor } from '../backend.ts';

export class CpuTensor implements Tensor {
  readonly size: number;
  constructor(
    readonly shape: readonly number[],
    readonly dtype: DType,
    readonly label: string,
    readonly data: Int8Array | Int32Array,
    readonly owner: boolean,
  ) {
    this.size = sizeOf(shape);
  }
}

export function dataOf(t: Tensor): Int8Array | Int32Array {
  if (!(t instanceof CpuTensor))
    throw new Error(`tensor ${t.label} does not belong to the CPU backend`);
  return t.data;
}

export function i32(t: Tensor, op: string): Int32Array {
  if (t.dtype !== 'i32') throw new Error(`${op}: tensor ${t.label} must be i32, is ${t.dtype}`);
  return dataOf(t) as Int32Array;
}

export function i8(t: Tensor, op: string): Int8Array {
  if (t.dtype !== 'i8') throw new Error(`${op}: tensor ${t.label} must be i8, is ${t.dtype}`);
  return dataOf(t) as Int8Array;
}

/** Checks a tensor's shape; names the op and the tensor on mismatch. */
export function expectShape(op: string, t: Tensor, shape: readonly number[]): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(
      `${op}: tensor ${t.label} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`,
    );
  }
}

/**
 * Checks only the element count: element-wise ops and pooling outputs accept any view of the
 * same elements (a flattened [B, C·H·W] for a [B, C, H, W] result), as the GPU kernels do.
 */
export function expectSize(op: string, t: Tensor, shape: readonly number[]): void {
  const want = shape.reduce((a, b) => a * b, 1);
  const have = t.shape.reduce((a, b) => a * b, 1);
  if (have !== want) {
    throw new Error(
      `${op}: tensor ${t.label} has shape [${t.shape.join(', ')}] (${have} elements), expected ${want} elements ([${shape.join(', ')}])`,
    );
  }
}
