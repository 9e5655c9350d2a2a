/**
 * The CPU backend's worker threads: how an op's rows are shared out, the thread count a backend
 * picks and names, destroy() ending every worker, a fault in a worker's kernel, and the runtimes
 * where threads cannot run (no SharedArrayBuffer, kernels on an unshared memory): one thread,
 * said in the description, same bits. The ops' results at 1, 2 and 3 threads are compared
 * element by element in cpu-linear, cpu-conv and golden.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { formatKernelBench } from '../src/bench/format.ts';
import { benchKernels, type KernelShape } from '../src/bench/kernels.ts';
import { CpuBackend, createCpuBackend, defaultCpuThreads } from '../src/cpu-backend.ts';
import { share } from '../src/cpu/threads.ts';
import { compileSimdKernels } from '../src/cpu/wasm.ts';
import { Rng } from '../src/rng.ts';
import { expectSameElements, randomInts, tensorOf } from './helpers.ts';

describe('share', () => {
  it('cuts n items into T contiguous runs of whole units that cover [0, n) and differ by at most one unit', () => {
    for (const n of [0, 1, 2, 7, 8, 9, 63, 64, 65, 200, 784])
      for (const unit of [1, 2, 8])
        for (let T = 1; T <= 5; T++) {
          let end = 0;
          const sizes: number[] = [];
          for (let t = 0; t < T; t++) {
            const [b, e] = share(n, t, T, unit);
            expect(b).toBe(end);
            expect(e).toBeGreaterThanOrEqual(b);
            if (e < n) expect(e % unit).toBe(0);
            sizes.push(Math.ceil((e - b) / unit));
            end = e;
          }
          expect(end).toBe(n);
          expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        }
  });
});

/** z = x·wᵀ of a 64×300 by 300×70 product on `backend`, with wrapping weights. */
async function product(backend: CpuBackend): Promise<Int32Array> {
  const rng = new Rng(31);
  const x = tensorOf(backend, [64, 300], 'i8', randomInts(rng, 64 * 300, -128, 127), 'x');
  const w = tensorOf(
    backend,
    [70, 300],
    'i32',
    randomInts(rng, 70 * 300, -2147483648, 2147483647),
    'w',
  );
  const z = backend.tensor([64, 70], 'i32', 'z');
  backend.ops.linear({ x, w, out: z });
  return backend.read(z);
}

describe('CPU backend threads', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('createCpuBackend takes the cores (at most 8) and names its thread count', async () => {
    const backend = await createCpuBackend();
    try {
      const n = defaultCpuThreads();
      expect(n).toBeGreaterThanOrEqual(1);
      expect(n).toBeLessThanOrEqual(8);
      if (n > 1) {
        expect(backend.workspace.pool?.threads).toBe(n);
        expect(backend.workspace.threads()).toBe(n);
        expect(backend.description).toBe(`CPU (WebAssembly SIMD kernels, ${n} threads)`);
      } else expect(backend.description).toBe('CPU (WebAssembly SIMD kernels)');
    } finally {
      backend.destroy();
    }
  });

  it('rejects a thread count that is not a whole number from 1 to 256', () => {
    for (const threads of [0, -1, 1.5, 257, Number.NaN])
      expect(() => new CpuBackend({ threads })).toThrow(
        `CPU backend: threads must be a whole number from 1 to 256, got ${threads}`,
      );
  });

  it('destroy() ends every worker; the backend then runs on this thread, same bits', async () => {
    const backend = await CpuBackend.create({ threads: 3 });
    const pool = backend.workspace.pool;
    expect(pool).not.toBeNull();
    expect(backend.workspace.threads()).toBe(3);
    const threaded = await product(backend);
    backend.destroy();
    backend.destroy();
    let ended = false;
    await Promise.race([
      pool?.stopped().then(() => {
        ended = true;
      }),
      new Promise((resolve) => setTimeout(resolve, 10000)),
    ]);
    expect(ended).toBe(true);
    expect(backend.workspace.threads()).toBe(1);
    expectSameElements(await product(backend), threaded, 'after destroy');
    const one = new CpuBackend({ threads: 1 });
    expectSameElements(await product(one), threaded, 'one thread');
  });

  it('a kernel fault in a worker is an error, and the next run works', async () => {
    const backend = await CpuBackend.create({ threads: 2 });
    try {
      const pool = backend.workspace.pool!;
      const { at } = backend.workspace.reserve([64, 64]);
      // A copy to an address past the 4 GiB a 32-bit index reaches traps.
      expect(() =>
        pool.run(2, (t, _, k) => {
          if (t === 1) k.copyRows(at[0], -16, 1, 0, 0, 1, 0, 0, 64);
        }),
      ).toThrow();
      backend.workspace.minThreadedMacs = 0;
      const z = await product(backend);
      expectSameElements(z, await product(new CpuBackend({ threads: 1 })), 'after a fault');
    } finally {
      backend.destroy();
    }
  });

  it('without SharedArrayBuffer: one thread, and the description says why', async () => {
    const expected = await product(new CpuBackend());
    vi.stubGlobal('SharedArrayBuffer', undefined);
    const backend = await CpuBackend.create({ threads: 2 });
    expect(backend.workspace.pool).toBeNull();
    expect(backend.workspace.threads()).toBe(1);
    expect(backend.description).toBe(
      'CPU (WebAssembly SIMD kernels, 1 thread: no SharedArrayBuffer (a page must be cross-origin isolated))',
    );
    expectSameElements(await product(backend), expected, 'no SharedArrayBuffer');
  });

  it('in a page that is not cross-origin isolated: one thread, and why', () => {
    vi.stubGlobal('crossOriginIsolated', false);
    const backend = new CpuBackend({ threads: 4 });
    expect(backend.workspace.pool).toBeNull();
    expect(backend.description).toMatch(/, 1 thread: no SharedArrayBuffer \(a page must be/);
  });

  it('kernels compiled for an unshared memory: one thread, and why', () => {
    const backend = new CpuBackend({ threads: 2, simd: compileSimdKernels() });
    expect(backend.workspace.pool).toBeNull();
    expect(backend.description).toBe(
      'CPU (WebAssembly SIMD kernels, 1 thread: the kernels given run on an unshared memory)',
    );
  });
});

describe('bench-kernels per thread count', () => {
  it('gives each thread count a column pair, its share of peak × threads, and the speed-up', async () => {
    const shapes: KernelShape[] = [
      { kind: 'linear', layer: 'tiny fc', batch: 8, inFeatures: 40, outFeatures: 12 },
    ];
    const two = await CpuBackend.create({ threads: 2 });
    const one = new CpuBackend();
    try {
      const r2 = await benchKernels(two, shapes, { targetMs: 2, maxReps: 3, threads: 2 });
      const r1 = await benchKernels(one, shapes, { targetMs: 2, maxReps: 3, threads: 1 });
      expect(r2.threads).toBe(2);
      const text = formatKernelBench([r2, r1]);
      expect(text).toMatch(/^cpu 2t: CPU \(WebAssembly SIMD kernels, 2 threads\)/m);
      expect(text).toMatch(
        /cpu 2t ms +cpu 2t GOP\/s +cpu 2t % of peak +cpu 1t ms +cpu 1t GOP\/s +cpu 1t % of peak +cpu 2t speed-up/,
      );
      const lines = text.split('\n').filter((l) => l.startsWith('tiny '));
      expect(lines).toHaveLength(3);
      for (const [i, line] of lines.entries()) {
        const share = Math.round((100 * r2.rows[i].gops!) / (2 * r2.peakGops!));
        expect(line, line).toContain(` ${share}% `);
      }
    } finally {
      two.destroy();
    }
  });
});
