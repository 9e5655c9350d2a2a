/**
 * WebGPU vs CPU, element by element, for the stride-1 integer convolution: forward (raw,
 * scaled, scaled + NITRO-ReLU, ± bias) and weight gradient, over batch 1, 1 and 3 channels,
 * kernels 1/3/5, paddings 0-2, odd map sizes and wrapping accumulations.
 */
import { afterEach, beforeAll, describe, it } from 'vitest';
import { Rng } from '../src/rng.ts';
import { randomInts } from './helpers.ts';
import { Twins } from './kernels-twin.ts';

const I32_MIN = -2147483648;
const I32_MAX = 2147483647;

/** [B, C, H, W, F, k, padding] */
const SHAPES: [number, number, number, number, number, number, number][] = [
  [1, 1, 1, 1, 1, 1, 0], [1, 1, 3, 3, 1, 3, 1], [1, 3, 5, 5, 2, 3, 1], [2, 1, 8, 8, 4, 3, 0],
  [1, 3, 7, 7, 5, 5, 2], [3, 2, 6, 5, 3, 3, 1], [2, 3, 4, 4, 8, 1, 0], [1, 1, 9, 7, 3, 5, 0],
  [4, 4, 3, 3, 6, 3, 1], [1, 2, 2, 2, 3, 5, 2], [5, 1, 28, 28, 2, 3, 1], [2, 8, 7, 7, 16, 3, 1],
  [1, 16, 3, 3, 4, 3, 1], [3, 3, 11, 13, 7, 3, 0], [1, 5, 6, 6, 9, 1, 1], [2, 1, 5, 9, 2, 5, 1],
  [7, 2, 4, 6, 3, 3, 2], [1, 1, 1, 7, 2, 1, 0], [2, 6, 10, 10, 5, 3, 1], [1, 3, 32, 32, 2, 3, 1],
];

describe('conv kernels: WebGPU == CPU', () => {
  let t: Twins;
  beforeAll(async () => {
    t = await Twins.create();
  });
  afterEach(() => t.disposeAll());

  it.each(SHAPES.map((s, i) => [i, ...s]))('#%i B=%i C=%i H=%i W=%i F=%i k=%i p=%i: forward, every epilogue', async (i, B, C, H, W, F, k, pad) => {
    const rng = new Rng(3000 + i);
    const wrap = i % 4 === 2;
    const Ho = H + 2 * pad - k + 1;
    const Wo = W + 2 * pad - k + 1;
    const x = t.tensor([B, C, H, W], 'i8', randomInts(rng, B * C * H * W, -128, 127), 'x');
    const w = t.tensor([F, C, k, k], 'i32', wrap ? randomInts(rng, F * C * k * k, I32_MIN, I32_MAX) : randomInts(rng, F * C * k * k, -4000, 4000), 'w');
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
      ops.conv2d({ x: on(x), w: on(w), bias: on(bias), padding: pad, out: on(s2), epilogue: { scale: sf, relu: { out: on(a), slopeInv } } });
    });
    await t.expectSame(z, 'z');
    await t.expectSame(s, 'scaled');
    await t.expectSame(s2, 'scaled + bias');
    await t.expectSame(a, 'NITRO-ReLU');
  });

  it.each(SHAPES.map((s, i) => [i, ...s]))('#%i B=%i C=%i H=%i W=%i F=%i k=%i p=%i: weight gradient', async (i, B, C, H, W, F, k, pad) => {
    const rng = new Rng(4000 + i);
    const wrap = i % 3 === 1;
    const Ho = H + 2 * pad - k + 1;
    const Wo = W + 2 * pad - k + 1;
    const x = t.tensor([B, C, H, W], 'i8', randomInts(rng, B * C * H * W, -128, 127), 'x');
    const delta = t.tensor([B, F, Ho, Wo], 'i32', wrap ? randomInts(rng, B * F * Ho * Wo, I32_MIN, I32_MAX) : randomInts(rng, B * F * Ho * Wo, -3000, 3000), 'delta');
    const dw = t.tensor([F, C, k, k], 'i32', undefined, 'dw');
    t.run((ops, on) => ops.conv2dWeightGrad({ delta: on(delta), x: on(x), padding: pad, out: on(dw) }));
    await t.expectSame(dw, 'weight grad');
  });
});
