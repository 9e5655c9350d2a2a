/**
 * IntegerSGD fused into the weight-gradient ops (Ops SgdUpdate), WebGPU against the CPU backend
 * element by element, and against the unfused pair (weight gradient into a tensor, then
 * integerSgd) on the same backend. Every kernel variant; odd shapes, batch 1, a bias-like
 * [O, 1] gradient of an [O] tensor; gradients and weights near ±2^31 so that the sums and the
 * update wrap; decay on and off; a learning rate changed between runs of a recorded program.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, Ops, Tensor } from '../src/backend.ts';
import {
  findVariant,
  type GemmOp,
  type VariantChoice,
  variantsOf,
} from '../src/kernels/gemm-tiles.ts';
import { withForcedVariant } from '../src/gpu/variants.ts';
import { Rng } from '../src/rng.ts';
import { expectSameElements, randomInts, sparsifyDelta } from './helpers.ts';
import { type Twin, Twins } from './kernels-twin.ts';

const I32_MIN = -2147483648;
const I32_MAX = 2147483647;

/** [amp, decayInv, lrInv] per case. */
const SGD: [number, number, number][] = [
  [1, 0, 512],
  [640, 12000, 1],
  [7, 1, 3],
  [1, I32_MAX, 1536],
  [3, 3000, 1],
];

function labels(op: GemmOp): [string][] {
  return variantsOf(op).map((v) => [v.label]);
}

/** [B, K, O]; the last is a bias gradient (x = ones [B, 1], w [O]). */
const LINEAR_SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 7, 3],
  [5, 13, 9],
  [3, 77, 33],
  [64, 258, 11],
  [2, 5, 129],
  // Rows of whole vec4 words (the tiled kernels' vec4 loads): int32 g, then both g dtypes.
  [19, 32, 12],
  [21, 48, 32],
  [9, 1, 17],
];

/** [B, C, H, W, F, k, padding] */
const CONV_SHAPES: [number, number, number, number, number, number, number][] = [
  [1, 1, 1, 1, 1, 1, 0],
  [2, 3, 5, 7, 9, 3, 1],
  [1, 5, 4, 4, 12, 3, 0],
  [2, 9, 6, 5, 3, 5, 2],
  [3, 4, 3, 3, 17, 3, 1],
  [3, 16, 5, 6, 70, 3, 1],
];

describe('weight gradient + IntegerSGD fused: WebGPU == CPU == unfused', () => {
  let t: Twins;
  beforeAll(async () => {
    t = await Twins.create();
  });
  afterEach(() => t.disposeAll());

  /**
   * Runs `grad(ops, on, out, sgd?)` fused on both backends and unfused on the GPU, for two lrInv
   * values; asserts every weight equal.
   */
  async function check(
    [op, choice]: [GemmOp, VariantChoice],
    what: string,
    wShape: readonly number[],
    gradShape: readonly number[],
    wv: Int32Array,
    [amp, decayInv, lr]: [number, number, number],
    grad: (
      ops: Ops,
      on: (x: Twin) => Tensor,
      out: Tensor,
      sgd?: { w: Tensor; lrInv: Tensor; amp: number; decayInv: number },
    ) => void,
  ): Promise<void> {
    const w = t.tensor(wShape, 'i32', wv, 'w');
    const wRef = t.tensor(wShape, 'i32', wv, 'wRef');
    const out = t.tensor(gradShape, 'i32', undefined, 'dw');
    const lrInv = t.tensor([1], 'i32', [lr], 'lrInv');
    const gpu: Backend = t.gpu;
    for (const lrValue of [lr, lr + 5]) {
      t.write(lrInv, [lrValue]);
      withForcedVariant(gpu, op, choice, () => {
        t.run((ops, on) => grad(ops, on, on(out), { w: on(w), lrInv: on(lrInv), amp, decayInv }));
        grad(gpu.ops, (x) => x.gpu, out.gpu);
        gpu.ops.integerSgd({
          w: wRef.gpu,
          grad: gpu.view(out.gpu, wShape),
          lrInv: lrInv.gpu,
          amp,
          decayInv,
        });
      });
    }
    const fused = await t.expectSame(w, `${what}: fused GPU vs CPU`);
    expectSameElements(fused, await gpu.read(wRef.gpu), `${what}: fused vs unfused`);
    // The update did something (guards against a no-op on both sides).
    expect(
      fused.some((v, i) => v !== wv[i]),
      `${what}: weights changed`,
    ).toBe(true);
  }

  it.each(labels('linearWeightGrad'))(
    'linear %s: int8 and int32 g, bias shape, wrapping',
    async (label) => {
      const choice = findVariant('linearWeightGrad', label)!;
      const v: [GemmOp, VariantChoice] = ['linearWeightGrad', choice];
      for (const [i, [B, K, O]] of LINEAR_SHAPES.entries()) {
        const rng = new Rng(7100 + i);
        const wrap = i % 2 === 1;
        const x = t.tensor([B, K], 'i8', randomInts(rng, B * K, -128, 127), 'x');
        const g8 = t.tensor([B, O], 'i8', randomInts(rng, B * O, -128, 127), 'g8');
        const g32 = t.tensor(
          [B, O],
          'i32',
          wrap ? randomInts(rng, B * O, I32_MIN, I32_MAX) : randomInts(rng, B * O, -5000, 5000),
          'g32',
        );
        const ones = t.tensor([B, 1], 'i8', new Array(B).fill(1), 'ones');
        const wv = () =>
          wrap ? randomInts(rng, O * K, I32_MIN, I32_MAX) : randomInts(rng, O * K, -30000, 30000);
        const sgd = SGD[i % SGD.length];
        for (const [name, g] of [
          ['int8 g', g8],
          ['int32 g', g32],
        ] as const) {
          await check(
            v,
            `linear ${label} [${B}, ${K}, ${O}] ${name}`,
            [O, K],
            [O, K],
            wv(),
            sgd,
            (ops, on, out, s) => ops.linearWeightGrad({ g: on(g), x: on(x), out, sgd: s }),
          );
        }
        const bias = wrap
          ? randomInts(rng, O, I32_MIN, I32_MAX)
          : randomInts(rng, O, -30000, 30000);
        await check(
          v,
          `bias ${label} [${B}, ${O}]`,
          [O],
          [O, 1],
          bias,
          SGD[(i + 1) % SGD.length],
          (ops, on, out, s) => ops.linearWeightGrad({ g: on(g32), x: on(ones), out, sgd: s }),
        );
      }
    },
  );

  it.each(labels('conv2dWeightGrad'))(
    'conv %s: odd shapes, padding, wrapping, sparse and dense filters',
    async (label) => {
      const choice = findVariant('conv2dWeightGrad', label)!;
      const v: [GemmOp, VariantChoice] = ['conv2dWeightGrad', choice];
      for (const [i, [B, C, H, W, F, k, pad]] of CONV_SHAPES.entries()) {
        const rng = new Rng(7200 + i);
        const wrap = i % 2 === 1;
        const Ho = H + 2 * pad - k + 1;
        const Wo = W + 2 * pad - k + 1;
        const x = t.tensor([B, C, H, W], 'i8', randomInts(rng, B * C * H * W, -128, 127), 'x');
        const dv = wrap
          ? randomInts(rng, B * F * Ho * Wo, I32_MIN, I32_MAX)
          : randomInts(rng, B * F * Ho * Wo, -3000, 3000);
        // Every third shape keeps delta dense; the others mix filters of every density.
        const delta = t.tensor(
          [B, F, Ho, Wo],
          'i32',
          i % 3 === 1 ? dv : sparsifyDelta(rng, dv, F, Ho * Wo, i + 3),
          'delta',
        );
        const n = F * C * k * k;
        const wv = wrap ? randomInts(rng, n, I32_MIN, I32_MAX) : randomInts(rng, n, -4000, 4000);
        await check(
          v,
          `conv ${label} #${i}`,
          [F, C, k, k],
          [F, C, k, k],
          wv,
          SGD[i % SGD.length],
          (ops, on, out, s) =>
            ops.conv2dWeightGrad({ delta: on(delta), x: on(x), padding: pad, out, sgd: s }),
        );
      }
    },
  );

  it('reads the learning rate when a recorded program runs', async () => {
    const rng = new Rng(7300);
    const [B, K, O] = [6, 23, 5];
    const x = t.tensor([B, K], 'i8', randomInts(rng, B * K, -128, 127), 'x');
    const g = t.tensor([B, O], 'i32', randomInts(rng, B * O, -100000, 100000), 'g');
    const wv = randomInts(rng, O * K, -30000, 30000);
    const w = t.tensor([O, K], 'i32', wv, 'w');
    const out = t.tensor([O, K], 'i32', undefined, 'dw');
    const lrInv = t.tensor([1], 'i32', [2], 'lrInv');
    const step = (b: 'gpu' | 'cpu') =>
      t[b].record('fused', (ops) =>
        ops.linearWeightGrad({
          g: g[b],
          x: x[b],
          out: out[b],
          sgd: { w: w[b], lrInv: lrInv[b], amp: 3, decayInv: 1000 },
        }),
      );
    const programs = { gpu: step('gpu'), cpu: step('cpu') };
    t.gpu.run(programs.gpu, 2);
    t.cpu.run(programs.cpu, 2);
    t.write(lrInv, [7]);
    t.gpu.run(programs.gpu);
    t.cpu.run(programs.cpu);
    const got = await t.expectSame(w, 'fused, recorded');
    expect(got.some((v, i) => v !== wv[i])).toBe(true);
  });

  it('refuses weights of another size or sharing storage with an input', () => {
    const x = t.tensor([2, 4], 'i8', undefined, 'x');
    const g = t.tensor([2, 3], 'i32', undefined, 'g');
    const out = t.tensor([3, 4], 'i32', undefined, 'dw');
    const lrInv = t.tensor([1], 'i32', [1], 'lrInv');
    const small = t.tensor([3, 3], 'i32', undefined, 'small');
    for (const b of ['gpu', 'cpu'] as const) {
      expect(() =>
        t[b].ops.linearWeightGrad({
          g: g[b],
          x: x[b],
          out: out[b],
          sgd: { w: small[b], lrInv: lrInv[b], amp: 1, decayInv: 0 },
        }),
      ).toThrow(/small/);
    }
    const gw = t.tensor([3, 4], 'i32', undefined, 'gw');
    expect(() =>
      t.gpu.ops.linearWeightGrad({
        g: t.gpu.view(gw.gpu, [2, 3]),
        x: x.gpu,
        out: out.gpu,
        sgd: { w: gw.gpu, lrInv: lrInv.gpu, amp: 1, decayInv: 0 },
      }),
    ).toThrow(/gw/);
  });

  it('without out updates the same weights; with neither out nor sgd it says what is missing', async () => {
    const rng = new Rng(31);
    const x = t.tensor([3, 2, 4, 4], 'i8', randomInts(rng, 96, -128, 127), 'x');
    const delta = t.tensor([3, 5, 4, 4], 'i32', randomInts(rng, 240, -5000, 5000), 'delta');
    const wv = randomInts(rng, 90, -64, 64);
    const w = t.tensor([5, 2, 3, 3], 'i32', wv, 'w');
    const wRef = t.tensor([5, 2, 3, 3], 'i32', wv, 'wRef');
    const out = t.tensor([5, 2, 3, 3], 'i32', undefined, 'dw');
    const lrInv = t.tensor([1], 'i32', [3], 'lrInv');
    t.run((ops, on) => {
      ops.conv2dWeightGrad({
        delta: on(delta),
        x: on(x),
        padding: 1,
        sgd: { w: on(w), lrInv: on(lrInv), amp: 7, decayInv: 100 },
      });
      ops.conv2dWeightGrad({ delta: on(delta), x: on(x), padding: 1, out: on(out) });
      ops.integerSgd({ w: on(wRef), grad: on(out), lrInv: on(lrInv), amp: 7, decayInv: 100 });
    });
    const got = await t.expectSame(w, 'fused without out');
    expectSameElements(got, await t.gpu.read(wRef.gpu), 'fused without out vs unfused');
    expect(got.some((v, i) => v !== wv[i])).toBe(true);
    const g = t.tensor([3, 4], 'i32', undefined, 'g');
    const xl = t.tensor([3, 6], 'i8', undefined, 'xl');
    for (const b of ['gpu', 'cpu'] as const) {
      expect(() => t[b].ops.linearWeightGrad({ g: g[b], x: xl[b] })).toThrow(
        /linearWeightGrad: needs out \(for the gradient\) or sgd/,
      );
      expect(() => t[b].ops.conv2dWeightGrad({ delta: delta[b], x: x[b], padding: 1 })).toThrow(
        /conv2dWeightGrad: needs out \(for the gradient\) or sgd/,
      );
    }
  });
});
