/**
 * The CPU backend's IntegerSGD kernel (kernels.wat sgd, and its JavaScript twin): trunc(g / d)
 * by a magic number (sgdMagic) is exact for every int32 numerator, checked element by element
 * against Math.trunc at divisors from 2 to 2^31 - 1 (the presets' 640·512, 25,000 and 3,500
 * among them), numerators at the int32 edges and at random.
 */
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/cpu-backend.ts';
import { sgdMagic } from '../src/cpu/gemm.ts';
import { Rng } from '../src/rng.ts';

const I32_MIN = -2147483648;
const I32_MAX = 2147483647;

function divisors(): number[] {
  const rng = new Rng(97);
  const out = [2, 3, 5, 6, 7, 10, 25_000, 3_500, 640 * 512, 512, 2 ** 16, 2 ** 30, 2 ** 31 - 1];
  out.push(2 ** 30 + 1, 2 ** 31 - 2, 1_000_003, 65_535, 65_537);
  for (let i = 0; i < 40; i++) out.push(rng.int(2, 1 << 20));
  for (let i = 0; i < 20; i++) out.push(rng.int(2, I32_MAX));
  return out;
}

function numerators(d: number, rng: Rng): Int32Array {
  const edges = [0, 1, -1, I32_MIN, I32_MAX, I32_MIN + 1, I32_MAX - 1, d, -d, d - 1, 1 - d, d + 1];
  for (let k = 2; k < 5; k++) edges.push(k * d, -k * d, k * d - 1, 1 - k * d, k * d + 1);
  const n = new Int32Array(edges.length + 61);
  n.set(edges.map((v) => v | 0));
  for (let i = edges.length; i < n.length; i++) n[i] = rng.int(I32_MIN, I32_MAX);
  return n;
}

describe.each(['wasm-simd', 'js'] as const)('CPU sgd kernel (%s) == Math.trunc', (kernel) => {
  const backend = new CpuBackend();
  backend.workspace.simdEnabled = kernel === 'wasm-simd';

  it('divides every numerator exactly: w -= trunc(g / d) + trunc(w / dDecay)', () => {
    expect(backend.workspace.kernel()).toBe(kernel);
    const rng = new Rng(5);
    for (const d of divisors()) {
      const g = numerators(d, rng);
      const n = g.length; // not a multiple of 4: the scalar tail runs too
      const w = new Int32Array(n);
      for (let i = 0; i < n; i++) w[i] = rng.int(I32_MIN, I32_MAX);
      const dDecay = divisors()[rng.int(0, 60)];
      for (const decay of [0, dDecay]) {
        const { ws, at } = backend.workspace.reserve([4 * n, 4 * n]);
        const [wAt, gAt] = at;
        ws.i32.set(w, wAt >> 2);
        ws.i32.set(g, gAt >> 2);
        const lr = sgdMagic(d);
        const dm = decay ? sgdMagic(decay) : { m: 0, s: 0 };
        ws.k.sgd(wAt, gAt, 0, n, d, lr.m, lr.s, decay, dm.m, dm.s);
        const got = ws.i32.subarray(wAt >> 2, (wAt >> 2) + n);
        const want = new Int32Array(n);
        for (let i = 0; i < n; i++)
          want[i] = w[i] - (Math.trunc(g[i] / d) + (decay ? Math.trunc(w[i] / decay) : 0));
        for (let i = 0; i < n; i++) {
          if (got[i] !== want[i])
            expect.fail(
              `d ${d}, decay ${decay}: element ${i} (g ${g[i]}, w ${w[i]}): ${got[i]} != ${want[i]}`,
            );
        }
      }
    }
  });

  it('updates only elements start..end', () => {
    const { ws, at } = backend.workspace.reserve([40, 40]);
    const [wAt, gAt] = at;
    ws.i32.fill(100, wAt >> 2, (wAt >> 2) + 10);
    ws.i32.fill(70, gAt >> 2, (gAt >> 2) + 10);
    const m = sgdMagic(7);
    ws.k.sgd(wAt, gAt, 3, 8, 7, m.m, m.s, 0, 0, 0);
    expect(Array.from(ws.i32.subarray(wAt >> 2, (wAt >> 2) + 10))).toEqual([
      100, 100, 100, 90, 90, 90, 90, 90, 100, 100,
    ]);
  });
});

describe('sgdMagic', () => {
  it('refuses divisors the kernel does not take', () => {
    expect(() => sgdMagic(1)).toThrow(/divisor 1/);
    expect(() => sgdMagic(2 ** 31)).toThrow(/out of/);
  });
});
