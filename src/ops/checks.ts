/**
 * The checks an op contract is written with. Every failure is one line naming the op and the
 * tensor (with its shape) or the parameter; both backends run the same checks in front of their
 * kernels (checked.ts), so a bad call reads the same on each.
 */
import { type DType, rowsOf, type Tensor } from '../backend.ts';

export function fail(op: string, message: string): never {
  throw new Error(`${op}: ${message}`);
}

export const shapeText = (t: Tensor) => `${t.label} [${t.shape.join(', ')}]`;

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

/** An integer parameter in [lo, hi]; `what` completes "must be ...". */
export function expectInt(
  op: string,
  name: string,
  v: number,
  lo: number,
  hi: number,
  what: string,
): void {
  if (!Number.isInteger(v) || v < lo || v > hi) fail(op, `${name} ${v} must be ${what}`);
}

/**
 * Whether two tensors share storage: a WebGPU tensor and its views share a buffer, a CPU tensor
 * and its views an ArrayBuffer (views start at offset 0 on both).
 */
export function sameStorage(a: Tensor, b: Tensor): boolean {
  const storageOf = (t: Tensor) => {
    const s = t as { buffer?: unknown; data?: { buffer: unknown } };
    return s.buffer ?? s.data?.buffer ?? t;
  };
  return storageOf(a) === storageOf(b);
}

/** A dispatch cannot bind one buffer both read-only and writable: the op cannot run in place. */
export function expectDistinct(op: string, input: Tensor, out: Tensor): void {
  if (sameStorage(input, out))
    fail(op, `${input.label} and ${out.label} share storage; this op cannot run in place`);
}
