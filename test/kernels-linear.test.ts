/**
 * WebGPU vs CPU, element by element, for the integer linear layer: forward (raw, scaled,
 * scaled + NITRO-ReLU, with and without bias), input gradient (also with NITRO-ReLU's backward
 * fused into its store, against the unfused pair) and weight gradient (int8 and int32 g).
 *
 * Coverage (22 shapes, each run by every op above): batch 1 (4 shapes) up to 65; K and O of 1,
 * odd sizes, rows that are not whole words (K, O mod 4 ≠ 0), register-block (4×4) tails and
 * sizes past and not a multiple of the 64-thread workgroup (65, 97, 129); every third forward
 * shape and every fourth gradient shape uses full-range i32 weights (and i32 g) so Σ x·w wraps.
 * Channels and kernel sizes are conv notions: see kernels-conv.test.ts.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../src/rng.ts';
import { expectSameElements, randomInts } from './helpers.ts';
import { type Twin, Twins } from './kernels-twin.ts';

const I32_MIN = -2147483648;
const I32_MAX = 2147483647;
const SLOPES = [3, 4, 5, 7, 8, 10, 15, 16, 20];

/** [B, K, O] */
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 3, 2],
  [2, 5, 3],
  [3, 7, 5],
  [4, 4, 4],
  [5, 8, 7],
  [7, 13, 9],
  [1, 50, 10],
  [3, 50, 10],
  [8, 77, 33],
  [16, 100, 50],
  [9, 129, 17],
  [64, 10, 10],
  [2, 200, 100],
  [13, 31, 65],
  [6, 1, 11],
  [1, 784, 3],
  [17, 9, 1],
  [5, 63, 6],
  [64, 49, 2],
  [33, 2, 129],
  [65, 97, 70],
];

/** Weights: mostly training-sized, sometimes huge so that Σ x·w wraps around 2^32. */
function weights(rng: Rng, n: number, wrap: boolean): Int32Array {
  return wrap ? randomInts(rng, n, I32_MIN, I32_MAX) : randomInts(rng, n, -30000, 30000);
}

/** Whether any exact z[b, o] = Σ_k x[b, k]·w[o, k] lies outside the i32 range. */
function exceedsI32(x: Int32Array, w: Int32Array, B: number, K: number, O: number): boolean {
  for (let b = 0; b < B; b++) {
    for (let o = 0; o < O; o++) {
      let sum = 0;
      for (let k = 0; k < K; k++) sum += x[b * K + k] * w[o * K + k];
      if (sum < I32_MIN || sum > I32_MAX) return true;
    }
  }
  return false;
}

describe('linear kernels: WebGPU == CPU', () => {
  let t: Twins;
  beforeAll(async () => {
    t = await Twins.create();
  });
  afterEach(() => t.disposeAll());

  it.each(SHAPES.map((s, i) => [i, ...s]))(
    'forward #%i B=%i K=%i O=%i, every epilogue, ± bias, wrapping',
    async (i, B, K, O) => {
      const rng = new Rng(1000 + i);
      const wrap = i % 3 === 0;
      const xv = randomInts(rng, B * K, -128, 127);
      const wv = weights(rng, O * K, wrap);
      // The wrapping shapes really leave the i32 range (exact sums fit a double: |Σ| < 2^48).
      expect(exceedsI32(xv, wv, B, K, O), 'some z outside i32').toBe(wrap);
      const x = t.tensor([B, K], 'i8', xv, 'x');
      const w = t.tensor([O, K], 'i32', wv, 'w');
      const bias = t.tensor([O], 'i32', randomInts(rng, O, -100000, 100000), 'bias');
      const z = t.tensor([B, O], 'i32', undefined, 'z');
      const zb = t.tensor([B, O], 'i32', undefined, 'zb');
      const s = t.tensor([B, O], 'i8', undefined, 's');
      const s2 = t.tensor([B, O], 'i8', undefined, 's2');
      const a = t.tensor([B, O], 'i8', undefined, 'a');
      const sf = wrap ? 1 + rng.below(1 << 20) : 256 * K;
      const slopeInv = SLOPES[i % SLOPES.length];
      t.run((ops, on) => {
        ops.linear({ x: on(x), w: on(w), out: on(z) });
        ops.linear({ x: on(x), w: on(w), bias: on(bias), out: on(zb) });
        ops.linear({ x: on(x), w: on(w), out: on(s), epilogue: { scale: sf } });
        ops.linear({
          x: on(x),
          w: on(w),
          bias: on(bias),
          out: on(s2),
          epilogue: { scale: sf, relu: { out: on(a), slopeInv } },
        });
      });
      await t.expectSame(z, 'z');
      await t.expectSame(zb, 'z + bias');
      await t.expectSame(s, 'scaled');
      await t.expectSame(s2, 'scaled + bias');
      await t.expectSame(a, 'NITRO-ReLU');
    },
  );

  it.each(SHAPES.map((s, i) => [i, ...s]))(
    'input and weight gradients #%i B=%i K=%i O=%i, int8 and int32 g',
    async (i, B, K, O) => {
      const rng = new Rng(2000 + i);
      const wrap = i % 4 === 1;
      const x = t.tensor([B, K], 'i8', randomInts(rng, B * K, -128, 127), 'x');
      const w = t.tensor([O, K], 'i32', weights(rng, O * K, wrap), 'w');
      const g8 = t.tensor([B, O], 'i8', randomInts(rng, B * O, -128, 127), 'g8');
      const g32 = t.tensor(
        [B, O],
        'i32',
        wrap ? randomInts(rng, B * O, I32_MIN, I32_MAX) : randomInts(rng, B * O, -5000, 5000),
        'g32',
      );
      const dx8 = t.tensor([B, K], 'i32', undefined, 'dx8');
      const dx32 = t.tensor([B, K], 'i32', undefined, 'dx32');
      const dw8 = t.tensor([O, K], 'i32', undefined, 'dw8');
      const dw32 = t.tensor([O, K], 'i32', undefined, 'dw32');
      // NITRO-ReLU's backward fused into the store, against the same op unfused (every saved
      // input from -128 to 127: pass, divided by the slope, or 0 at the clip).
      const sv = randomInts(rng, B * K, -128, 127);
      sv[0] = 127;
      const saved = t.tensor([B, K], 'i8', sv, 'saved s');
      const fused8 = t.tensor([B, K], 'i32', undefined, 'fused8');
      const fused32 = t.tensor([B, K], 'i32', undefined, 'fused32');
      const slopeInv = SLOPES[i % SLOPES.length];
      t.run((ops, on) => {
        ops.linearInputGrad({
          g: on(g8),
          w: on(w),
          out: on(fused8),
          relu: { x: on(saved), slopeInv },
        });
        ops.linearInputGrad({
          g: on(g32),
          w: on(w),
          out: on(fused32),
          relu: { x: on(saved), slopeInv },
        });
        ops.linearInputGrad({ g: on(g8), w: on(w), out: on(dx8) });
        ops.linearInputGrad({ g: on(g32), w: on(w), out: on(dx32) });
        ops.linearWeightGrad({ g: on(g8), x: on(x), out: on(dw8) });
        ops.linearWeightGrad({ g: on(g32), x: on(x), out: on(dw32) });
      });
      await t.expectSame(dx8, 'input grad, int8 g');
      await t.expectSame(dx32, 'input grad, int32 g');
      const fusedGpu = [
        await t.expectSame(fused8, 'input grad + NITRO-ReLU backward, int8 g'),
        await t.expectSame(fused32, 'input grad + NITRO-ReLU backward, int32 g'),
      ];
      t.run((ops, on) => {
        for (const dx of [dx8, dx32])
          ops.nitroReluBackward({ delta: on(dx), x: on(saved), out: on(dx), slopeInv });
      });
      expectSameElements(
        await t.expectSame(dx8, 'unfused, int8 g'),
        fusedGpu[0],
        'fused == unfused, int8 g',
      );
      expectSameElements(
        await t.expectSame(dx32, 'unfused, int32 g'),
        fusedGpu[1],
        'fused == unfused, int32 g',
      );
      await t.expectSame(dw8, 'weight grad, int8 g');
      await t.expectSame(dw32, 'weight grad, int32 g');
    },
  );
  it('linearInputGrad refuses a saved input of the wrong shape or a bad slope, in one line, naming the op and tensor', () => {
    const g = t.tensor([4, 3], 'i8', undefined, 'g');
    const w = t.tensor([3, 5], 'i32', undefined, 'w');
    const out = t.tensor([4, 5], 'i32', undefined, 'dx');
    const good = t.tensor([4, 5], 'i8', undefined, 'saved');
    const bad = t.tensor([4, 6], 'i8', undefined, 'saved');
    const cases: [string, Twin, number, RegExp][] = [
      ['shape', bad, 4, /^linearInputGrad: .*saved.*\[4, 6\].*\[4, 5\]/],
      ['slope', good, 6, /^linearInputGrad: .*\b6 is not one of/],
    ];
    for (const [what, saved, slopeInv, message] of cases) {
      for (const side of ['gpu', 'cpu'] as const) {
        const backend = t[side];
        let error: Error | undefined;
        try {
          backend.ops.linearInputGrad({
            g: g[side],
            w: w[side],
            out: out[side],
            relu: { x: saved[side], slopeInv },
          });
        } catch (e) {
          error = e as Error;
        }
        expect(error?.message, `${what} on ${side}`).toMatch(message);
        expect(error?.message, `${what} on ${side}`).not.toContain('\n');
      }
    }
  });
});
