/**
 * The CPU backend's fast linear layers (gemm.ts: WebAssembly SIMD kernel and its JavaScript
 * fallback) against a naive scalar implementation written here, element by element: forward
 * with bias (raw int32 and through the epilogue), input and weight gradients with int8 and int32
 * g. Shapes include 1, odd sizes and sizes that are not multiples of the kernel's 4×8 blocks;
 * full-range int32 weights and gradients make the sums wrap around 2^32.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nitroScale } from '../src/arith.ts';
import { ALLOWED_SLOPES, nitroRelu, nitroReluInvSlope } from '../src/ops/activation/contract.ts';
import type { Backend, Tensor } from '../src/backend.ts';
import { CpuBackend } from '../src/cpu-backend.ts';
import {
  compileKernelModuleAsync,
  compileSimdKernelsAsync,
  instantiateKernels,
  kernelModuleBytes,
} from '../src/cpu/wasm.ts';
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
  it('compile here (Node, Chromium), asynchronously, for a plain and a shared memory', async () => {
    expect(WebAssembly.validate(kernelModuleBytes(false))).toBe(true);
    expect(WebAssembly.validate(kernelModuleBytes(true))).toBe(true);
    expect(await compileSimdKernelsAsync()).not.toBeNull();
    const one = await CpuBackend.create({ threads: 1 });
    expect(one.description).toBe('CPU (WebAssembly SIMD kernels)');
    const two = await CpuBackend.create({ threads: 2 });
    expect(two.description).toBe('CPU (WebAssembly SIMD kernels, 2 threads)');
    two.destroy();
  });

  it('run on a memory the caller gives, shared or not, and refuse the wrong kind', async () => {
    const plain = await compileKernelModuleAsync(false);
    const shared = await compileKernelModuleAsync(true);
    expect(plain && shared).toBeTruthy();
    const mem = new WebAssembly.Memory({ initial: 1 });
    expect(instantiateKernels(plain!, mem).memory).toBe(mem);
    expect(() => instantiateKernels(shared!, mem)).toThrow(/imports a shared memory/);
    if (typeof SharedArrayBuffer === 'function' && crossOriginIsolatedOrNode()) {
      const smem = new WebAssembly.Memory({ initial: 1, maximum: 256, shared: true });
      // Two instances on one shared memory see each other's writes.
      const a = instantiateKernels(shared!, smem);
      const b = instantiateKernels(shared!, smem);
      const v = new Int32Array(smem.buffer);
      v.set([1, 2, 3, 4, 5, 6, 7, 8], 0);
      a.copyRows(0, 64, 1, 0, 0, 1, 0, 0, 32);
      b.copyRows(64, 128, 1, 0, 0, 1, 0, 0, 32);
      expect(Array.from(v.subarray(32, 40))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(() => instantiateKernels(plain!, smem)).toThrow(/imports a plain memory/);
    }
  });
});

function crossOriginIsolatedOrNode(): boolean {
  const g = globalThis as { crossOriginIsolated?: boolean; process?: unknown };
  return g.crossOriginIsolated === true || g.process !== undefined;
}

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
    if (backend.workspace.pool) backend.workspace.pool.adaptive = false;
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
      // Full-range int32 (sums wrap), int16-range, or int16-range with a few values past it
      // (the kernels' list of hi-half corrections) at the int16 edges and beyond.
      const mode = (['wrap', 'int16', 'outliers'] as const)[i % 3];
      const lo = mode === 'wrap' ? I32_MIN : -30000;
      const hi = mode === 'wrap' ? I32_MAX : 30000;
      const ints = (n: number) => {
        const v = randomInts(rng, n, lo, hi);
        if (mode === 'outliers') {
          const edges = [32767, -32768, 32768, -32769, 65535, I32_MIN, I32_MAX, 1 << 20];
          for (let j = 0; j < Math.max(1, n / 100); j++) {
            const at = rng.int(0, n - 1);
            v[at] = j < edges.length ? edges[j] : rng.int(I32_MIN, I32_MAX);
          }
        }
        return v;
      };
      const xv = randomInts(rng, B * K, -128, 127);
      const wv = ints(O * K);
      const bv = ints(O);
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
      const slope = ALLOWED_SLOPES[i % ALLOWED_SLOPES.length];
      const s = backend.tensor([B, O], 'i8', 's');
      const a = backend.tensor([B, O], 'i8', 'a');
      backend.ops.linear({
        x,
        w,
        bias,
        out: s,
        epilogue: { scale: sf, relu: { out: a, slopeInv: slope } },
      });
      const sExp = expected.map((v) => nitroScale(v, sf));
      expectSameElements(await read(backend, s), sExp, 'linear scaled');
      expectSameElements(
        await read(backend, a),
        sExp.map((v) => nitroRelu(v, slope)),
        `linear NITRO-ReLU (slope 1/${slope})`,
      );

      for (const gType of ['i8', 'i32'] as const) {
        const gv = gType === 'i8' ? randomInts(rng, B * O, -128, 127) : ints(B * O);
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
        // With NITRO-ReLU's backward fused, at saved inputs over all of int8 (both clipped ends).
        const rv = randomInts(rng, B * K, -128, 127);
        for (let j = 0; j < rv.length; j += 7) rv[j] = [127, -128, -127, 0, -1, 126][(j / 7) % 6];
        const rx = tensorOf(backend, [B, K], 'i8', rv, 'relu x');
        backend.ops.linearInputGrad({ g, w, out: dx, relu: { x: rx, slopeInv: slope } });
        expectSameElements(
          await read(backend, dx),
          naiveInputGrad(gv, wv, B, O, K).map((d, j) =>
            Math.trunc(d / nitroReluInvSlope(rv[j], slope)),
          ),
          `input grad through NITRO-ReLU (g ${gType}, slope 1/${slope})`,
        );
        const dw = backend.tensor([O, K], 'i32', 'dw');
        backend.ops.linearWeightGrad({ g, x, out: dw });
        expectSameElements(
          await read(backend, dw),
          naiveWeightGrad(gv, xv, B, O, K),
          `weight grad (g ${gType})`,
        );
        // With IntegerSGD fused (no gradient out): w -= trunc(grad / (amp·lrInv)) + trunc(w / decayInv).
        const amp = [1, 640, rng.int(1, 5000)][i % 3];
        const lrInv = [1, 512, rng.int(1, 3000)][(i + 1) % 3];
        const decayInv = [0, 25_000, rng.int(1, 100_000)][(i + 2) % 3];
        const wu = tensorOf(backend, [O, K], 'i32', wv, 'w updated');
        const lr = tensorOf(backend, [1], 'i32', [lrInv], 'lrInv');
        backend.ops.linearWeightGrad({ g, x, sgd: { w: wu, lrInv: lr, amp, decayInv } });
        const grad = naiveWeightGrad(gv, xv, B, O, K);
        const D = amp * lrInv;
        const wExp = wv.map(
          (v, j) =>
            (v - ((Math.trunc(grad[j] / D) + (decayInv ? Math.trunc(v / decayInv) : 0)) | 0)) | 0,
        );
        expectSameElements(
          await read(backend, wu),
          wExp,
          `fused sgd (g ${gType}, D ${D}, decay ${decayInv})`,
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
