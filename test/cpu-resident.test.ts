/**
 * Results left in the workspace and read there by the next op (conv forward's NITRO-ReLU output
 * into a max-pool, the max-pool's output into a conv, the max-pool backward's into the conv
 * weight gradient): the same bits as from a copy (every element, both weight-gradient paths, 1,
 * 2 and 3 threads), and a write to that tensor in between (by an op or by write) drops the kept
 * copy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tensor } from '../src/backend.ts';
import { CpuBackend } from '../src/cpu-backend.ts';
import { dataOf } from '../src/cpu/tensor.ts';
import { conv2dWeightGrad } from '../src/ops/conv/cpu.ts';
import { Rng } from '../src/rng.ts';
import { expectSameElements, randomInts, tensorOf } from './helpers.ts';

const B = 3;
const C = 5;
const F = 8;
const H = 8;
const K = 3;

describe.each([1, 2, 3])(
  'kept pool gradient into the conv weight gradient (%i threads)',
  (threads) => {
    let backend: CpuBackend;
    let reference: CpuBackend;
    beforeAll(async () => {
      backend = await CpuBackend.create({ threads });
      backend.workspace.minThreadedMacs = 0;
      if (backend.workspace.pool) backend.workspace.pool.adaptive = false;
      reference = await CpuBackend.create({ threads: 1 });
    });
    afterAll(() => {
      backend.destroy();
      reference.destroy();
    });

    /** The weight gradient of `deltaValues` on the reference backend (its delta written, never kept). */
    async function expectedGrad(
      xv: ArrayLike<number>,
      deltaValues: Int32Array,
    ): Promise<Int32Array> {
      const x = tensorOf(reference, [B, C, H, H], 'i8', xv, 'x');
      const delta = tensorOf(reference, [B, F, H, H], 'i32', deltaValues, 'delta');
      const dw = reference.tensor([F, C, K, K], 'i32', 'dw');
      reference.ops.conv2dWeightGrad({ delta, x, padding: 1, out: dw });
      return reference.read(dw);
    }

    function poolBackward(seed: number): { delta: Tensor; x: Tensor; xv: ArrayLike<number> } {
      const rng = new Rng(seed);
      const xv = randomInts(rng, B * C * H * H, -128, 127);
      const x = tensorOf(backend, [B, C, H, H], 'i8', xv, 'x');
      const pooled = tensorOf(
        backend,
        [B, F, H, H],
        'i8',
        randomInts(rng, B * F * H * H, -128, 127),
        'a',
      );
      const windows = tensorOf(
        backend,
        [B, F, H / 2, H / 2],
        'i32',
        randomInts(rng, (B * F * H * H) / 4, -2147483648, 2147483647),
        'windows',
      );
      const delta = backend.tensor([B, F, H, H], 'i32', 'delta');
      backend.ops.maxPoolBackward({
        x: pooled,
        kernel: [2, 2],
        padding: [0, 0],
        padMode: 'zero',
        delta: windows,
        out: delta,
      });
      return { delta, x, xv };
    }

    it.each(['sparse', 'dense', undefined] as const)(
      '%s path: same bits as from a copy',
      async (path) => {
        const { delta, x, xv } = poolBackward(40 + threads);
        const cw = backend.workspace;
        expect(cw.resident(dataOf(delta))).toBeDefined();
        const dw = backend.tensor([F, C, K, K], 'i32', 'dw');
        if (path) conv2dWeightGrad(cw, { delta, x, padding: 1, out: dw }, path);
        else backend.ops.conv2dWeightGrad({ delta, x, padding: 1, out: dw });
        const values = await backend.read(delta);
        expectSameElements(await backend.read(dw), await expectedGrad(xv, values), `${path} path`);
      },
    );

    it('conv forward, max-pool, conv forward: same bits as the JavaScript kernels, which keep nothing', async () => {
      const run = async (b: CpuBackend, kept: boolean) => {
        const r = new Rng(80 + threads);
        const x = tensorOf(b, [B, C, H, H], 'i8', randomInts(r, B * C * H * H, -128, 127), 'x');
        const w1 = tensorOf(
          b,
          [F, C, K, K],
          'i32',
          randomInts(r, F * C * K * K, -3000, 3000),
          'w1',
        );
        const w2 = tensorOf(
          b,
          [6, F, K, K],
          'i32',
          randomInts(r, 6 * F * K * K, -3000, 3000),
          'w2',
        );
        const s1 = b.tensor([B, F, H, H], 'i8', 's1');
        const a1 = b.tensor([B, F, H, H], 'i8', 'a1');
        const p1 = b.tensor([B, F, H / 2, H / 2], 'i8', 'p1');
        const s2 = b.tensor([B, 6, H / 2, H / 2], 'i8', 's2');
        const a2 = b.tensor([B, 6, H / 2, H / 2], 'i8', 'a2');
        const relu = (out: Tensor) => ({ scale: 40, relu: { out, slopeInv: 8 } });
        b.ops.conv2d({ x, w: w1, padding: 1, out: s1, epilogue: relu(a1) });
        expect(b.workspace.resident(dataOf(a1)) !== undefined).toBe(kept);
        b.ops.maxPool({ x: a1, kernel: [2, 2], padding: [0, 0], padMode: 'ignore', out: p1 });
        expect(b.workspace.resident(dataOf(a1))).toBeUndefined();
        expect(b.workspace.resident(dataOf(p1)) !== undefined).toBe(kept);
        b.ops.conv2d({ x: p1, w: w2, padding: 1, out: s2, epilogue: relu(a2) });
        return Promise.all([s1, a1, p1, s2, a2].map((t) => b.read(t)));
      };
      const got = await run(backend, true);
      reference.workspace.simdEnabled = false;
      try {
        const want = await run(reference, false);
        for (let i = 0; i < got.length; i++) expectSameElements(got[i], want[i], `tensor ${i}`);
      } finally {
        reference.workspace.simdEnabled = true;
      }
    });

    it('an op or a write to the tensor in between drops the kept copy', async () => {
      for (const between of ['fill', 'write'] as const) {
        const { delta, x, xv } = poolBackward(50 + threads);
        const cw = backend.workspace;
        expect(cw.resident(dataOf(delta))).toBeDefined();
        // Other tensors' ops leave it kept.
        backend.ops.fill({ out: backend.tensor([4], 'i32', 'other'), value: 3 });
        expect(cw.resident(dataOf(delta))).toBeDefined();
        const fresh = randomInts(new Rng(60 + threads), B * F * H * H, -1000, 1000);
        if (between === 'fill')
          backend.ops.fill({ out: backend.view(delta, [B * F * H * H], 'delta flat'), value: 7 });
        else backend.write(delta, fresh);
        expect(cw.resident(dataOf(delta))).toBeUndefined();
        const dw = backend.tensor([F, C, K, K], 'i32', 'dw');
        backend.ops.conv2dWeightGrad({ delta, x, padding: 1, out: dw });
        const values = await backend.read(delta);
        expect(values[0]).toBe(between === 'fill' ? 7 : fresh[0]);
        expectSameElements(await backend.read(dw), await expectedGrad(xv, values), between);
      }
    });
  },
);
