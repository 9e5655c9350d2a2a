/**
 * The CPU reference backend: every op on typed arrays with the exact integer semantics of the
 * WGSL kernels. It is the oracle of the GPU tests and a backend users can pick where WebGPU is
 * missing. The integer products (linear and conv layers and their gradients) run on WebAssembly
 * SIMD kernels where the runtime has them (wasm.ts), with JavaScript twins elsewhere (gemm.ts).
 * Recorded programs are lists of closures.
 */
import {
  type Backend,
  type DType,
  deviceBytes,
  type Ops,
  type Program,
  sizeOf,
  type Tensor,
} from './backend.ts';
import { checkValues } from './gpu/packing.ts';
import { checkedOps } from './ops/checked.ts';
import { createCpuOps } from './ops/cpu.ts';
import { CpuWorkspace } from './cpu/gemm.ts';
import { CpuTensor, dataOf } from './cpu/tensor.ts';
import {
  coreCount,
  KernelThreads,
  type SharedKernels,
  sharedKernels,
  threadsUnavailable,
} from './cpu/threads.ts';
import {
  compileKernelModule,
  compileKernelModuleAsync,
  compileSimdKernels,
  compileSimdKernelsAsync,
  type SimdKernels,
} from './cpu/wasm.ts';

class CpuProgram implements Program {
  constructor(
    readonly label: string,
    readonly steps: (() => void)[],
  ) {}
}

export interface CpuBackendOptions {
  timings?: Record<string, number>;
  simd?: SimdKernels | null;
  /**
   * Threads the integer products split over (this one and threads − 1 workers on a shared
   * WebAssembly memory). `new CpuBackend()` runs on one unless told; createCpuBackend defaults
   * to defaultCpuThreads(). Where the runtime has no SharedArrayBuffer (a page that is not
   * cross-origin isolated) or no SIMD, one thread runs and `description` says why.
   */
  threads?: number;
  /** Kernels on a shared memory for the threads (made here when omitted and threads > 1). */
  shared?: SharedKernels | null;
}

/** The most threads the default picks (more cores than this share out small ops too thinly). */
const MAX_DEFAULT_THREADS = 8;

/** The thread count createCpuBackend picks: the number of cores, at most 8. */
export function defaultCpuThreads(): number {
  return Math.min(coreCount(), MAX_DEFAULT_THREADS);
}

/** Rejects a thread count that is not a whole number from 1 to 256. */
function checkThreads(threads: number): number {
  if (!Number.isInteger(threads) || threads < 1 || threads > 256)
    throw new Error(`CPU backend: threads must be a whole number from 1 to 256, got ${threads}`);
  return threads;
}

export class CpuBackend implements Backend {
  readonly kind = 'cpu' as const;
  /** Which kernels run the integer products: WebAssembly SIMD where available, else plain JavaScript. */
  get description(): string {
    const simd = this.workspace.kernel() === 'wasm-simd';
    const kernels = simd ? 'WebAssembly SIMD' : 'JavaScript';
    const pool = this.workspace.pool;
    const threads =
      simd && pool
        ? `, ${pool.threads} threads`
        : this.threadsRequested > 1
          ? `, 1 thread: ${simd ? this.whyOneThread : 'no WebAssembly SIMD'}`
          : '';
    return `CPU (${kernels} kernels${threads})`;
  }
  /** The threads asked for. */
  private readonly threadsRequested: number;
  /** Why a request for threads runs on one ('' where threads run). */
  private readonly whyOneThread: string;
  readonly ops: Ops;
  /** This backend's working memory and kernels (`simdEnabled` off runs the JavaScript ones). */
  readonly workspace: CpuWorkspace;
  private recording: (() => void)[] | undefined;
  private live = 0;

  /**
   * With `timings`, every op run adds its wall time in milliseconds to timings[op name] (for
   * profiling; off by default). `simd`: the compiled SIMD kernels to use (compiled here when
   * omitted; null for none).
   */
  constructor(options: CpuBackendOptions = {}) {
    const ops = {} as Record<keyof Ops, (p: never) => void>;
    const timings = options.timings;
    this.threadsRequested = checkThreads(options.threads ?? 1);
    const wantThreads = this.threadsRequested > 1 && options.simd === undefined;
    const shared =
      options.shared !== undefined
        ? options.shared
        : wantThreads
          ? sharedKernels(compileKernelModule(true))
          : null;
    const simd = shared?.simd ?? (options.simd === undefined ? compileSimdKernels() : options.simd);
    this.whyOneThread =
      this.threadsRequested > 1 && !shared
        ? (threadsUnavailable() ??
          (options.simd !== undefined
            ? 'the kernels given run on an unshared memory'
            : 'the kernels do not compile for a shared memory'))
        : '';
    const pool = shared ? new KernelThreads(shared, this.threadsRequested) : null;
    this.workspace = new CpuWorkspace(simd, pool);
    const implementations = createCpuOps(this.workspace);
    for (const [name, impl] of Object.entries(implementations) as [
      keyof Ops,
      (p: never) => void,
    ][]) {
      const fn = timings
        ? (p: never) => {
            const t0 = performance.now();
            impl(p);
            timings[name] = (timings[name] ?? 0) + performance.now() - t0;
          }
        : impl;
      const ws = this.workspace;
      // A copy kept in the workspace stays valid only while no other op has touched its array.
      const run = (p: never) => {
        const token = ws.keptToken();
        fn(p);
        if (ws.keptToken() === token && token) forgetTouched(ws, p, token);
      };
      ops[name] = (p: never) => {
        if (this.recording) this.recording.push(() => run(p));
        else run(p);
      };
    }
    // Checked when issued (recorded or run), as the WebGPU backend checks when it records.
    this.ops = checkedOps(ops as unknown as Ops);
  }

  /** A backend whose SIMD kernels are compiled (where the runtime could only compile them asynchronously). */
  static async create(options: CpuBackendOptions = {}): Promise<CpuBackend> {
    const threads = checkThreads(options.threads ?? defaultCpuThreads());
    const shared =
      options.shared !== undefined || options.simd !== undefined || threads === 1
        ? options.shared
        : sharedKernels(compileKernelModule(true) ?? (await compileKernelModuleAsync(true)));
    const simd =
      shared?.simd ?? (options.simd === undefined ? await compileSimdKernelsAsync() : options.simd);
    const backend = new CpuBackend({ ...options, simd, shared: shared ?? null, threads });
    await backend.workspace.pool?.ready();
    return backend;
  }

  tensor(shape: readonly number[], dtype: DType, label: string): Tensor {
    for (const d of shape) {
      if (!Number.isInteger(d) || d <= 0)
        throw new Error(`tensor ${label}: invalid shape [${shape.join(', ')}]`);
    }
    const n = sizeOf(shape);
    this.live += deviceBytes(shape, dtype);
    return new CpuTensor(
      shape,
      dtype,
      label,
      dtype === 'i8' ? new Int8Array(n) : new Int32Array(n),
      true,
    );
  }

  view(t: Tensor, shape: readonly number[], label?: string): Tensor {
    const data = dataOf(t);
    const n = sizeOf(shape);
    if (n > data.length)
      throw new Error(
        `view of ${t.label}: shape [${shape.join(', ')}] needs ${n} elements, the tensor has ${data.length}`,
      );
    return new CpuTensor(shape, t.dtype, label ?? t.label, data.subarray(0, n), false);
  }

  write(t: Tensor, values: ArrayLike<number>): void {
    checkValues(t.label, t.shape, t.dtype, values);
    dataOf(t).set(values);
    this.workspace.forget(dataOf(t).buffer, this.workspace.keptToken());
  }

  async read(t: Tensor): Promise<Int32Array> {
    const data = dataOf(t);
    return data instanceof Int32Array ? data.slice() : Int32Array.from(data);
  }

  async readInto(t: Tensor, into: Int32Array): Promise<void> {
    const data = dataOf(t);
    if (into.length !== data.length)
      throw new Error(`read of ${t.label}: ${into.length} values asked for, it has ${data.length}`);
    into.set(data);
  }

  dispose(t: Tensor): void {
    const c = t as CpuTensor;
    if (c.owner) this.live -= deviceBytes(t.shape, t.dtype);
  }

  record(label: string, build: (ops: Ops) => void): Program {
    const steps: (() => void)[] = [];
    this.recording = steps;
    try {
      build(this.ops);
    } finally {
      this.recording = undefined;
    }
    return new CpuProgram(label, steps);
  }

  run(program: Program, times = 1): void {
    const steps = (program as CpuProgram).steps;
    for (let t = 0; t < times; t++) for (const step of steps) step();
  }

  async sync(): Promise<void> {}

  bytesInUse(): number {
    return this.live;
  }

  /** Ends the worker threads (the backend then runs on this thread alone). */
  destroy(): void {
    this.workspace.pool?.destroy();
  }
}

/** Drops the workspace's kept copy if any tensor among an op's parameters shares its buffer. */
function forgetTouched(ws: CpuWorkspace, p: unknown, token: object, depth = 0): void {
  if (p instanceof CpuTensor) ws.forget(p.data.buffer, token);
  else if (p && typeof p === 'object' && !ArrayBuffer.isView(p) && depth < 3)
    for (const v of Object.values(p)) forgetTouched(ws, v, token, depth + 1);
}

/**
 * A CPU backend with its kernels compiled (asynchronously where the runtime requires it) and its
 * worker threads started: `threads` defaults to defaultCpuThreads().
 */
export function createCpuBackend(options: CpuBackendOptions = {}): Promise<CpuBackend> {
  return CpuBackend.create(options);
}
