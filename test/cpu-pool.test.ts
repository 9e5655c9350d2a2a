/**
 * The CPU backend's max-pooling (interior windows on a fast path, border windows on the general
 * one) against a naive scalar implementation written here: every window scanned in row-major
 * order, pad cells worth 0 in 'zero' mode and skipped in 'ignore' mode, the first maximum wins
 * (a pad cell winning sends no gradient). Values come from a small range so ties are common.
 * The backward fused with a head (window deltas Σ_k g·w, wrapping) and NITRO-ReLU's backward
 * (trunc(δ / g_inv(s)) at the winner) is checked against the same scan with those written out.
 * On the WebAssembly kernels at 1, 2 and 3 threads (every op split, however small) and on their
 * JavaScript twins.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALLOWED_SLOPES, nitroReluInvSlope } from '../src/ops/activation/contract.ts';
import type { PadMode } from '../src/backend.ts';
import { CpuBackend } from '../src/cpu-backend.ts';
import { Rng } from '../src/rng.ts';
import { expectSameElements, randomInts, tensorOf } from './helpers.ts';

/** [B, C, H, W, kh, kw, ph, pw] */
const SHAPES: [number, number, number, number, number, number, number, number][] = [
  [2, 3, 8, 8, 2, 2, 0, 0],
  [1, 2, 7, 7, 2, 2, 1, 1],
  [2, 1, 28, 28, 4, 2, 2, 1],
  [3, 4, 14, 14, 2, 2, 1, 0],
  [1, 1, 5, 9, 3, 3, 1, 1],
  [2, 2, 6, 6, 4, 4, 2, 2],
  [1, 3, 1, 1, 2, 2, 1, 1],
  [2, 5, 9, 4, 2, 4, 0, 2],
  [4, 2, 16, 16, 4, 4, 0, 0],
  [1, 1, 3, 10, 3, 1, 1, 0],
  // Two-column windows eight or four at a time and a tail (odd maps), planes that split unevenly.
  [3, 7, 29, 37, 2, 2, 0, 0],
  [5, 3, 28, 28, 4, 2, 0, 0],
  [1, 5, 19, 34, 3, 2, 0, 0],
  [7, 1, 6, 16, 2, 2, 1, 0],
  [2, 3, 14, 14, 2, 2, 0, 0],
  [3, 2, 9, 11, 3, 2, 0, 0],
  [1, 4, 5, 8, 2, 2, 0, 0],
  [1, 1, 1, 1, 1, 1, 0, 0],
];

function naive(
  x: Int32Array,
  delta: Int32Array,
  shape: readonly number[],
  mode: PadMode,
): { out: Int32Array; grad: Int32Array } {
  const [B, C, H, W, kh, kw, ph, pw] = shape;
  const Ho = Math.floor((H + 2 * ph - kh) / kh) + 1;
  const Wo = Math.floor((W + 2 * pw - kw) / kw) + 1;
  const out = new Int32Array(B * C * Ho * Wo);
  const grad = new Int32Array(B * C * H * W);
  for (let plane = 0; plane < B * C; plane++) {
    for (let oi = 0; oi < Ho; oi++) {
      for (let oj = 0; oj < Wo; oj++) {
        let best = Number.NEGATIVE_INFINITY;
        let at = -1;
        for (let u = 0; u < kh; u++) {
          for (let v = 0; v < kw; v++) {
            const h = oi * kh + u - ph;
            const w = oj * kw + v - pw;
            const inside = h >= 0 && h < H && w >= 0 && w < W;
            if (!inside && mode === 'ignore') continue;
            const value = inside ? x[(plane * H + h) * W + w] : 0;
            if (value > best) {
              best = value;
              at = inside ? (plane * H + h) * W + w : -1;
            }
          }
        }
        const o = (plane * Ho + oi) * Wo + oj;
        out[o] = at < 0 ? 0 : x[at];
        if (at >= 0) grad[at] = delta[o];
      }
    }
  }
  return { out, grad };
}

describe.each([
  ['wasm-simd', 1],
  ['wasm-simd', 2],
  ['wasm-simd', 3],
  ['js', 1],
] as const)('CPU max-pooling (%s kernels, %i threads)', (kernel, threads) => {
  let backend: CpuBackend;
  beforeAll(async () => {
    backend = await CpuBackend.create({ threads });
    backend.workspace.minThreadedMacs = 0;
    if (backend.workspace.pool) backend.workspace.pool.adaptive = false;
    backend.workspace.simdEnabled = kernel === 'wasm-simd';
  });
  afterAll(() => backend.destroy());

  it('uses the requested kernels and threads', () => {
    expect(backend.workspace.kernel()).toBe(kernel);
    expect(backend.workspace.threads()).toBe(threads);
  });

  describe('forward and backward == naive scalar', () => {
    it.each(
      SHAPES.flatMap((s, i) => (['zero', 'ignore'] as const).map((m) => [i, m, ...s] as const)),
    )('#%i %s mode B=%i C=%i %ix%i kernel %ix%i padding %i,%i', async (i, mode, ...shape) => {
      const rng = new Rng(3000 + i);
      const [B, C, H, W, kh, kw, ph, pw] = shape;
      const Ho = Math.floor((H + 2 * ph - kh) / kh) + 1;
      const Wo = Math.floor((W + 2 * pw - kw) / kw) + 1;
      const xv =
        i % 2 === 0
          ? randomInts(rng, B * C * H * W, -3, 3)
          : randomInts(rng, B * C * H * W, -128, 127);
      const dv = randomInts(rng, B * C * Ho * Wo, -1000000, 1000000);
      const x = tensorOf(backend, [B, C, H, W], 'i8', xv, 'x');
      const delta = tensorOf(backend, [B, C, Ho, Wo], 'i32', dv, 'delta');
      const out = backend.tensor([B, C, Ho, Wo], 'i8', 'out');
      const grad = backend.tensor([B, C, H, W], 'i32', 'grad');
      backend.ops.maxPool({ x, kernel: [kh, kw], padding: [ph, pw], padMode: mode, out });
      backend.ops.maxPoolBackward({
        x,
        kernel: [kh, kw],
        padding: [ph, pw],
        padMode: mode,
        delta,
        out: grad,
      });
      const expected = naive(xv, dv, shape, mode);
      expectSameElements(await backend.read(out), expected.out, 'maxPool');
      expectSameElements(await backend.read(grad), expected.grad, 'maxPoolBackward');
    });
  });

  describe('backward with head and relu == naive scalar', () => {
    it.each(
      SHAPES.flatMap((s, i) => (['zero', 'ignore'] as const).map((m) => [i, m, ...s] as const)),
    )('#%i %s mode B=%i C=%i %ix%i kernel %ix%i padding %i,%i', async (i, mode, ...shape) => {
      const rng = new Rng(3100 + i);
      const [B, C, H, W, kh, kw, ph, pw] = shape;
      const Ho = Math.floor((H + 2 * ph - kh) / kh) + 1;
      const Wo = Math.floor((W + 2 * pw - kw) / kw) + 1;
      const J = C * Ho * Wo;
      const K = 1 + (i % 11);
      const slopeInv = ALLOWED_SLOPES[i % ALLOWED_SLOPES.length];
      const xv =
        i % 2 === 0
          ? randomInts(rng, B * C * H * W, -3, 3)
          : randomInts(rng, B * C * H * W, -128, 127);
      const sv = randomInts(rng, B * C * H * W, -128, 127);
      const gv = randomInts(rng, B * K, -128, 127);
      const wv = randomInts(rng, K * J, -2147483648, 2147483647);
      // The head's input gradient, i32 wrapping.
      const dv = new Int32Array(B * J);
      for (let b = 0; b < B; b++) {
        for (let j = 0; j < J; j++) {
          let sum = 0;
          for (let k = 0; k < K; k++) sum = (sum + Math.imul(gv[b * K + k], wv[k * J + j])) | 0;
          dv[b * J + j] = sum;
        }
      }
      const expected = naive(xv, dv, shape, mode).grad;
      for (let e = 0; e < expected.length; e++)
        expected[e] = Math.trunc(expected[e] / nitroReluInvSlope(sv[e], slopeInv));
      const x = tensorOf(backend, [B, C, H, W], 'i8', xv, 'x');
      const s = tensorOf(backend, [B, C, H, W], 'i8', sv, 's');
      const g = tensorOf(backend, [B, K], 'i8', gv, 'g');
      const w = tensorOf(backend, [K, J], 'i32', wv, 'w');
      const grad = tensorOf(
        backend,
        [B, C, H, W],
        'i32',
        new Array(B * C * H * W).fill(-7),
        'grad',
      );
      backend.ops.maxPoolBackward({
        x,
        kernel: [kh, kw],
        padding: [ph, pw],
        padMode: mode,
        head: { g, w },
        relu: { x: s, slopeInv },
        out: grad,
      });
      expectSameElements(await backend.read(grad), expected, 'maxPoolBackward with head and relu');
    });
  });
});
