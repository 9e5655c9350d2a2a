/**
 * The CPU backend's NITRO-ReLU kernels (relu8 forward, reluBack backward in place), WebAssembly
 * SIMD and the JavaScript twins, against the op contract's scalar definitions, element by
 * element: every int8 input, every allowed slope, int32 deltas at the edges of the range, and
 * row lengths that leave tails of every size after the vectors.
 */
import { describe, expect, it } from 'vitest';
import {
  ALLOWED_SLOPES,
  correction,
  nitroRelu,
  nitroReluInvSlope,
} from '../src/ops/activation/contract.ts';
import { CpuWorkspace, sgdMagic } from '../src/cpu/gemm.ts';
import { compileSimdKernelsAsync } from '../src/cpu/wasm.ts';
import { Rng } from '../src/rng.ts';
import { expectSameElements, randomInts } from './helpers.ts';

const I32_MIN = -2147483648;
const I32_MAX = 2147483647;

// Node and Chromium have WebAssembly SIMD: the kernels must compile.
const simd = await compileSimdKernelsAsync();
const list: [string, CpuWorkspace][] = [
  ['wasm-simd', new CpuWorkspace(simd)],
  ['js', new CpuWorkspace(null)],
];

describe('NITRO-ReLU kernels == the contract, every element', () => {
  it('compiled the SIMD kernels', () => expect(simd).not.toBeNull());
  it.each(list.flatMap(([name, cw]) => ALLOWED_SLOPES.map((s) => [name, s, cw] as const)))(
    '%s, slope 1/%i',
    (_name, slope, cw) => {
      const rng = new Rng(900 + slope);
      const magic = sgdMagic(slope);
      // Forward: all 256 int8 values, at lengths 1..40 (vector and scalar tails) and 256.
      const all = Array.from({ length: 256 }, (_, i) => i - 128);
      for (const n of [...Array.from({ length: 40 }, (_, i) => i + 1), 256, 263]) {
        const src = n === 256 ? all : randomInts(rng, n, -128, 127);
        const { ws, at } = cw.reserve([n, n]);
        ws.i8.set(src, at[0]);
        ws.k.relu8(at[0], at[1], n, slope, magic.m, magic.s, correction(slope));
        expectSameElements(
          Int32Array.from(ws.i8.subarray(at[1], at[1] + n)),
          Int32Array.from(src, (v) => nitroRelu(v, slope)),
          `relu8 n=${n}`,
        );
      }
      // Backward: rows of `cols` deltas with row strides past the row (padding left alone).
      const edges = [
        I32_MIN,
        I32_MIN + 1,
        I32_MAX,
        I32_MAX - 1,
        0,
        1,
        -1,
        slope,
        -slope,
        1 - slope,
      ];
      for (const [rows, cols] of [
        [1, 1],
        [3, 5],
        [2, 7],
        [4, 8],
        [5, 13],
        [7, 256],
        [1, 259],
      ]) {
        const dRow = 4 * (cols + 3);
        const xRow = cols + 5;
        const { ws, at } = cw.reserve([rows * dRow, rows * xRow]);
        const d = randomInts(rng, rows * cols, I32_MIN, I32_MAX);
        for (let j = 0; j < d.length; j += 2) d[j] = edges[(j / 2) % edges.length];
        const x = randomInts(rng, rows * cols, -128, 127);
        for (let j = 0; j < x.length; j += 3) x[j] = [127, -128, -127, 0, -1, 126][(j / 3) % 6];
        const pad = 0x5a5a5a5a;
        ws.i32.fill(pad, at[0] >> 2, (at[0] + rows * dRow) >> 2);
        for (let r = 0; r < rows; r++) {
          ws.i32.set(d.subarray(r * cols, (r + 1) * cols), (at[0] + r * dRow) >> 2);
          ws.i8.set(x.subarray(r * cols, (r + 1) * cols), at[1] + r * xRow);
        }
        ws.k.reluBack(at[0], dRow, at[1], xRow, rows, cols, slope, magic.m, magic.s);
        const got = new Int32Array(rows * cols);
        for (let r = 0; r < rows; r++) {
          const o = (at[0] + r * dRow) >> 2;
          got.set(ws.i32.subarray(o, o + cols), r * cols);
          // The row's padding is untouched.
          expect(ws.i32[o + cols], `padding after row ${r}`).toBe(pad);
        }
        expectSameElements(
          got,
          d.map((v, j) => Math.trunc(v / nitroReluInvSlope(x[j], slope))),
          `reluBack ${rows}x${cols}`,
        );
      }
    },
  );
});
