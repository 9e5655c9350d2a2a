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
