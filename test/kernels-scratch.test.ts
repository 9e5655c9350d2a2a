/**
 * Kernel scratch is sized by the largest layer of what was recorded, not by a trail of
 * outgrown buffers: a dispatch binds its scratch role when first submitted, so the layers
 * recorded before a role grew use the grown buffer, and their results stay exact.
 */
import { describe, expect, it } from 'vitest';
import type { Backend, Tensor } from '../src/backend.ts';
import { WebGPUBackend } from '../src/gpu/webgpu-backend.ts';
import { LIMB_PLANES, limbChunkRows } from '../src/ops/linear/gpu.ts';
import { Model } from '../src/model/model.ts';
import { getPreset } from '../src/model/presets.ts';
import { plannedScratch } from '../src/train/memory.ts';
import { findVariant } from '../src/kernels/gemm-tiles.ts';
import { withForcedVariant } from '../src/gpu/variants.ts';
import { cpu, expectSameElements, randomInts, Rng, sparsifyDelta, tensorOf } from './helpers.ts';
import { Twins } from './kernels-twin.ts';

interface Layer {
  B: number;
  K: number;
  O: number;
}

/** Bytes of the weight-limb scratch for one linear layer: limb counts row, then the planes. */
function limbBytes({ K, O }: Layer): number {
  const bytes = (Math.ceil(O / 4) * 4 + LIMB_PLANES * O * Math.ceil(K / 4)) * 4;
  return Math.ceil(bytes / 16) * 16;
}

function sum(m: Map<string, number>): number {
  return [...m.values()].reduce((a, b) => a + b, 0);
}

/** x, w and out of a raw linear layer, the same values on `backend`. */
function layer(backend: Backend, l: Layer, seed: number): { x: Tensor; w: Tensor; out: Tensor } {
  const rng = new Rng(seed);
  return {
    x: tensorOf(backend, [l.B, l.K], 'i8', randomInts(rng, l.B * l.K, -128, 127), 'x'),
    w: tensorOf(backend, [l.O, l.K], 'i32', randomInts(rng, l.O * l.K, -30000, 30000), 'w'),
    out: backend.tensor([l.B, l.O], 'i32', 'out'),
  };
}

async function expected(l: Layer, seed: number): Promise<Int32Array> {
  const c = await cpu();
  const t = layer(c, l, seed);
  c.ops.linear(t);
  return c.read(t.out);
}

describe('kernel scratch', () => {
  const small: Layer = { B: 3, K: 10, O: 6 };
  const large: Layer = { B: 5, K: 70, O: 33 };

  it('a recorded program binds one buffer per role, sized for its largest layer', async () => {
    const gpu = await WebGPUBackend.create();
    try {
      const a = layer(gpu, small, 1);
      const b = layer(gpu, large, 2);
      const program = gpu.record('two layers', (ops) => {
        ops.linear(a);
        ops.linear(b);
      });
      gpu.run(program);
      expectSameElements(
        await gpu.read(a.out),
        await expected(small, 1),
        'small layer (recorded before the role grew)',
      );
      expectSameElements(await gpu.read(b.out), await expected(large, 2), 'large layer');
      const roles = gpu.scratch.roles();
      expect(roles.get('weight-limbs')).toBe(limbBytes(large));
      expect(gpu.scratch.bytes()).toBe(sum(roles));
    } finally {
      gpu.destroy();
    }
  });

  it('a buffer outgrown after a program bound it stays alive and counted for that program', async () => {
    const gpu = await WebGPUBackend.create();
    try {
      const a = layer(gpu, small, 3);
      const first = gpu.record('small', (ops) => ops.linear(a));
      gpu.run(first);
      const b = layer(gpu, large, 4);
      const second = gpu.record('large', (ops) => ops.linear(b));
      gpu.run(second);
      gpu.write(a.out, new Int32Array(small.B * small.O));
      gpu.run(first);
      expectSameElements(
        await gpu.read(a.out),
        await expected(small, 3),
        'small layer, replayed after the role grew',
      );
      expectSameElements(await gpu.read(b.out), await expected(large, 4), 'large layer');
      const roles = gpu.scratch.roles();
      expect(roles.get('weight-limbs')).toBe(limbBytes(large));
      expect(gpu.scratch.bytes()).toBe(sum(roles) + limbBytes(small));
    } finally {
      gpu.destroy();
    }
  });
});

describe('the memory plan', () => {
  it.each([
    ['mlp1', 16],
    ['cnn-small', 6],
  ])(
    'plans the kernel scratch a recorded %s training step allocates (batch %i)',
    async (preset, batch) => {
      const spec = getPreset(preset).spec;
      const planned = plannedScratch(spec, batch);
      const gpu = await WebGPUBackend.create();
      try {
        const model = Model.create(gpu, spec, { seed: 1 });
        model.network(batch).recordTrainOnBatch();
        expect(Object.fromEntries(gpu.scratch.roles())).toEqual(Object.fromEntries(planned));
        expect(gpu.scratch.bytes()).toBe(sum(planned));
      } finally {
        gpu.destroy();
      }
    },
  );
});

/**
 * Weights whose limb planes pass the budget are packed and run in chunks of rows (filters):
 * rows of chunk 0 need 1-2 limbs (dot4 path), the last chunk mixes 2-limb rows with rows that
 * need 3 or 4 (the i32 fallback), every epilogue, compared with the CPU element by element.
 */
describe('limb planes in chunks of rows', () => {
  function weights(rng: Rng, rows: number, perRow: number): Int32Array {
    const w = randomInts(rng, rows * perRow, -32768, 32767);
    for (let r = rows - 3; r < rows; r++) {
      for (let j = 0; j < perRow; j += 7) w[r * perRow + j] = r % 2 ? 2147483647 - j : -8388608 + j;
    }
    return w;
  }

  it('linear: two chunks, every epilogue', async () => {
    const [B, K, O] = [3, 512, 72];
    const rows = limbChunkRows(O, Math.ceil(K / 4));
    expect(rows).toBeLessThan(O);
    expect(rows % 8).toBe(0);
    const t = await Twins.create();
    const rng = new Rng(11);
    const x = t.tensor([B, K], 'i8', randomInts(rng, B * K, -128, 127), 'x');
    const w = t.tensor([O, K], 'i32', weights(rng, O, K), 'w');
    const bias = t.tensor([O], 'i32', randomInts(rng, O, -1000, 1000), 'bias');
    const z = t.tensor([B, O], 'i32', undefined, 'z');
    const s = t.tensor([B, O], 'i8', undefined, 's');
    const a = t.tensor([B, O], 'i8', undefined, 'a');
    t.run((ops, on) => {
      ops.linear({ x: on(x), w: on(w), bias: on(bias), out: on(z) });
      ops.linear({
        x: on(x),
        w: on(w),
        out: on(s),
        epilogue: { scale: 4096, relu: { out: on(a), slopeInv: 4 } },
      });
    });
    await t.expectSame(z, 'raw sums');
    await t.expectSame(s, 'scaled');
    await t.expectSame(a, 'NITRO-ReLU');
    t.disposeAll();
  });

  it.each([
    [4, 'fused epilogue', 'tf8-tp4-dot4'],
    [5, 'separate epilogue pass', 'tf8-tp4-dot4'],
    [4, 'fused epilogue', 'bm64-bn64-dot4'],
    [5, 'separate epilogue pass', 'bm64-bn64-dot4'],
  ])('conv: two chunks, %i-pixel-wide maps (%s), %s', async (HW, _what, label) => {
    const [B, C, F, k, pad] = [2, 64, 72, 3, 1];
    const rows = limbChunkRows(F, k * k * (C / 4));
    expect(rows).toBeLessThan(F);
    const t = await Twins.create();
    const rng = new Rng(12 + HW);
    const x = t.tensor([B, C, HW, HW], 'i8', randomInts(rng, B * C * HW * HW, -128, 127), 'x');
    const w = t.tensor([F, C, k, k], 'i32', weights(rng, F, C * k * k), 'w');
    const out = [B, F, HW, HW];
    const z = t.tensor(out, 'i32', undefined, 'z');
    const s = t.tensor(out, 'i8', undefined, 's');
    const a = t.tensor(out, 'i8', undefined, 'a');
    withForcedVariant(t.gpu, 'conv2d', findVariant('conv2d', label)!, () =>
      t.run((ops, on) => {
        ops.conv2d({ x: on(x), w: on(w), padding: pad, out: on(z) });
        ops.conv2d({
          x: on(x),
          w: on(w),
          padding: pad,
          out: on(s),
          epilogue: { scale: 65536, relu: { out: on(a), slopeInv: 4 } },
        });
      }),
    );
    await t.expectSame(z, 'raw sums');
    await t.expectSame(s, 'scaled');
    await t.expectSame(a, 'NITRO-ReLU');
    t.disposeAll();
  });
});

/**
 * The sparse conv weight gradient lists delta's non-zero pixels for one chunk of filters at a
 * time once the lists would pass their budget: two chunks (40 and 32 filters), then three of 4
 * filters (a layer of few filters over many pixels), and whole 64-filter tiles for the tiled
 * kernel, with sparse, dense and mixed filter tiles,
 * unfused and fused with IntegerSGD, compared with the CPU element by element.
 */
describe('sparse weight gradient in chunks of filters', () => {
  // [B, C, H = W, F], seed, sparsifyDelta's shift, pack_delta dispatches (chunks). With shift 0,
  // runs of three filters at 0, 5, 30 and 100 % non-zero put a tile on the dense loop in every chunk.
  it.each([
    [
      '72 filters over 2x16x16 pixels: chunks of 40 and 32 filters',
      [2, 8, 16, 72],
      21,
      1,
      2,
      'tf8-sparse',
    ],
    [
      '12 filters over 3x56x56 pixels: chunks of 4 filters, narrower than the 8-filter tile',
      [3, 1, 56, 12],
      22,
      0,
      3,
      'tf8-sparse',
    ],
    [
      '130 filters over 2x16x16 pixels: chunks of 64, 64 and 2 filters (whole 64-filter tiles)',
      [2, 4, 16, 130],
      23,
      0,
      3,
      'bf64-bk64-sparse',
    ],
  ] as const)(
    'conv %s: the same gradient and update as the CPU',
    async (_name, [B, C, HW, F], seed, shift, chunks, label) => {
      const [k, pad] = [3, 1];
      const t = await Twins.create();
      const rng = new Rng(seed);
      const x = t.tensor([B, C, HW, HW], 'i8', randomInts(rng, B * C * HW * HW, -128, 127), 'x');
      const delta = t.tensor(
        [B, F, HW, HW],
        'i32',
        sparsifyDelta(rng, randomInts(rng, B * F * HW * HW, -3000, 3000), F, HW * HW, shift),
        'delta',
      );
      const dw = t.tensor([F, C, k, k], 'i32', undefined, 'dw');
      const w = t.tensor([F, C, k, k], 'i32', randomInts(rng, F * C * k * k, -64, 64), 'w');
      const lrInv = t.tensor([1], 'i32', [2], 'lrInv');
      withForcedVariant(t.gpu, 'conv2dWeightGrad', findVariant('conv2dWeightGrad', label), () => {
        const gpu = t.gpu as WebGPUBackend;
        const program = gpu.record('sparse chunks', (ops) =>
          ops.conv2dWeightGrad({ delta: delta.gpu, x: x.gpu, padding: pad, out: dw.gpu }),
        );
        expect(gpu.dispatchNames(program).filter((n) => n === 'conv/pack_delta')).toHaveLength(
          chunks,
        );
        t.run((ops, on) => {
          ops.conv2dWeightGrad({ delta: on(delta), x: on(x), padding: pad, out: on(dw) });
          ops.conv2dWeightGrad({
            delta: on(delta),
            x: on(x),
            padding: pad,
            sgd: { w: on(w), lrInv: on(lrInv), amp: 3, decayInv: 50 },
          });
        });
      });
      await t.expectSame(dw, 'gradient');
      await t.expectSame(w, 'updated weights');
      t.disposeAll();
    },
  );
});
