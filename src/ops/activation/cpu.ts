/** NITRO scaling, NITRO-ReLU and its backward on the CPU (docs/algorithm.md §1.2, §1.3). */
import type { Tensor } from '../../backend.ts';
import { i32, i8 } from '../../cpu/tensor.ts';
import { reluInto, reluTable, scaleInto } from '../linear/cpu.ts';
import { type NitroReluBackwardParams, nitroReluInvSlope } from './contract.ts';

export function scale(p: { x: Tensor; out: Tensor; scale: number }): void {
  const x = i32(p.x, 'scale');
  scaleInto(x, i8(p.out, 'scale'), x.length, p.scale);
}

export function nitroRelu(p: { x: Tensor; out: Tensor; slopeInv: number }): void {
  const x = i8(p.x, 'nitroRelu');
  reluInto(x, i8(p.out, 'nitroRelu'), x.length, reluTable(p.slopeInv));
}

/** NITRO-ReLU's inverse slope at every int8 input (index value + 128) for an allowed slope. */
export function invSlopeTable(slopeInv: number): Int32Array {
  const t = new Int32Array(256);
  for (let v = -128; v < 128; v++) t[v + 128] = nitroReluInvSlope(v, slopeInv);
  return t;
}

/** NITRO-ReLU's backward at one cell: trunc(d / g_inv(x)) for the saved int8 input x (table: invSlopeTable). */
export function reluBackwardAt(d: number, x: number, table: Int32Array): number {
  return (d / table[x + 128]) | 0;
}

function divideBySlope(
  d: Int32Array,
  x: Int8Array,
  out: Int32Array,
  n: number,
  table: Int32Array,
): void {
  for (let i = 0; i < n; i++) out[i] = reluBackwardAt(d[i], x[i], table);
}

export function nitroReluBackward(p: NitroReluBackwardParams): void {
  const op = 'nitroReluBackward';
  const d = i32(p.delta, op);
  divideBySlope(d, i8(p.x, op), i32(p.out, op), d.length, invSlopeTable(p.slopeInv));
}
