/**
 * Host-side layout of device tensors. An `i8` tensor is stored as u32 words, four int8 values
 * per word (element j of a row in byte j % 4 of word j / 4, little-endian like WGSL's
 * pack4xI8), each row padded with zeros to a whole word. `i32` tensors are dense.
 */
import { type DType, packedRowWords, rowsOf, sizeOf } from '../backend.ts';

export function packI8(
  values: ArrayLike<number>,
  shape: readonly number[],
): Uint32Array<ArrayBuffer> {
  const { rows, rowLength } = rowsOf(shape);
  const wordsPerRow = packedRowWords(rowLength);
  const words = new Uint32Array(rows * wordsPerRow);
  for (let r = 0; r < rows; r++) {
    const src = r * rowLength;
    const dst = r * wordsPerRow;
    for (let j = 0; j < rowLength; j++) {
      const v = values[src + j];
      words[dst + (j >> 2)] |= (v & 0xff) << ((j & 3) * 8);
    }
  }
  return words;
}

export function unpackI8(words: Uint32Array, shape: readonly number[]): Int32Array {
  const { rows, rowLength } = rowsOf(shape);
  const wordsPerRow = packedRowWords(rowLength);
  const out = new Int32Array(rows * rowLength);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < rowLength; j++) {
      const w = words[r * wordsPerRow + (j >> 2)];
      out[r * rowLength + j] = (w << (24 - (j & 3) * 8)) >> 24;
    }
  }
  return out;
}

/** Checks that values fit the dtype and the shape; names the tensor otherwise. */
export function checkValues(
  label: string,
  shape: readonly number[],
  dtype: DType,
  values: ArrayLike<number>,
): void {
  const n = sizeOf(shape);
  if (values.length !== n) {
    throw new Error(
      `tensor ${label}: expected ${n} values for shape [${shape.join(', ')}], got ${values.length}`,
    );
  }
  // Typed arrays of the dtype's width hold nothing else: no value to check.
  if (values instanceof Int8Array || (dtype === 'i32' && values instanceof Int32Array)) return;
  const lo = dtype === 'i8' ? -128 : -2147483648;
  const hi = dtype === 'i8' ? 127 : 2147483647;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (!Number.isInteger(v) || v < lo || v > hi) {
      throw new Error(
        `tensor ${label}: value ${v} at index ${i} is not an ${dtype === 'i8' ? 'int8' : 'int32'}`,
      );
    }
  }
}
