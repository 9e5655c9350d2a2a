/** Shared test utilities: backends, seeded random tensors, whole-array comparison. */
import { expect } from 'vitest';
import type { Backend, DType, Tensor } from '../src/backend.ts';
import { WebGPUBackend } from '../src/gpu/webgpu-backend.ts';
import { Rng } from '../src/rng.ts';

let gpu: Promise<WebGPUBackend> | undefined;

/** One WebGPU backend per test file (worker), created on first use. */
export function webgpu(): Promise<WebGPUBackend> {
  gpu ??= WebGPUBackend.create();
  return gpu;
}

export async function cpu(): Promise<Backend> {
  const { CpuBackend } = await import('../src/cpu-backend.ts');
  return new CpuBackend();
}

const threaded = new Map<number, Promise<Backend>>();

/**
 * One CPU backend on `threads` threads per test file, its workers started, splitting every op
 * however small (its workers end with the file's process).
 */
export function cpuThreads(threads: number): Promise<Backend> {
  let b = threaded.get(threads);
  if (!b) {
    b = import('../src/cpu-backend.ts').then(async ({ CpuBackend }) => {
      const backend = await CpuBackend.create({ threads });
      backend.workspace.minThreadedMacs = 0;
      if (backend.workspace.pool) backend.workspace.pool.adaptive = false;
      return backend;
    });
    threaded.set(threads, b);
  }
  return b;
}

export function randomInts(rng: Rng, n: number, lo: number, hi: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.int(lo, hi);
  return out;
}

/** Allocates and fills a tensor on a backend. */
export function tensorOf(
  b: Backend,
  shape: number[],
  dtype: DType,
  values: ArrayLike<number>,
  label = 't',
): Tensor {
  const t = b.tensor(shape, dtype, label);
  b.write(t, values);
  return t;
}

/** Compares every element; on mismatch reports the first differing index and both values. */
export function expectSameElements(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what = 'tensor',
): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let bad = -1;
  let count = 0;
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) {
      if (bad < 0) bad = i;
      count++;
    }
  }
  if (bad >= 0) {
    expect.fail(
      `${what}: ${count} of ${expected.length} elements differ; first at ${bad}: got ${actual[bad]}, expected ${expected[bad]}`,
    );
  }
}

export { Rng };

/**
 * Zeroes part of a conv delta [B, F, plane] in place, as the head's max-pool backward leaves it
 * in training, at densities 0, 5 %, 30 % or 100 % per run of three filters (rotating with
 * `shift`): the sparse weight-gradient kernel lists the non-zeros of filter tiles with at most a
 * quarter non-zero and runs the dense loop on the others, so tiles of 4 or 8 filters cover
 * sparse, dense and mixed cases.
 */
export function sparsifyDelta(
  rng: Rng,
  delta: Int32Array,
  F: number,
  plane: number,
  shift: number,
): Int32Array {
  const keepPercent = [0, 5, 30, 100];
  for (let i = 0; i < delta.length; i++) {
    const f = Math.floor(i / plane) % F;
    if (rng.int(0, 99) >= keepPercent[(Math.floor(f / 3) + shift) % 4]) delta[i] = 0;
  }
  return delta;
}
