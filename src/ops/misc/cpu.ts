/** Fill and step-cursor advance on the CPU. */
import type { Tensor } from '../../backend.ts';
import { dataOf, i32 } from '../../cpu/tensor.ts';

export function fill(p: { out: Tensor; value: number }): void {
  dataOf(p.out).fill(p.value);
}

export function advance(p: { cursor: Tensor }): void {
  const c = i32(p.cursor, 'advance');
  c[0] = (c[0] + 1) | 0;
}
