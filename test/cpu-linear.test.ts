/**
 * The CPU backend's fast linear layers (gemm.ts: WebAssembly SIMD kernel and its JavaScript
 * fallback) against a naive scalar implementation written here, element by element: forward
 * with bias (raw int32 and through the epilogue), input and weight gradients with int8 and int32
 * g. Shapes include 1, odd sizes and sizes that are not multiples of the kernel's 4×8 blocks;
 * full-range int32 weights and gradients make the sums wrap around 2^32.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nitroScale } from '../src/arith.ts';
import { nitroRelu } from '../src/ops/activation/contract.ts';
import type { Backend, Tensor } from '../src/backend.ts';
import { CpuBackend } from '../src/cpu-backend.ts';
import { compileSimdKernelsAsync, kernelModuleBytes } from '../src/cpu/wasm.ts';
import { Rng } from '../src/rng.ts';
import { expectSameElements, randomInts, tensorOf } from './helpers.ts';

const I32_MIN = -2147483648;
const I32_MAX = 2147483647;

/** [B, K, O] */
const FIXED: [number, number, number][] = [
  [1, 1, 1],
  [1, 3, 2],
  [3, 5, 7],
  [4, 4, 4],
  [8, 8, 8],
  [5, 9, 13],
  [2, 1, 17],
  [17, 33, 9],
  [64, 784, 3],
  [9, 257, 6],
  [65, 100, 50],
  [64, 200, 100],
  [7, 10, 10],
  [33, 2, 129],
  [12, 1, 1],
];

function shapes(): [number, number, number][] {
  const rng = new Rng(20251);
  const out = [...FIXED];
  for (let i = 0; i < 12; i++) out.push([rng.int(1, 70), rng.int(1, 300), rng.int(1, 90)]);
  return out;
}

/** z[b, o] = bias[o] + Σ_k x[b, k]·w[o, k], one wrapping step at a time. */
function naiveLinear(
  x: Int32Array,
  w: Int32Array,
  bias: Int32Array | undefined,
  B: number,
  K: number,
  O: number,
): Int32Array {
  const z = new Int32Array(B * O);
  for (let b = 0; b < B; b++) {
    for (let o = 0; o < O; o++) {
      let acc = bias ? bias[o] : 0;
      for (let k = 0; k < K; k++) acc = (acc + Math.imul(x[b * K + k], w[o * K + k])) | 0;
      z[b * O + o] = acc;
    }
  }
  return z;
}

/** out[b, k] = Σ_o g[b, o]·w[o, k]. */
function naiveInputGrad(g: Int32Array, w: Int32Array, B: number, O: number, K: number): Int32Array {
  const out = new Int32Array(B * K);
  for (let b = 0; b < B; b++) {
    for (let k = 0; k < K; k++) {
      let acc = 0;
      for (let o = 0; o < O; o++) acc = (acc + Math.imul(g[b * O + o], w[o * K + k])) | 0;
      out[b * K + k] = acc;
    }
  }
  return out;
}

/** out[o, k] = Σ_b g[b, o]·x[b, k]. */
function naiveWeightGrad(
  g: Int32Array,
  x: Int32Array,
  B: number,
  O: number,
  K: number,
): Int32Array {
  const out = new Int32Array(O * K);
  for (let o = 0; o < O; o++) {
    for (let k = 0; k < K; k++) {
      let acc = 0;
      for (let b = 0; b < B; b++) acc = (acc + Math.imul(g[b * O + o], x[b * K + k])) | 0;
      out[o * K + k] = acc;
    }
  }
  return out;
}

async function read(backend: Backend, t: Tensor): Promise<Int32Array> {
  return backend.read(t);
}

describe('CPU WebAssembly kernels', () => {
  it('compile here (Node, Chromium), from a module small enough for a browser main thread (< 4 KB)', async () => {
    expect(kernelModuleBytes().length).toBeLessThan(4096);
    expect(WebAssembly.validate(kernelModuleBytes())).toBe(true);
    expect(await compileSimdKernelsAsync()).not.toBeNull();
    const one = await CpuBackend.create({ threads: 1 });
    expect(one.description).toBe('CPU (WebAssembly SIMD kernels)');
    const two = await CpuBackend.create({ threads: 2 });
    expect(two.description).toBe('CPU (WebAssembly SIMD kernels, 2 threads)');
    two.destroy();
  });
});

// Every op split over 2 and 3 threads (down to the smallest shapes) gives the same elements.
describe.each([
  ['wasm-simd', 1],
  ['wasm-simd', 2],
  ['wasm-simd', 3],
  ['js', 1],
] as const)('CPU linear layers (%s kernel, %i threads) == naive scalar', (kernel, threads) => {
  let backend: CpuBackend;
  beforeAll(async () => {
    backend = await CpuBackend.create({ threads });
    backend.workspace.minThreadedMacs = 0;
  });
  afterAll(() => backend.destroy());

  it('uses the requested kernel and threads (WebAssembly SIMD is available on Node)', () => {
    backend.workspace.simdEnabled = kernel === 'wasm-simd';
    expect(backend.workspace.kernel()).toBe(kernel);
    expect(backend.workspace.threads()).toBe(threads);
  });

  it.each(shapes().map((s, i) => [i, ...s]))(
    '#%i B=%i K=%i O=%i: forward, input and weight gradients',
    async (i, B, K, O) => {
      backend.workspace.simdEnabled = kernel === 'wasm-simd';
      const rng = new Rng(500 + i);
      const wrap = i % 2 === 0;
      const lo = wrap ? I32_MIN : -30000;
      const hi = wrap ? I32_MAX : 30000;
      const xv = randomInts(rng, B * K, -128, 127);
      const wv = randomInts(rng, O * K, lo, hi);
      const bv = randomInts(rng, O, lo, hi);
      const x = tensorOf(backend, [B, K], 'i8', xv, 'x');
      const w = tensorOf(backend, [O, K], 'i32', wv, 'w');
      const bias = tensorOf(backend, [O], 'i32', bv, 'bias');

      const z = backend.tensor([B, O], 'i32', 'z');
      backend.ops.linear({ x, w, bias, out: z });
      const expected = naiveLinear(xv, wv, bv, B, K, O);
      expectSameElements(await read(backend, z), expected, 'linear z');
      backend.ops.linear({ x, w, out: z });
      expectSameElements(
        await read(backend, z),
        naiveLinear(xv, wv, undefined, B, K, O),
        'linear z without bias',
      );

      const sf = rng.int(1, 5000);
      const s = backend.tensor([B, O], 'i8', 's');
      const a = backend.tensor([B, O], 'i8', 'a');
      backend.ops.linear({
        x,
        w,
        bias,
        out: s,
        epilogue: { scale: sf, relu: { out: a, slopeInv: 4 } },
      });
      const sExp = expected.map((v) => nitroScale(v, sf));
      expectSameElements(await read(backend, s), sExp, 'linear scaled');
      expectSameElements(
        await read(backend, a),
        sExp.map((v) => nitroRelu(v, 4)),
        'linear NITRO-ReLU',
      );

      for (const gType of ['i8', 'i32'] as const) {
        const gv =
          gType === 'i8' ? randomInts(rng, B * O, -128, 127) : randomInts(rng, B * O, lo, hi);
        // Some zero gradients, as NITRO-ReLU's backward produces.
        for (let j = 0; j < gv.length; j += 3) gv[j] = 0;
        const g = tensorOf(backend, [B, O], gType, gv, 'g');
        const dx = backend.tensor([B, K], 'i32', 'dx');
        backend.ops.linearInputGrad({ g, w, out: dx });
        expectSameElements(
          await read(backend, dx),
          naiveInputGrad(gv, wv, B, O, K),
          `input grad (g ${gType})`,
        );
        const dw = backend.tensor([O, K], 'i32', 'dw');
        backend.ops.linearWeightGrad({ g, x, out: dw });
        expectSameElements(
          await read(backend, dw),
          naiveWeightGrad(gv, xv, B, O, K),
          `weight grad (g ${gType})`,
        );
      }
    },
  );

  it('keeps results right when the workspace grows between products (large, small, large)', async () => {
    backend.workspace.simdEnabled = kernel === 'wasm-simd';
    const rng = new Rng(77);
    for (const [B, K, O] of [
      [3, 40, 5],
      [24, 1500, 260],
      [2, 3, 1],
      [40, 2100, 300],
    ]) {
      const xv = randomInts(rng, B * K, -128, 127);
      const wv = randomInts(rng, O * K, I32_MIN, I32_MAX);
      const x = tensorOf(backend, [B, K], 'i8', xv, 'x');
      const w = tensorOf(backend, [O, K], 'i32', wv, 'w');
      const z = backend.tensor([B, O], 'i32', 'z');
      backend.ops.linear({ x, w, out: z });
      expectSameElements(
        await read(backend, z),
        naiveLinear(xv, wv, undefined, B, K, O),
        `linear ${B}x${K}x${O}`,
      );
    }
  });
});
