/** Shape checks and packed-layout numbers shared by the element-wise kernel wrappers. */
import { packedRowWords, rowsOf, type DType, type Tensor } from '../backend.ts';

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

export function fail(op: string, message: string): never {
  throw new Error(`${op}: ${message}`);
}

const shapeText = (t: Tensor) => `${t.label} [${t.shape.join(', ')}]`;

export function expectDtype(op: string, t: Tensor, dtype: DType): void {
  if (t.dtype !== dtype) fail(op, `${shapeText(t)} must be ${dtype}, is ${t.dtype}`);
}

export function expectShape(op: string, t: Tensor, shape: readonly number[]): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    fail(op, `${shapeText(t)} must have shape [${shape.join(', ')}]`);
  }
}

export function expectRank(op: string, t: Tensor, ranks: readonly number[]): void {
  if (!ranks.includes(t.shape.length))
    fail(op, `${shapeText(t)} must have rank ${ranks.join(' or ')}`);
}

/** Same number of rows and row length (a [B, C, H, W] tensor and its [B, C*H*W] view qualify). */
export function expectSameRows(op: string, a: Tensor, b: Tensor): void {
  expectRowsLike(op, b, a.shape);
}

/** `t` has `shape`, or another shape with the same rows and row length (same device layout). */
export function expectRowsLike(op: string, t: Tensor, shape: readonly number[]): void {
  const la = rowsOf(t.shape);
  const lb = rowsOf(shape);
  if (la.rows !== lb.rows || la.rowLength !== lb.rowLength) {
    fail(
      op,
      `${shapeText(t)} must have the rows (first dimension) and row length of [${shape.join(', ')}]`,
    );
  }
}

export function expectSize(op: string, t: Tensor, size: number): void {
  if (t.size !== size) fail(op, `${shapeText(t)} must have ${size} elements`);
}

/** Whether two tensors share a device buffer (a tensor and its views do; views start at offset 0). */
export function sameStorage(a: Tensor, b: Tensor): boolean {
  const bufferOf = (t: Tensor) => (t as { buffer?: unknown }).buffer ?? t;
  return bufferOf(a) === bufferOf(b);
}

/** A dispatch cannot bind one buffer both read-only and writable. */
export function expectDistinct(op: string, input: Tensor, out: Tensor): void {
  if (sameStorage(input, out))
    fail(op, `${input.label} and ${out.label} share storage; this op cannot run in place`);
}
