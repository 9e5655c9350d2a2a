/**
 * Every kernel variant of the GEMM-shaped ops, forced one at a time, against the CPU backend
 * element by element: odd shapes (tile tails in every dimension, channels not a multiple of
 * four or a multiple of 16, maps whose size is not a multiple of four) and weights that need 1, 2, 3 or 4 int8
 * limbs, including the extremes of i32 so that every sum wraps.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  checkTiles,
  findVariant,
  GEMM_OPS,
  type GemmOp,
  variantsOf,
} from '../src/kernels/gemm-tiles.ts';
import { withForcedVariant } from '../src/gpu/variants.ts';
import { Rng } from '../src/rng.ts';
import { randomInts, sparsifyDelta } from './helpers.ts';
import { Twins } from './kernels-twin.ts';

const I32_MIN = -2147483648;
const I32_MAX = 2147483647;

/** Weights of a given limb need: |w| < 2^(8n - 1), with the extremes of that range present. */
function limbWeights(rng: Rng, n: number, limbs: number): Int32Array {
  const hi = limbs >= 4 ? I32_MAX : 2 ** (8 * limbs - 1) - 1;
  const lo = limbs >= 4 ? I32_MIN : -(2 ** (8 * limbs - 1));
  const out = randomInts(rng, n, lo, hi);
  if (n > 1) {
    out[0] = lo;
    out[n - 1] = hi;
  }
  return out;
}

function labels(op: GemmOp): [string][] {
  return variantsOf(op).map((v) => [v.label]);
}

/** [B, C, H, W, F, k, padding] */
const CONV_SHAPES: [number, number, number, number, number, number, number][] = [
  [1, 1, 1, 1, 1, 1, 0],
  [2, 3, 5, 7, 9, 3, 1],
  [3, 6, 7, 7, 5, 3, 1],
  [1, 5, 4, 4, 12, 3, 0],
  [2, 9, 6, 5, 3, 5, 2],
  [1, 4, 3, 3, 17, 3, 1],
  // Channels a multiple of 16 (the tiled kernels' vec4 loads), tails of 64-wide tiles.
  [2, 32, 4, 4, 9, 3, 1],
  [1, 20, 3, 5, 7, 3, 1],
  [3, 16, 5, 6, 70, 3, 1],
  [5, 16, 4, 4, 66, 3, 1],
];

describe('conv variants: WebGPU == CPU', () => {
  let t: Twins;
  beforeAll(async () => {
    t = await Twins.create();
  });
  afterEach(() => t.disposeAll());

  it.each(labels('conv2d'))('forward %s: every epilogue, 1-4 limbs, odd shapes', async (label) => {
    const choice = findVariant('conv2d', label)!;
    for (const [i, [B, C, H, W, F, k, pad]] of CONV_SHAPES.entries()) {
      const rng = new Rng(5000 + i);
      const limbs = 1 + (i % 4);
      const Ho = H + 2 * pad - k + 1;
      const Wo = W + 2 * pad - k + 1;
      const x = t.tensor([B, C, H, W], 'i8', randomInts(rng, B * C * H * W, -128, 127), 'x');
      const wv = limbWeights(rng, F * C * k * k, limbs);
      // One filter with small weights next to large ones: the tile takes the largest count.
      for (let j = 0; j < C * k * k && F > 1; j++) wv[j] = rng.int(-3, 3);
      const w = t.tensor([F, C, k, k], 'i32', wv, 'w');
      const bias = t.tensor([F], 'i32', randomInts(rng, F, -50000, 50000), 'bias');
      const out = [B, F, Ho, Wo];
      const z = t.tensor(out, 'i32', undefined, 'z');
      const s = t.tensor(out, 'i8', undefined, 's');
      const s2 = t.tensor(out, 'i8', undefined, 's2');
      const a = t.tensor(out, 'i8', undefined, 'a');
      const sf = limbs >= 3 ? 1 + rng.below(1 << 20) : 64 * C * k * k;
      withForcedVariant(t.gpu, 'conv2d', choice, () =>
        t.run((ops, on) => {
          ops.conv2d({ x: on(x), w: on(w), bias: on(bias), padding: pad, out: on(z) });
          ops.conv2d({ x: on(x), w: on(w), padding: pad, out: on(s), epilogue: { scale: sf } });
          ops.conv2d({
            x: on(x),
            w: on(w),
            bias: on(bias),
            padding: pad,
            out: on(s2),
            epilogue: { scale: sf, relu: { out: on(a), slopeInv: 7 } },
          });
        }),
      );
      const what = `${label} shape #${i}`;
      await t.expectSame(z, `${what} z`);
      await t.expectSame(s, `${what} scaled`);
      await t.expectSame(s2, `${what} scaled + bias`);
      await t.expectSame(a, `${what} NITRO-ReLU`);
      t.disposeAll();
    }
  });

  it.each(labels('conv2dWeightGrad'))(
    'weight gradient %s: odd shapes, wrapping delta, sparse and dense filters',
    async (label) => {
      const choice = findVariant('conv2dWeightGrad', label)!;
      for (const [i, [B, C, H, W, F, k, pad]] of CONV_SHAPES.entries()) {
        const rng = new Rng(6000 + i);
        const Ho = H + 2 * pad - k + 1;
        const Wo = W + 2 * pad - k + 1;
        const x = t.tensor([B, C, H, W], 'i8', randomInts(rng, B * C * H * W, -128, 127), 'x');
        const n = B * F * Ho * Wo;
        const dv = i % 2 ? randomInts(rng, n, I32_MIN, I32_MAX) : randomInts(rng, n, -3000, 3000);
        // Every third shape keeps delta dense; the others mix filters of every density.
        const delta = t.tensor(
          [B, F, Ho, Wo],
          'i32',
          i % 3 === 1 ? dv : sparsifyDelta(rng, dv, F, Ho * Wo, i),
          'delta',
        );
        const dw = t.tensor([F, C, k, k], 'i32', undefined, 'dw');
        withForcedVariant(t.gpu, 'conv2dWeightGrad', choice, () =>
          t.run((ops, on) =>
            ops.conv2dWeightGrad({ delta: on(delta), x: on(x), padding: pad, out: on(dw) }),
          ),
        );
        await t.expectSame(dw, `${label} shape #${i} weight grad`);
        t.disposeAll();
      }
    },
  );
});

/** [B, K, O] */
const LINEAR_SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [3, 7, 5],
  [9, 13, 17],
  [2, 33, 9],
  [70, 21, 11],
  [5, 130, 3],
  // Rows of whole vec4 words (the tiled kernels' vec4 loads) for every op and g dtype, a
  // batch past one 64-row block; weights of 3, 4, 1 and 2 limbs.
  [9, 32, 16],
  [67, 48, 20],
  [16, 64, 8],
  [3, 16, 40],
];

describe('linear variants: WebGPU == CPU', () => {
  let t: Twins;
  beforeAll(async () => {
    t = await Twins.create();
  });
  afterEach(() => t.disposeAll());

  it.each(labels('linear'))('forward %s: every epilogue, 1-4 limbs, odd shapes', async (label) => {
    const choice = findVariant('linear', label)!;
    for (const [i, [B, K, O]] of LINEAR_SHAPES.entries()) {
      const rng = new Rng(7000 + i);
      const limbs = 1 + (i % 4);
      const x = t.tensor([B, K], 'i8', randomInts(rng, B * K, -128, 127), 'x');
      const wv = limbWeights(rng, O * K, limbs);
      // A row of small weights next to large ones: a tile takes the largest count of its rows.
      for (let j = 0; j < K && O > 1; j++) wv[j] = rng.int(-2, 2);
      const w = t.tensor([O, K], 'i32', wv, 'w');
      const bias = t.tensor([O], 'i32', randomInts(rng, O, -100000, 100000), 'bias');
      const z = t.tensor([B, O], 'i32', undefined, 'z');
      const s = t.tensor([B, O], 'i8', undefined, 's');
      const s2 = t.tensor([B, O], 'i8', undefined, 's2');
      const a = t.tensor([B, O], 'i8', undefined, 'a');
      const sf = limbs >= 3 ? 1 + rng.below(1 << 20) : 64 * K;
      withForcedVariant(t.gpu, 'linear', choice, () =>
        t.run((ops, on) => {
          ops.linear({ x: on(x), w: on(w), bias: on(bias), out: on(z) });
          ops.linear({ x: on(x), w: on(w), out: on(s), epilogue: { scale: sf } });
          ops.linear({
            x: on(x),
            w: on(w),
            bias: on(bias),
            out: on(s2),
            epilogue: { scale: sf, relu: { out: on(a), slopeInv: 5 } },
          });
        }),
      );
      const what = `${label} shape #${i}`;
      await t.expectSame(z, `${what} z`);
      await t.expectSame(s, `${what} scaled`);
      await t.expectSame(s2, `${what} scaled + bias`);
      await t.expectSame(a, `${what} NITRO-ReLU`);
      t.disposeAll();
    }
  });

  for (const op of ['linearInputGrad', 'linearWeightGrad'] as const) {
    it.each(labels(op))(`${op} %s: int8 and wrapping int32 g, odd shapes`, async (label) => {
      const choice = findVariant(op, label)!;
      for (const [i, [B, K, O]] of LINEAR_SHAPES.entries()) {
        const rng = new Rng(8000 + i);
        const x = t.tensor([B, K], 'i8', randomInts(rng, B * K, -128, 127), 'x');
        const w = t.tensor([O, K], 'i32', limbWeights(rng, O * K, 1 + (i % 4)), 'w');
        const g8 = t.tensor([B, O], 'i8', randomInts(rng, B * O, -128, 127), 'g8');
        const g32 = t.tensor([B, O], 'i32', randomInts(rng, B * O, I32_MIN, I32_MAX), 'g32');
        const out8 = t.tensor(op === 'linearInputGrad' ? [B, K] : [O, K], 'i32', undefined, 'out8');
        const out32 = t.tensor(
          op === 'linearInputGrad' ? [B, K] : [O, K],
          'i32',
          undefined,
          'out32',
        );
        withForcedVariant(t.gpu, op, choice, () =>
          t.run((ops, on) => {
            if (op === 'linearInputGrad') {
              ops.linearInputGrad({ g: on(g8), w: on(w), out: on(out8) });
              ops.linearInputGrad({ g: on(g32), w: on(w), out: on(out32) });
            } else {
              ops.linearWeightGrad({ g: on(g8), x: on(x), out: on(out8) });
              ops.linearWeightGrad({ g: on(g32), x: on(x), out: on(out32) });
            }
          }),
        );
        await t.expectSame(out8, `${label} shape #${i} int8 g`);
        await t.expectSame(out32, `${label} shape #${i} int32 g`);
        t.disposeAll();
      }
    });
  }
});

describe("variant tiles fit the shaders' register arrays", () => {
  it('accepts every variant the engine has and refuses tiles past the arrays', () => {
    for (const op of GEMM_OPS)
      for (const v of variantsOf(op)) expect(() => checkTiles(op, v)).not.toThrow();
    const bad: [GemmOp, Record<string, number>][] = [
      ['linear', { TM: 1, TN: 6 }], // the forward's int8 store writes whole words of 4 outputs
      ['linear', { TM: 8, TN: 4 }],
      ['linearInputGrad', { TM: 4, TN: 16 }],
      ['conv2d', { TF: 16, TP: 2 }],
      ['conv2d', { TF: 8, TP: 8 }],
      ['conv2dWeightGrad', { TF: 12 }],
      ['linear', { TILE: 16 }], // the tiled workgroup arrays hold 64-row blocks
      ['linearWeightGrad', { TILE: 8, TN: 16 }], // 128 accumulators
      ['linearInputGrad', { TILE: 4, TN: 16 }], // only the weight gradient has wide blocks
    ];
    for (const [op, params] of bad)
      expect(
        () => checkTiles(op, { label: 'bad', params }),
        `${op} ${JSON.stringify(params)}`,
      ).toThrow(/exceeds the shader's register tile/);
  });
});
