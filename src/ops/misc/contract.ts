/** Fill and the step cursor's advance: parameters and checks. */
import type { Tensor } from '../../backend.ts';
import { expectDtype, expectInt, expectSize, fail } from '../checks.ts';

/**
 * The value fits the tensor's dtype. A packed int8 tensor whose rows are not whole words keeps
 * its row padding zero (packed rows are flattened for free), so only 0 fills it.
 */
export function checkFill(p: { out: Tensor; value: number }): void {
  const op = 'fill';
  const t = p.out;
  if (t.dtype === 'i8') expectInt(op, 'value', p.value, -128, 127, 'an int8');
  else expectInt(op, 'value', p.value, -0x80000000, 0x7fffffff, 'an int32');
  const rowLength = t.shape.length > 1 ? t.size / t.shape[0] : t.size;
  if (t.dtype === 'i8' && p.value !== 0 && rowLength % 4 !== 0)
    fail(op, `${t.label} [${t.shape.join(', ')}] has padded rows; only 0 can be filled`);
}

export function checkAdvance(p: { cursor: Tensor }): void {
  expectDtype('advance', p.cursor, 'i32');
  expectSize('advance', p.cursor, 1);
}
