/**
 * WebGPU vs CPU, element by element, for the stride-1 integer convolution: forward (raw,
 * scaled, scaled + NITRO-ReLU, ± bias) and weight gradient.
 *
 * Coverage (22 shapes, each run by both ops): batch 1 (10 shapes) up to 7; 1 channel (8 shapes)
 * and 3 channels (6), also 2-16; kernels 1 (5 shapes), 3 (12) and 5 (5) with paddings 0-2;
 * maps from 1×1 to 32×32, odd and non-square, so output rows are not whole words and thread
 * counts are not multiples of the 64-thread workgroup; every fourth forward shape (i ≡ 2) and
 * every third weight-gradient shape (i ≡ 1) uses full-range i32 weights / deltas so the i32
 * accumulation wraps (checked against the exact sums).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../src/rng.ts';
import { randomInts } from './helpers.ts';
import { Twins } from './kernels-twin.ts';

const I32_MIN = -2147483648;
const I32_MAX = 2147483647;

/** [B, C, H, W, F, k, padding] */
const SHAPES: [number, number, number, number, number, number, number][] = [
  [1, 1, 1, 1, 1, 1, 0],
  [1, 1, 3, 3, 1, 3, 1],
  [1, 3, 5, 5, 2, 3, 1],
  [2, 1, 8, 8, 4, 3, 0],
  [1, 3, 7, 7, 5, 5, 2],
  [3, 2, 6, 5, 3, 3, 1],
  [2, 3, 4, 4, 8, 1, 0],
  [1, 1, 9, 7, 3, 5, 0],
  [4, 4, 3, 3, 6, 3, 1],
  [1, 2, 2, 2, 3, 5, 2],
  [5, 1, 28, 28, 2, 3, 1],
  [2, 8, 7, 7, 16, 3, 1],
  [1, 16, 3, 3, 4, 3, 1],
  [3, 3, 11, 13, 7, 3, 0],
  [1, 5, 6, 6, 9, 1, 1],
  [2, 1, 5, 9, 2, 5, 1],
  [7, 2, 4, 6, 3, 3, 2],
  [1, 1, 1, 7, 2, 1, 0],
  [2, 6, 10, 10, 5, 3, 1],
  [1, 3, 32, 32, 2, 3, 1],
  [3, 3, 17, 15, 5, 5, 2],
  [2, 1, 13, 33, 7, 1, 0],
];

/**
 * Whether any exact forward sum Σ w·xpad (or, with `grad`, any exact weight-gradient sum
 * Σ δ·xpad) lies outside the i32 range. Exact in doubles: every |sum| here is below 2^53.
 */
function exceedsI32(
  x: Int32Array,
  k: Int32Array,
  [B, C, H, W, F, ks, pad]: readonly number[],
  grad: boolean,
): boolean {
  const Ho = H + 2 * pad - ks + 1;
  const Wo = W + 2 * pad - ks + 1;
  const xAt = (b: number, c: number, h: number, w: number) =>
    h < 0 || w < 0 || h >= H || w >= W ? 0 : x[((b * C + c) * H + h) * W + w];
  const sums = new Float64Array(grad ? F * C * ks * ks : B * F * Ho * Wo);
  for (let b = 0; b < B; b++) {
    for (let f = 0; f < F; f++) {
      for (let i = 0; i < Ho; i++) {
        for (let j = 0; j < Wo; j++) {
          for (let c = 0; c < C; c++) {
            for (let u = 0; u < ks; u++) {
              for (let v = 0; v < ks; v++) {
                const xv = xAt(b, c, i + u - pad, j + v - pad);
                if (grad)
                  sums[((f * C + c) * ks + u) * ks + v] += k[((b * F + f) * Ho + i) * Wo + j] * xv;
                else
                  sums[((b * F + f) * Ho + i) * Wo + j] += k[((f * C + c) * ks + u) * ks + v] * xv;
              }
            }
          }
        }
      }
    }
  }
  return sums.some((v) => v < I32_MIN || v > I32_MAX);
}

describe('conv kernels: WebGPU == CPU', () => {
  let t: Twins;
  beforeAll(async () => {
    t = await Twins.create();
  });
  afterEach(() => t.disposeAll());

  it.each(SHAPES.map((s, i) => [i, ...s]))(
    '#%i B=%i C=%i H=%i W=%i F=%i k=%i p=%i: forward, every epilogue',
    async (i, B, C, H, W, F, k, pad) => {
      const rng = new Rng(3000 + i);
      const wrap = i % 4 === 2;
      const Ho = H + 2 * pad - k + 1;
      const Wo = W + 2 * pad - k + 1;
      const xv = randomInts(rng, B * C * H * W, -128, 127);
      const wv = wrap
        ? randomInts(rng, F * C * k * k, I32_MIN, I32_MAX)
        : randomInts(rng, F * C * k * k, -4000, 4000);
      expect(exceedsI32(xv, wv, SHAPES[i], false), 'some z outside i32').toBe(wrap);
      const x = t.tensor([B, C, H, W], 'i8', xv, 'x');
      const w = t.tensor([F, C, k, k], 'i32', wv, 'w');
      const bias = t.tensor([F], 'i32', randomInts(rng, F, -50000, 50000), 'bias');
      const out = [B, F, Ho, Wo];
      const z = t.tensor(out, 'i32', undefined, 'z');
      const s = t.tensor(out, 'i8', undefined, 's');
      const s2 = t.tensor(out, 'i8', undefined, 's2');
      const a = t.tensor(out, 'i8', undefined, 'a');
      const sf = 256 * C * k * k;
      const slopeInv = [3, 4, 5, 7, 8, 10, 15, 16, 20][i % 9];
      t.run((ops, on) => {
        ops.conv2d({ x: on(x), w: on(w), bias: on(bias), padding: pad, out: on(z) });
        ops.conv2d({ x: on(x), w: on(w), padding: pad, out: on(s), epilogue: { scale: sf } });
        ops.conv2d({
          x: on(x),
          w: on(w),
          bias: on(bias),
          padding: pad,
          out: on(s2),
          epilogue: { scale: sf, relu: { out: on(a), slopeInv } },
        });
      });
      await t.expectSame(z, 'z');
      await t.expectSame(s, 'scaled');
      await t.expectSame(s2, 'scaled + bias');
      await t.expectSame(a, 'NITRO-ReLU');
    },
  );

  it.each(SHAPES.map((s, i) => [i, ...s]))(
    '#%i B=%i C=%i H=%i W=%i F=%i k=%i p=%i: weight gradient',
    async (i, B, C, H, W, F, k, pad) => {
      const rng = new Rng(4000 + i);
      const wrap = i % 3 === 1;
      const Ho = H + 2 * pad - k + 1;
      const Wo = W + 2 * pad - k + 1;
      const xv = randomInts(rng, B * C * H * W, -128, 127);
      const dv = wrap
        ? randomInts(rng, B * F * Ho * Wo, I32_MIN, I32_MAX)
        : randomInts(rng, B * F * Ho * Wo, -3000, 3000);
      if (wrap) expect(exceedsI32(xv, dv, SHAPES[i], true), 'some dW outside i32').toBe(true);
      const x = t.tensor([B, C, H, W], 'i8', xv, 'x');
      const delta = t.tensor([B, F, Ho, Wo], 'i32', dv, 'delta');
      const dw = t.tensor([F, C, k, k], 'i32', undefined, 'dw');
      t.run((ops, on) =>
        ops.conv2dWeightGrad({ delta: on(delta), x: on(x), padding: pad, out: on(dw) }),
      );
      await t.expectSame(dw, 'weight grad');
    },
  );
});
