/**
 * Storage traffic: the counted build of a shader (src/kernels/traffic.ts countedSource) and,
 * for every GEMM kernel variant, its traffic model (src/ops/traffic.ts) against the count of
 * its storage loads and stores on the current adapter, at small shapes and in every case the
 * model distinguishes (epilogues, bias, weight limbs, both weight-gradient forms, NITRO-ReLU's
 * backward, sparse and dense deltas).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Tensor } from '../src/backend.ts';
import { withForcedVariant } from '../src/gpu/variants.ts';
import type { WebGPUBackend } from '../src/gpu/webgpu-backend.ts';
import { findVariant, type GemmOp, variantsOf } from '../src/kernels/gemm-tiles.ts';
import { countedSource, type TrafficCase, perMac } from '../src/kernels/traffic.ts';
import { gemmTraffic } from '../src/ops/traffic.ts';
import { Rng } from '../src/rng.ts';
import { randomInts, webgpu } from './helpers.ts';

describe('countedSource', () => {
  const src = [
    '@group(0) @binding(0) var<storage, read> x: array<u32>;',
    '@group(0) @binding(1) var<storage, read_write> y: array<vec4<i32>>;',
    '@group(0) @binding(2) var<uniform> u: vec4<u32>;',
    '// y[0] = x[1]; in a comment is not counted',
    '@compute @workgroup_size(1) fn main() {',
    '  y[x[0]] = vec4<i32>(i32(x[x[1]]));',
    '  y[1] += y[2];',
    '  if (x[2] == 0u && x[3] > 1u) { y[3] = y[0]; }',
    '}',
  ].join('\n');

  it('counts loads and stores, inner indexes too, and adds the counter binding after the last', () => {
    const c = countedSource(src);
    expect(c.counterBinding).toBe(3);
    expect(c.bindings).toEqual([
      { name: 'x', index: 0, elementBytes: 4 },
      { name: 'y', index: 1, elementBytes: 16 },
    ]);
    expect(c.source).toContain(
      'atomicAdd(&nitro_traffic[3u], 16u); y[nitro_load_x(0)] = vec4<i32>(i32(nitro_load_x(nitro_load_x(1))));',
    );
    expect(c.source).toContain(
      'atomicAdd(&nitro_traffic[2u], 16u); atomicAdd(&nitro_traffic[3u], 16u); y[1] += nitro_load_y(2);',
    );
    expect(c.source).toContain('if (nitro_load_x(2) == 0u && nitro_load_x(3) > 1u)');
    expect(c.source).not.toContain('in a comment');
    expect(c.source).toContain(
      '@group(0) @binding(3) var<storage, read_write> nitro_traffic: array<atomic<u32>>;',
    );
  });

  it('refuses what it cannot count exactly', () => {
    const decl = '@group(0) @binding(0) var<storage, read_write> x: array<u32>;\n';
    expect(() => countedSource(`${decl}fn f() { let x = array<u32, 2>(); let y = x[0]; }`)).toThrow(
      /shadows storage array x/,
    );
    expect(() => countedSource(`${decl}fn f(x: array<u32, 2>) -> u32 { return x[1]; }`)).toThrow(
      /shadows storage array x/,
    );
    expect(() => countedSource(`${decl}fn f() { let p = &x[0]; }`)).toThrow(/pointer/);
    expect(() => countedSource(`${decl}fn f() { g(x[0] = 1u); }`)).toThrow(/inside an expression/);
    expect(() =>
      countedSource('@group(0) @binding(0) var<storage, read_write> m: array<atomic<u32>>;'),
    ).toThrow(/array m of atomic<u32> is not counted/);
  });
});

/** Weights whose every row (of `rowLen`) needs exactly `limbs` int8 limbs. */
function limbRows(rng: Rng, rows: number, rowLen: number, limbs: number): Int32Array {
  const out = randomInts(rng, rows * rowLen, -100, 100);
  for (let r = 0; r < rows; r++) out[r * rowLen] = 100 * 256 ** (limbs - 1);
  return out;
}

describe('traffic models == counted storage traffic', () => {
  let gpu: WebGPUBackend;
  const live: Tensor[] = [];
  const t = (shape: number[], dtype: 'i8' | 'i32', values?: ArrayLike<number>) => {
    const x = gpu.tensor(shape, dtype, 't');
    if (values) gpu.write(x, values);
    live.push(x);
    return x;
  };
  beforeAll(async () => {
    gpu = await webgpu();
  });
  afterEach(() => {
    for (const x of live.splice(0)) gpu.dispose(x);
  });

  async function expectModel(
    op: GemmOp,
    label: string,
    dims: number[],
    c: TrafficCase,
    issue: () => void,
  ) {
    const v = findVariant(op, label)!;
    const counted = await gpu.countTraffic(() => withForcedVariant(gpu, op, v, issue));
    const model = gemmTraffic(op, dims, v, c);
    const what = `${op} ${label} [${dims}] ${JSON.stringify(c)}: ${JSON.stringify(counted.byBinding)}`;
    expect({ read: counted.readBytes, write: counted.writeBytes }, what).toEqual({
      read: model.readBytes,
      write: model.writeBytes,
    });
    expect(perMac(model).read).toBeGreaterThan(0);
  }

  // The tiled models take the block side as a parameter: the 32-wide variants cover every
  // branch of them, and each counted pipeline compiles slowly on software adapters.
  const labels = (op: GemmOp) =>
    variantsOf(op)
      .filter((v) => v.params.TILE !== 8)
      .map((v) => [v.label]);
  /** [B, K, O] */
  const LINEAR: [number, number, number][] = [
    [5, 13, 9],
    [70, 36, 11],
    // Whole vec4 rows: the tiled kernels' vec4 entry points.
    [9, 32, 16],
  ];

  it.each(labels('linear'))('linear %s', async (label) => {
    for (const [i, [B, K, O]] of LINEAR.entries()) {
      const rng = new Rng(10 + i);
      const x = t([B, K], 'i8', randomInts(rng, B * K, -128, 127));
      const bias = t([O], 'i32', randomInts(rng, O, -1000, 1000));
      // Limbs change the dot4 paths only; the second shape runs the training case alone.
      const dot4 = Boolean(findVariant('linear', label)!.params.DOT4);
      for (const limbs of i > 0 || !dot4 ? [1] : [1, 2, 3]) {
        const w = t([O, K], 'i32', limbRows(rng, O, K, limbs));
        const dims = [B, K, O];
        const z = t([B, O], 'i32');
        const s = t([B, O], 'i8');
        const a = t([B, O], 'i8');
        if (i === 0) {
          await expectModel('linear', label, dims, { epilogue: 'raw', bias: true, limbs }, () =>
            gpu.ops.linear({ x, w, bias, out: z }),
          );
          await expectModel('linear', label, dims, { epilogue: 'scaled', limbs }, () =>
            gpu.ops.linear({ x, w, out: s, epilogue: { scale: 64 * K } }),
          );
        }
        await expectModel('linear', label, dims, { epilogue: 'relu', bias: true, limbs }, () =>
          gpu.ops.linear({
            x,
            w,
            bias,
            out: s,
            epilogue: { scale: 64 * K, relu: { out: a, slopeInv: 4 } },
          }),
        );
      }
    }
  });

  it.each(labels('linearInputGrad'))('linearInputGrad %s', async (label) => {
    for (const [i, [B, K, O]] of LINEAR.entries()) {
      const rng = new Rng(20 + i);
      const w = t([O, K], 'i32', randomInts(rng, O * K, -5000, 5000));
      const xs = t([B, K], 'i8', randomInts(rng, B * K, -128, 127));
      const out = t([B, K], 'i32');
      for (const gPacked of [true, false]) {
        const g = gPacked
          ? t([B, O], 'i8', randomInts(rng, B * O, -128, 127))
          : t([B, O], 'i32', randomInts(rng, B * O, -5000, 5000));
        await expectModel('linearInputGrad', label, [B, K, O], { gPacked }, () =>
          gpu.ops.linearInputGrad({ g, w, out }),
        );
        await expectModel('linearInputGrad', label, [B, K, O], { gPacked, relu: true }, () =>
          gpu.ops.linearInputGrad({ g, w, out, relu: { x: xs, slopeInv: 4 } }),
        );
      }
    }
  });

  it.each(labels('linearWeightGrad'))('linearWeightGrad %s', async (label) => {
    for (const [i, [B, K, O]] of LINEAR.entries()) {
      const rng = new Rng(30 + i);
      const x = t([B, K], 'i8', randomInts(rng, B * K, -128, 127));
      const lrInv = t([1], 'i32', [512]);
      for (const gPacked of [true, false]) {
        const g = gPacked
          ? t([B, O], 'i8', randomInts(rng, B * O, -128, 127))
          : t([B, O], 'i32', randomInts(rng, B * O, -5000, 5000));
        const out = t([O, K], 'i32');
        const w = t([O, K], 'i32', randomInts(rng, O * K, -5000, 5000));
        await expectModel('linearWeightGrad', label, [B, K, O], { gPacked, sgd: false }, () =>
          gpu.ops.linearWeightGrad({ g, x, out }),
        );
        await expectModel('linearWeightGrad', label, [B, K, O], { gPacked, sgd: true }, () =>
          gpu.ops.linearWeightGrad({ g, x, sgd: { w, lrInv, amp: 3, decayInv: 0 } }),
        );
      }
    }
  });

  /** [B, C, H, W, F, k, padding]: a map of 15 pixels, and one of 4 (the fused epilogue). */
  const CONV: [number, number, number, number, number, number, number][] = [
    [1, 3, 3, 5, 6, 3, 1],
    [1, 5, 4, 4, 12, 3, 0],
  ];
  /** The tiled variants also: channels a multiple of 16 (vec4 loads), two 64-filter tiles. */
  const convShapes = (op: GemmOp, label: string) => {
    const { BM, BF } = findVariant(op, label)!.params;
    return BM !== undefined || BF !== undefined
      ? [...CONV, [2, 16, 4, 4, 66, 3, 1] as (typeof CONV)[number]]
      : CONV;
  };

  it.each(labels('conv2d'))('conv2d %s', async (label) => {
    for (const [i, dims] of convShapes('conv2d', label).entries()) {
      const [B, C, H, W, F, k, padding] = dims;
      const rng = new Rng(40 + i);
      const HO = H + 2 * padding - k + 1;
      const WO = W + 2 * padding - k + 1;
      const x = t([B, C, H, W], 'i8', randomInts(rng, B * C * H * W, -128, 127));
      const bias = t([F], 'i32', randomInts(rng, F, -1000, 1000));
      const dot4 = Boolean(findVariant('conv2d', label)!.params.DOT4);
      for (const limbs of dot4 && i === 0 ? [1, 3] : [1]) {
        const w = t([F, C, k, k], 'i32', limbRows(rng, F, C * k * k, limbs));
        const z = t([B, F, HO, WO], 'i32');
        const s = t([B, F, HO, WO], 'i8');
        const a = t([B, F, HO, WO], 'i8');
        // One pipeline per shape and variant (each counted pipeline compiles slowly): the raw
        // sums with a bias, and NITRO-ReLU (fused on the second shape, a pass on the first).
        if (i === 0)
          await expectModel('conv2d', label, dims, { epilogue: 'raw', bias: true, limbs }, () =>
            gpu.ops.conv2d({ x, w, bias, padding, out: z }),
          );
        await expectModel('conv2d', label, dims, { epilogue: 'relu', bias: true, limbs }, () =>
          gpu.ops.conv2d({
            x,
            w,
            bias,
            padding,
            out: s,
            epilogue: { scale: 999, relu: { out: a, slopeInv: 4 } },
          }),
        );
      }
    }
  });

  it.each(labels('conv2dWeightGrad'))('conv2dWeightGrad %s', async (label) => {
    for (const [i, dims] of convShapes('conv2dWeightGrad', label).entries()) {
      const [B, C, H, W, F, k, padding] = dims;
      const rng = new Rng(50 + i);
      const HO = H + 2 * padding - k + 1;
      const WO = W + 2 * padding - k + 1;
      const x = t([B, C, H, W], 'i8', randomInts(rng, B * C * H * W, -128, 127));
      const lrInv = t([1], 'i32', [512]);
      // Dense delta, and one non-zero pixel per (sample, filter) map.
      for (const nonZeroPerMap of [HO * WO, 1]) {
        const dv = new Int32Array(B * F * HO * WO);
        for (let m = 0; m < B * F; m++)
          for (let p = 0; p < nonZeroPerMap; p++)
            dv[m * HO * WO + ((p + m) % (HO * WO))] = 1 + rng.below(999);
        const delta = t([B, F, HO, WO], 'i32', dv);
        const out = t([F, C, k, k], 'i32');
        const w = t([F, C, k, k], 'i32', randomInts(rng, F * C * k * k, -5000, 5000));
        const c = { nonZeroPerMap };
        await expectModel('conv2dWeightGrad', label, dims, { ...c, sgd: false }, () =>
          gpu.ops.conv2dWeightGrad({ delta, x, padding, out }),
        );
        await expectModel('conv2dWeightGrad', label, dims, { ...c, sgd: true }, () =>
          gpu.ops.conv2dWeightGrad({ delta, x, padding, sgd: { w, lrInv, amp: 3, decayInv: 0 } }),
        );
      }
    }
  });
});
