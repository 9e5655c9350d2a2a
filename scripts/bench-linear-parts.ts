/**
 * Where one thread's time goes in MLP2's largest layer (fc1: 784 -> 200, batch 64): each copy,
 * packing pass and kernel of the forward product and of the weight gradient with its fused
 * SGD, timed on its own over the same workspace regions the ops use (medians of 9 runs of 50).
 *
 *   npx vite-node scripts/bench-linear-parts.ts
 */
import { loadavg } from 'node:os';
import { CpuBackend } from '../src/cpu-backend.ts';
import { sgdMagic } from '../src/cpu/gemm.ts';
import { LIST_ENTRY } from '../src/cpu/wasm.ts';

const B = 64;
const K = 784;
const O = 200;
const backend = await CpuBackend.create({ threads: 1 });
const cw = backend.workspace;
const w = new Int32Array(O * K).map((_, i) => Math.imul(i, 2654435761) >> 22);
const g = new Int32Array(B * O).map((_, i) => Math.imul(i, 2654435761) >> 24);
const x = new Int8Array(B * K).map((_, i) => ((i * 40503) & 255) - 128);
const cap = Math.floor((O * K) / 32);
const { ws, at } = cw.reserve([
  B * K,
  4 * O * K,
  2 * O * K,
  LIST_ENTRY * cap,
  4 * B * O,
  (B / 2) * 4 * K,
  2 * O * B,
  2 * O * B,
  4 * O * K,
]);
const [xAt, wAt, lo, list, cAt, xp, gLo, gHi, gradAt] = at;

function time(name: string, f: () => void): void {
  for (let i = 0; i < 100; i++) f();
  const runs: number[] = [];
  for (let r = 0; r < 9; r++) {
    const t0 = performance.now();
    for (let i = 0; i < 50; i++) f();
    runs.push(((performance.now() - t0) * 1000) / 50);
  }
  runs.sort((a, b) => a - b);
  console.log(`  ${name.padEnd(28)} ${runs[4].toFixed(1).padStart(7)} µs`);
}

console.log(
  `fc1 ${K}->${O}, batch ${B}, ${cw.kernel()} kernels, one thread, load ${loadavg()[0].toFixed(1)}`,
);
console.log('forward (linear):');
time('copy x in', () => ws.i8.set(x, xAt));
time('copy w in', () => ws.i32.set(w, wAt >> 2));
time('packW (lo halves, list)', () => ws.k.packW(wAt, 4 * K, lo, O / 4, K / 8, 0, list, cap));
time('dot4', () => ws.k.dot4(xAt, K, 1, 0, lo, cAt, 4 * O, 0, B, O / 4, K / 8, 0, 0));
console.log('weight gradient + fused SGD (linearWeightGrad):');
time('copy x in + pairRows', () => {
  ws.i8.set(x, xAt);
  ws.k.pairRows(xAt, K, xp, 4 * K, B / 2, K / 16);
});
time('copy g in', () => ws.i32.set(g, cAt >> 2));
time('packG', () => ws.k.packG(cAt, 4 * O, O, B / 2, gLo, gHi, 2 * B, list, cap));
time('wgrad', () => ws.k.wgrad(xp, 4 * K, gLo, 2 * B, gradAt, 4 * K, 0, O, K / 16, B / 2, 0, 0));
time('copy w in + out', () => {
  ws.i32.set(w, wAt >> 2);
  w.set(ws.i32.subarray(wAt >> 2, (wAt >> 2) + O * K));
});
const lr = sgdMagic(64_000);
const decay = sgdMagic(10_000);
time('sgd', () => ws.k.sgd(wAt, gradAt, 0, O * K, 64_000, lr.m, lr.s, 10_000, decay.m, decay.s));
backend.destroy();
