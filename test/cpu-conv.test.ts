/**
 * The CPU backend's convolution (wasm.ts kernels on a padded copy of the input, and their
 * JavaScript twins) against a naive scalar convolution written here, element by element:
 * forward with bias (raw int32 and through the epilogue) and weight gradient. Shapes cover
 * batch 1, one and many channels, kernels 1/3/5 with paddings 0-2, output widths that are not
 * multiples of 8, odd filter counts and full-range int32 weights and deltas (sums wrap); the
 * weight gradient on dense, sparse and all-zero deltas, through its dense and sparse paths,
 * alone and with the fused IntegerSGD.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nitroScale } from '../src/arith.ts';
import { nitroRelu } from '../src/ops/activation/contract.ts';
import { conv2dWeightGrad } from '../src/ops/conv/cpu.ts';
import { CpuBackend } from '../src/cpu-backend.ts';
import { Rng } from '../src/rng.ts';
import { expectSameElements, randomInts, tensorOf } from './helpers.ts';

const I32_MIN = -2147483648;
const I32_MAX = 2147483647;

/** [B, C, H, W, F, k, padding] */
const FIXED: [number, number, number, number, number, number, number][] = [
  [1, 1, 1, 1, 1, 1, 0],
  [1, 1, 3, 3, 1, 3, 1],
  [2, 3, 5, 5, 2, 3, 1],
  [2, 1, 8, 8, 4, 3, 0],
  [1, 3, 7, 7, 5, 5, 2],
  [3, 2, 6, 5, 3, 3, 1],
  [1, 2, 2, 2, 3, 5, 2],
  [4, 1, 28, 28, 16, 3, 1],
  [2, 16, 14, 14, 32, 3, 1],
  [3, 3, 11, 13, 7, 3, 0],
  [2, 6, 10, 10, 5, 3, 1],
  [1, 1, 1, 17, 2, 1, 0],
  [2, 5, 9, 9, 9, 1, 1],
  [1, 4, 16, 16, 8, 5, 2],
];

function shapes(): [number, number, number, number, number, number, number][] {
  const rng = new Rng(4242);
  const out = [...FIXED];
  for (let i = 0; i < 8; i++) {
    const k = [1, 3, 5][rng.int(0, 2)];
    const pad = rng.int(0, (k - 1) / 2);
    out.push([
      rng.int(1, 4),
      rng.int(1, 9),
      rng.int(k, 19),
      rng.int(k, 19),
      rng.int(1, 11),
      k,
      pad,
    ]);
  }
  return out;
}

/** x[b, c, h, w] with zero outside the image. */
function at(
  x: Int32Array,
  C: number,
  H: number,
  W: number,
  b: number,
  c: number,
  h: number,
  w: number,
): number {
  return h < 0 || h >= H || w < 0 || w >= W ? 0 : x[((b * C + c) * H + h) * W + w];
}

// Every op split over 2 and 3 threads (down to the smallest shapes) gives the same elements.
describe.each([
  ['wasm-simd', 1],
  ['wasm-simd', 2],
  ['wasm-simd', 3],
  ['js', 1],
] as const)('CPU convolution (%s kernels, %i threads) == naive scalar', (kernel, threads) => {
  let backend: CpuBackend;
  beforeAll(async () => {
    backend = await CpuBackend.create({ threads });
    backend.workspace.minThreadedMacs = 0;
    if (backend.workspace.pool) backend.workspace.pool.adaptive = false;
  });
  afterAll(() => backend.destroy());

  it('uses the requested kernels and threads', () => {
    backend.workspace.simdEnabled = kernel === 'wasm-simd';
    expect(backend.workspace.kernel()).toBe(kernel);
    expect(backend.workspace.threads()).toBe(threads);
  });

  it.each(shapes().map((s, i) => [i, ...s]))(
    '#%i B=%i C=%i %ix%i F=%i k=%i pad=%i: forward and weight gradient',
    async (i, B, C, H, W, F, k, pad) => {
      backend.workspace.simdEnabled = kernel === 'wasm-simd';
      const rng = new Rng(900 + i);
      const wrap = i % 2 === 1;
      const lo = wrap ? I32_MIN : -30000;
      const hi = wrap ? I32_MAX : 30000;
      const Ho = H + 2 * pad - k + 1;
      const Wo = W + 2 * pad - k + 1;
      const xv = randomInts(rng, B * C * H * W, -128, 127);
      const wv = randomInts(rng, F * C * k * k, lo, hi);
      const bv = randomInts(rng, F, lo, hi);
      const x = tensorOf(backend, [B, C, H, W], 'i8', xv, 'x');
      const w = tensorOf(backend, [F, C, k, k], 'i32', wv, 'w');
      const bias = tensorOf(backend, [F], 'i32', bv, 'bias');

      const expected = new Int32Array(B * F * Ho * Wo);
      for (let b = 0; b < B; b++) {
        for (let f = 0; f < F; f++) {
          for (let oi = 0; oi < Ho; oi++) {
            for (let oj = 0; oj < Wo; oj++) {
              let acc = bv[f];
              for (let c = 0; c < C; c++) {
                for (let u = 0; u < k; u++) {
                  for (let v = 0; v < k; v++) {
                    acc =
                      (acc +
                        Math.imul(
                          wv[((f * C + c) * k + u) * k + v],
                          at(xv, C, H, W, b, c, oi + u - pad, oj + v - pad),
                        )) |
                      0;
                  }
                }
              }
              expected[((b * F + f) * Ho + oi) * Wo + oj] = acc;
            }
          }
        }
      }
      const z = backend.tensor([B, F, Ho, Wo], 'i32', 'z');
      backend.ops.conv2d({ x, w, bias, padding: pad, out: z });
      expectSameElements(await backend.read(z), expected, 'conv2d z');

      const sf = rng.int(1, 5000);
      const s = backend.tensor([B, F, Ho, Wo], 'i8', 's');
      const a = backend.tensor([B, F, Ho, Wo], 'i8', 'a');
      backend.ops.conv2d({
        x,
        w,
        bias,
        padding: pad,
        out: s,
        epilogue: { scale: sf, relu: { out: a, slopeInv: 8 } },
      });
      const sExp = expected.map((v) => nitroScale(v, sf));
      expectSameElements(await backend.read(s), sExp, 'conv2d scaled');
      expectSameElements(
        await backend.read(a),
        sExp.map((v) => nitroRelu(v, 8)),
        'conv2d NITRO-ReLU',
      );
      // Without bias (the epilogue then runs on the kernels): z - bias, scaled.
      backend.ops.conv2d({
        x,
        w,
        padding: pad,
        out: s,
        epilogue: { scale: sf, relu: { out: a, slopeInv: 8 } },
      });
      const noBias = expected.map((v, i) =>
        nitroScale((v - bv[Math.floor(i / (Ho * Wo)) % F]) | 0, sf),
      );
      expectSameElements(await backend.read(s), noBias, 'conv2d scaled, no bias');
      expectSameElements(
        await backend.read(a),
        noBias.map((v) => nitroRelu(v, 8)),
        'conv2d NITRO-ReLU, no bias',
      );

      // Deltas dense, sparse (one pixel in ten) and all zero, through the op (which picks the
      // sparse or dense path by the work each would do) and through each path.
      const dense = randomInts(rng, B * F * Ho * Wo, lo, hi);
      for (let j = 0; j < dense.length; j += 3) dense[j] = 0;
      const sparse = dense.map((v, j) =>
        rng.int(0, 9) === 0 || j === dense.length - 1 ? v | 1 : 0,
      );
      for (const [name, dv] of [
        ['dense', dense],
        ['sparse', sparse],
        ['zero', new Int32Array(dense.length)],
      ] as const) {
        const delta = tensorOf(backend, [B, F, Ho, Wo], 'i32', dv, 'delta');
        const dwExp = new Int32Array(F * C * k * k);
        for (let f = 0; f < F; f++) {
          for (let c = 0; c < C; c++) {
            for (let u = 0; u < k; u++) {
              for (let v = 0; v < k; v++) {
                let acc = 0;
                for (let b = 0; b < B; b++) {
                  for (let oi = 0; oi < Ho; oi++) {
                    for (let oj = 0; oj < Wo; oj++) {
                      acc =
                        (acc +
                          Math.imul(
                            dv[((b * F + f) * Ho + oi) * Wo + oj],
                            at(xv, C, H, W, b, c, oi + u - pad, oj + v - pad),
                          )) |
                        0;
                    }
                  }
                }
                dwExp[((f * C + c) * k + u) * k + v] = acc;
              }
            }
          }
        }
        const dw = backend.tensor([F, C, k, k], 'i32', 'dw');
        backend.ops.conv2dWeightGrad({ delta, x, padding: pad, out: dw });
        expectSameElements(await backend.read(dw), dwExp, `conv2dWeightGrad, ${name} delta`);
        // Each path on its own, whichever the op picks for this delta.
        for (const path of ['sparse', 'dense'] as const) {
          conv2dWeightGrad(backend.workspace, { delta, x, padding: pad, out: dw }, path);
          expectSameElements(
            await backend.read(dw),
            dwExp,
            `conv2dWeightGrad, ${name} delta, ${path} path`,
          );
        }
        // The fused IntegerSGD (on the workspace's kernels, split over the threads) against
        // the update written out here, through the op and through each path; the weights are
        // updated twice with decay (amp 3: a divisor the sgd kernel takes) and once without it
        // (lrInv 1, amp 1: a divisor it does not, so the update runs in JavaScript).
        const lrInv = tensorOf(backend, [1], 'i32', [i % 2 === 0 ? 37 : 1], 'lrInv');
        const amp = i % 2 === 0 ? 3 : 1;
        let wNow = randomInts(rng, F * C * k * k, lo, hi);
        const wt = tensorOf(backend, [F, C, k, k], 'i32', wNow, 'w fused');
        const decays = [7, 0, 1000];
        for (const [j, path] of ([undefined, 'sparse', 'dense'] as const).entries()) {
          const decayInv = decays[j];
          const sgd = { w: wt, lrInv, amp, decayInv };
          const lr = i % 2 === 0 ? 37 : 1;
          wNow = wNow.map(
            (wi, e) =>
              (wi -
                ((Math.trunc(Math.trunc(dwExp[e] / amp) / lr) +
                  (decayInv > 0 ? Math.trunc(wi / decayInv) : 0)) |
                  0)) |
              0,
          );
          if (path === undefined) backend.ops.conv2dWeightGrad({ delta, x, padding: pad, sgd });
          else conv2dWeightGrad(backend.workspace, { delta, x, padding: pad, sgd }, path);
          expectSameElements(
            await backend.read(wt),
            wNow,
            `conv2dWeightGrad fused SGD, ${name} delta, ${path ?? 'op'} path`,
          );
        }
      }
    },
  );
});
