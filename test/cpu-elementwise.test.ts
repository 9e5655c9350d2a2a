/**
 * The CPU backend's fast element-wise paths against the scalar formulas of arith.ts written out
 * here: IntegerSGD (one division by amp·lrInv instead of two nested ones), NITRO-ReLU backward
 * (inverse slopes from a table), NITRO scaling (branch-free clip) and ReLU (a table), as ops and
 * as the epilogue of a layer, with
 * extreme int32 values, every allowed slope and every int8 input.
 */
import { describe, expect, it } from 'vitest';
import { nitroScale } from '../src/arith.ts';
import { ALLOWED_SLOPES, nitroRelu, nitroReluInvSlope } from '../src/ops/activation/contract.ts';
import { CpuBackend } from '../src/cpu-backend.ts';
import { Rng } from '../src/rng.ts';
import { expectSameElements, randomInts, tensorOf } from './helpers.ts';

const I32_MIN = -2147483648;
const I32_MAX = 2147483647;
const EDGES = [I32_MIN, I32_MIN + 1, -65536, -1000, -1, 0, 1, 999, 65535, I32_MAX - 1, I32_MAX];

/** Values with every edge case followed by random full-range ones. */
function values(rng: Rng, n: number): Int32Array {
  const v = randomInts(rng, n, I32_MIN, I32_MAX);
  for (let i = 0; i < EDGES.length && i < n; i++) v[i] = EDGES[i];
  for (let i = EDGES.length; i < n; i += 7) v[i] = rng.int(-300, 300);
  return v;
}

describe('CPU element-wise fast paths == scalar formulas', () => {
  const backend = new CpuBackend();

  it.each([
    [1, 1, 0],
    [1, 512, 0],
    [1, 512, 3500],
    [3, 7, 28000],
    [16, 1024, 1],
    [65536, 32768, 0],
    [I32_MAX, I32_MAX, I32_MAX],
    [1, I32_MAX, 5],
    [123457, 17, 9],
  ])('integerSgd amp %i lrInv %i decayInv %i', async (amp, lrInv, decayInv) => {
    const rng = new Rng(amp ^ lrInv ^ decayInv);
    const n = 2000;
    const wv = values(rng, n);
    const gv = values(rng, n);
    // Weight and gradient edge cases paired both ways.
    gv.set(EDGES.slice().reverse());
    const w = tensorOf(backend, [n], 'i32', wv, 'w');
    const g = tensorOf(backend, [n], 'i32', gv, 'g');
    const lr = tensorOf(backend, [1], 'i32', [lrInv], 'lrInv');
    backend.ops.integerSgd({ w, grad: g, lrInv: lr, amp, decayInv });
    const expected = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      let step = (((gv[i] / amp) | 0) / lrInv) | 0;
      if (decayInv > 0) step = (step + ((wv[i] / decayInv) | 0)) | 0;
      expected[i] = (wv[i] - step) | 0;
    }
    expectSameElements(await backend.read(w), expected, 'w after IntegerSGD');
  });

  it.each([1, 2, 3, 255, 256 * 784, 65536, I32_MAX])(
    'scale by %i and nitroRelu ops',
    async (sf) => {
      const rng = new Rng(sf);
      const n = 4096;
      const zv = values(rng, n);
      const near = Math.min(130 * sf, I32_MAX);
      for (let i = EDGES.length; i < n; i += 5) zv[i] = rng.int(-near, near);
      const z = tensorOf(backend, [n], 'i32', zv, 'z');
      const s = backend.tensor([n], 'i8', 's');
      backend.ops.scale({ x: z, out: s, scale: sf });
      const sv = await backend.read(s);
      expectSameElements(
        sv,
        zv.map((v) => nitroScale(v, sf)),
        'scale',
      );
      const all = tensorOf(
        backend,
        [256],
        'i8',
        Array.from({ length: 256 }, (_, i) => i - 128),
        'every int8',
      );
      const a = backend.tensor([256], 'i8', 'a');
      for (const slope of ALLOWED_SLOPES) {
        backend.ops.nitroRelu({ x: all, out: a, slopeInv: slope });
        expectSameElements(
          await backend.read(a),
          Array.from({ length: 256 }, (_, i) => nitroRelu(i - 128, slope)),
          `nitroRelu 1/${slope}`,
        );
      }
    },
  );

  it.each(ALLOWED_SLOPES)(
    'nitroReluBackward and the scaling + ReLU epilogue, slope 1/%i',
    async (slope) => {
      const rng = new Rng(slope);
      const n = 256 * 8;
      const xv = new Int32Array(n);
      for (let i = 0; i < n; i++) xv[i] = (i % 256) - 128;
      const dv = values(rng, n);
      const x = tensorOf(backend, [n], 'i8', xv, 'x');
      const d = tensorOf(backend, [n], 'i32', dv, 'delta');
      const out = backend.tensor([n], 'i32', 'out');
      backend.ops.nitroReluBackward({ delta: d, x, out, slopeInv: slope });
      expectSameElements(
        await backend.read(out),
        dv.map((v, i) => (v / nitroReluInvSlope(xv[i], slope)) | 0),
        'nitroReluBackward',
      );

      // z = bias through a 1×1 "linear" layer with weight 0: s = scale(z), a = relu(s).
      const B = 64;
      const zv = values(rng, B);
      const one = tensorOf(backend, [B, 1], 'i8', new Array(B).fill(1), 'ones');
      const w = tensorOf(backend, [1, 1], 'i32', [0], 'w');
      const sf = rng.int(1, 3000);
      const s = backend.tensor([B, 1], 'i8', 's');
      const a = backend.tensor([B, 1], 'i8', 'a');
      for (const zs of [zv, new Int32Array(B).map((_, i) => (i - 32) * sf * 5)]) {
        const bias = tensorOf(backend, [1], 'i32', [0], 'bias');
        for (let b = 0; b < B; b++) {
          backend.write(bias, [zs[b]]);
          backend.ops.linear({
            x: one,
            w,
            bias,
            out: s,
            epilogue: { scale: sf, relu: { out: a, slopeInv: slope } },
          });
          const sb = (await backend.read(s))[b];
          expect(sb, `scale(${zs[b]} / ${sf})`).toBe(nitroScale(zs[b], sf));
          expect((await backend.read(a))[b], `relu(${sb})`).toBe(nitroRelu(sb, slope));
        }
      }
    },
  );
});
