/** Packed-layout numbers of a tensor on the device (rows of int8 packed four to a word). */
import { packedRowWords, rowsOf, type Tensor } from '../backend.ts';

export interface Layout {
  rows: number;
  /** Logical elements per row. */
  rowLength: number;
  /** u32 words per row on the device (packed rows for i8, rowLength for i32). */
  rowWords: number;
  /** Words the tensor occupies. */
  words: number;
}

export function layoutOf(t: Tensor): Layout {
  const { rows, rowLength } = rowsOf(t.shape);
  const rowWords = t.dtype === 'i8' ? packedRowWords(rowLength) : rowLength;
  return { rows, rowLength, rowWords, words: rows * rowWords };
}
