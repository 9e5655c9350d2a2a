/**
 * Worker threads for the CPU backend's kernels: workers that instantiate the same WebAssembly
 * module on the same shared memory, and run lists of kernel calls the main thread hands them
 * (Node worker threads; Web Workers in Deno and in cross-origin isolated pages).
 *
 * An op splits its output over T threads by rows or columns (`share`), issues each thread's
 * kernel calls through `run`, and gets the results in the shared memory when `run` returns. The
 * workers' calls are recorded into a shared control buffer first; the main thread then wakes the
 * workers and runs its own share directly. Every output element is computed by one thread with
 * the kernels' own order of summation, so the bits do not depend on T.
 *
 * Dispatch: a generation counter that the workers watch (a 0.3 ms spin on Atomics.load, then
 * Atomics.wait), a pending counter the main thread watches the same way. Ops take 20-200 µs at
 * batch 64, so a wake-up through the OS on every op would cost as much as the op.
 */
import { instantiateKernels, type KernelModule, type Kernels, type SimdKernels } from './wasm.ts';

/** Pages of 64 KiB the kernel module's shared memory import allows (4 GiB). */
const SHARED_PAGES = 65536;

/** Control words (Int32 indices into the control buffer). */
const GEN = 0;
const PENDING = 1;
const STOP = 2;
const READY = 3;
const ERROR = 4;
const SLEEPING = 6;
const PROBE = 7;
/** Per worker: the generation whose list it may claim (0 once claimed). */
const OPEN = 8;
const MAX_WORKERS = 255;
const LISTS = OPEN + MAX_WORKERS + 1;
/** A recorded call: the kernel's index among the instance's exports, then 16 arguments. */
const STRIDE = 17;
/** How long the main thread spins for the workers of a run before it sleeps (milliseconds). */
const JOIN_SPIN_MS = 0.1;
/** A wait for the workers longer than this (ms), and than the run's own share, backs off. */
const SLOW_WAIT_MS = 0.5;
/** The first and the longest backoff to one thread (ms). */
const BACKOFF_MIN_MS = 20;
const BACKOFF_MAX_MS = 2000;
/** Int32 words of one worker's call list (its count, then the calls). */
const LIST_WORDS = 1 + 4096 * STRIDE;

/** What a worker gets when it starts. */
interface WorkerData {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  index: number;
  names: readonly string[];
  layout: {
    gen: number;
    pending: number;
    stop: number;
    ready: number;
    error: number;
    sleeping: number;
    open: number;
    lists: number;
    listWords: number;
    stride: number;
  };
  /** How long a worker spins (milliseconds) for the next call list before it sleeps. */
  spinMs: number;
}

/**
 * A worker's whole life: instantiate the kernels on the shared memory, say it is ready, then run
 * the call lists of every generation it is active in until told to stop. Self-contained (its
 * source text is the worker's script), so it refers to nothing outside itself.
 */
function threadWorker(d: WorkerData): void {
  const L = d.layout;
  const c = new Int32Array(d.control);
  const exports = new WebAssembly.Instance(d.module, { env: { memory: d.memory } }).exports;
  const fns = d.names.map((n) => exports[n] as (...args: number[]) => void);
  let gen = Atomics.load(c, L.gen);
  Atomics.add(c, L.ready, 1);
  Atomics.notify(c, L.ready);
  const base = L.lists + d.index * L.listWords;
  for (;;) {
    let g = Atomics.load(c, L.gen);
    if (g === gen) {
      const until = performance.now() + d.spinMs;
      for (let n = 1; g === gen; n++) {
        g = Atomics.load(c, L.gen);
        if ((n & 1023) === 0 && performance.now() > until) break;
      }
      if (g === gen) {
        Atomics.add(c, L.sleeping, 1);
        Atomics.wait(c, L.gen, gen);
        Atomics.sub(c, L.sleeping, 1);
        continue;
      }
    }
    gen = g;
    if (Atomics.load(c, L.stop) !== 0) return;
    // The main thread runs a list no worker has claimed once its own share is done.
    if (Atomics.compareExchange(c, L.open + d.index, gen, 0) !== gen) continue;
    try {
      const n = c[base];
      for (let k = 0, p = base + 1; k < n; k++, p += L.stride) {
        fns[c[p]](
          c[p + 1],
          c[p + 2],
          c[p + 3],
          c[p + 4],
          c[p + 5],
          c[p + 6],
          c[p + 7],
          c[p + 8],
          c[p + 9],
          c[p + 10],
          c[p + 11],
          c[p + 12],
          c[p + 13],
          c[p + 14],
          c[p + 15],
          c[p + 16],
        );
      }
    } catch {
      Atomics.store(c, L.error, 1);
    }
    if (Atomics.sub(c, L.pending, 1) === 1) Atomics.notify(c, L.pending);
  }
}

/** A started worker, whatever the runtime's kind. */
interface WorkerHandle {
  terminate(): void;
}

type NodeWorkerThreads = typeof import('node:worker_threads');

/** Node's worker_threads where this is Node (Deno and browsers have Web Workers). */
function nodeWorkers(): NodeWorkerThreads | null {
  if ('Deno' in globalThis) return null;
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  return (proc?.getBuiltinModule?.('node:worker_threads') as NodeWorkerThreads | undefined) ?? null;
}

/** The number of cores the runtime reports (1 where it reports none). */
export function coreCount(): number {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const os = proc?.getBuiltinModule?.('node:os') as
    | { availableParallelism?: () => number; cpus: () => unknown[] }
    | undefined;
  const n = os
    ? (os.availableParallelism?.() ?? os.cpus().length)
    : (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator
        ?.hardwareConcurrency;
  return Math.max(1, Math.floor(n ?? 1));
}

/**
 * [begin, end) of part t of T of n items, in whole multiples of `unit` (the last part may end
 * with a partial unit where n is not a multiple); parts differ by at most one unit.
 */
export function share(n: number, t: number, T: number, unit = 1): [number, number] {
  const units = Math.ceil(n / unit);
  const begin = Math.floor((units * t) / T) * unit;
  const end = Math.min(n, Math.floor((units * (t + 1)) / T) * unit);
  return [Math.min(begin, n), end];
}

/** Why this runtime cannot run kernels on worker threads; null where it can. */
export function threadsUnavailable(): string | null {
  if (
    typeof SharedArrayBuffer !== 'function' ||
    (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === false
  )
    return 'no SharedArrayBuffer (a page must be cross-origin isolated)';
  if (!nodeWorkers() && typeof Worker !== 'function') return 'no worker threads';
  return null;
}

/** Kernels on a new shared memory, with the module the workers instantiate. */
export interface SharedKernels {
  readonly simd: SimdKernels;
  readonly module: WebAssembly.Module;
}

/**
 * The kernels compiled (by `compile`, for a shared memory) and instantiated on a new shared
 * memory, or null where the runtime cannot (see threadsUnavailable) or the compile fails.
 */
export function sharedKernels(compiled: KernelModule | null): SharedKernels | null {
  if (threadsUnavailable() !== null || !compiled?.shared) return null;
  try {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: SHARED_PAGES, shared: true });
    return { simd: instantiateKernels(compiled, memory), module: compiled.module };
  } catch {
    return null;
  }
}

/** The kernels' names: the functions among an instance's exports. */
function kernelNames(kernels: SimdKernels): string[] {
  return Object.keys(kernels).filter(
    (k) => typeof (kernels as unknown as Record<string, unknown>)[k] === 'function',
  );
}

/** One thread's share of an op: its kernel calls on `k`. */
export type ThreadBody = (t: number, T: number, k: Kernels) => void;

/**
 * The workers of one CPU backend (threads − 1 of them; the main thread is thread 0). Workers
 * start asynchronously; until one says it is ready, runs leave it out (`available`).
 */
export class KernelThreads {
  private readonly kernels: SimdKernels;
  private readonly control: Int32Array;
  private readonly workers: WorkerHandle[] = [];
  private readonly recorders: Kernels[];
  /** Calls past a worker's list capacity, run by the main thread after the workers' lists. */
  private readonly overflow: [number, number[]][][];
  private readonly canBlock: boolean;
  private readonly fns: ((...args: number[]) => void)[];
  private readonly urls: string[] = [];
  private readonly exits: Promise<void>[] = [];
  private destroyed = false;
  /**
   * On: after a run whose workers lagged far behind this thread (descheduled on a busy machine:
   * each such wait is a scheduler round), ops run on this thread alone for a while, twice as
   * long each time it happens again. Tests turn it off so that every op splits.
   */
  adaptive = true;
  private backoffUntil = 0;
  private backoffMs = BACKOFF_MIN_MS;
  /** Workers that failed to start. */
  private failed = 0;

  private readonly names: string[];

  constructor(
    shared: SharedKernels,
    readonly threads: number,
    spinMs = 0.3,
  ) {
    const kernels = shared.simd;
    this.kernels = kernels;
    const workers = threads - 1;
    if (workers > MAX_WORKERS) throw new Error(`CPU backend: at most ${MAX_WORKERS + 1} threads`);
    this.names = kernelNames(kernels);
    const table = kernels as unknown as Record<string, (...args: number[]) => void>;
    this.fns = this.names.map((name) => table[name]);
    this.control = new Int32Array(new SharedArrayBuffer(4 * (LISTS + workers * LIST_WORDS)));
    this.canBlock = blockingAllowed(this.control);
    this.overflow = Array.from({ length: workers }, () => []);
    this.recorders = Array.from({ length: workers }, (_, w) => this.recorder(w));
    const node = nodeWorkers();
    const layout = {
      gen: GEN,
      pending: PENDING,
      stop: STOP,
      ready: READY,
      error: ERROR,
      sleeping: SLEEPING,
      open: OPEN,
      lists: LISTS,
      listWords: LIST_WORDS,
      stride: STRIDE,
    };
    for (let index = 0; index < workers; index++) {
      const data: WorkerData = {
        module: shared.module,
        memory: kernels.memory,
        control: this.control.buffer as SharedArrayBuffer,
        index,
        names: this.names,
        layout,
        spinMs,
      };
      try {
        this.workers.push(node ? this.nodeWorker(node, data) : this.webWorker(data));
      } catch {
        // A runtime that refuses a worker (or its messages): its lists run on this thread.
        this.failed++;
      }
    }
  }

  private nodeWorker(node: NodeWorkerThreads, data: WorkerData): WorkerHandle {
    // getBuiltinModule: the worker's script is CommonJS or a module depending on the flags it
    // inherits (--input-type=module makes it a module, without `require`).
    const w = new node.Worker(
      `(${threadWorker.toString()})(process.getBuiltinModule('node:worker_threads').workerData)`,
      { eval: true, workerData: data },
    );
    // Idle workers never keep a process alive; destroy() ends them.
    w.unref();
    this.exits.push(new Promise((resolve) => w.once('exit', () => resolve())));
    // A worker that fails to start is never ready, so no run waits for it.
    w.on('error', () => {
      this.failed++;
    });
    return w;
  }

  private webWorker(data: WorkerData): WorkerHandle {
    const source = `onmessage = (e) => (${threadWorker.toString()})(e.data);`;
    const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
    this.urls.push(url);
    const w = new Worker(url, { type: 'module' });
    w.onerror = () => {
      this.failed++;
    };
    w.postMessage(data);
    return w;
  }

  /** Threads a run may use now: the main one and the workers that are ready. */
  available(): number {
    if (this.destroyed || (this.adaptive && performance.now() < this.backoffUntil)) return 1;
    return 1 + Math.min(Atomics.load(this.control, READY), this.workers.length);
  }

  /**
   * Resolves when every worker is ready or failed to start, or after `timeoutMs` (then fewer
   * threads run).
   */
  async ready(timeoutMs = 10000): Promise<number> {
    const until = performance.now() + timeoutMs;
    while (this.available() + this.failed < this.threads && performance.now() < until)
      await new Promise((resolve) => setTimeout(resolve, 2));
    return this.available();
  }

  /**
   * Runs body(t, T, k) for t < T (T ≤ available()): t = 0 on this thread, directly, the others'
   * calls recorded and run by the workers; returns when all are done. Bodies only issue kernel
   * calls; a thread's calls run in order, so they may depend on each other but not on another
   * thread's.
   */
  run(T: number, body: ThreadBody): void {
    if (T <= 1 || this.destroyed) {
      body(0, 1, this.kernels);
      return;
    }
    const c = this.control;
    for (let w = 0; w < T - 1; w++) {
      c[LISTS + w * LIST_WORDS] = 0;
      body(w + 1, T, this.recorders[w]);
    }
    Atomics.store(c, PENDING, T - 1);
    Atomics.store(c, ERROR, 0);
    const gen = Atomics.load(c, GEN) + 1;
    for (let w = 0; w < T - 1; w++) Atomics.store(c, OPEN + w, gen);
    Atomics.store(c, GEN, gen);
    if (Atomics.load(c, SLEEPING) > 0) Atomics.notify(c, GEN);
    let failure: unknown;
    const t0 = performance.now();
    let t1 = t0;
    try {
      body(0, T, this.kernels);
      // Lists whose worker has not woken yet (descheduled on a busy machine) run here.
      for (let w = 0; w < T - 1; w++) {
        if (Atomics.compareExchange(c, OPEN + w, gen, 0) !== gen) continue;
        Atomics.sub(c, PENDING, 1);
        this.runList(w);
      }
      t1 = performance.now();
    } catch (e) {
      failure = e;
    }
    this.join();
    if (this.adaptive && failure === undefined) this.adapt(t1 - t0, performance.now() - t1);
    for (let w = 0; w < T - 1; w++) {
      for (const [fn, args] of this.overflow[w]) this.fns[fn](...args);
      this.overflow[w].length = 0;
    }
    if (failure !== undefined) throw failure;
    if (Atomics.load(c, ERROR) !== 0)
      throw new Error('a CPU backend worker thread failed in a kernel (an address out of bounds)');
  }

  /**
   * Backs off to one thread when this thread waited for the workers longer than it worked (a
   * worker descheduled mid-list). A list this thread took over from a worker that had not woken
   * yet costs nothing, so it does not count: on idle cores a sleeping worker often wakes a few
   * microseconds late, and backing off then kept MLP2 on one thread.
   */
  private adapt(ownMs: number, waitMs: number): void {
    if (waitMs > SLOW_WAIT_MS && waitMs > ownMs) {
      this.backoffUntil = performance.now() + this.backoffMs;
      this.backoffMs = Math.min(2 * this.backoffMs, BACKOFF_MAX_MS);
    } else if (waitMs < SLOW_WAIT_MS) this.backoffMs = Math.max(BACKOFF_MIN_MS, this.backoffMs / 2);
  }

  /** Runs worker w's recorded list on this thread. */
  private runList(w: number): void {
    const c = this.control;
    const base = LISTS + w * LIST_WORDS;
    const fns = this.fns;
    const n = c[base];
    for (let k = 0, p = base + 1; k < n; k++, p += STRIDE) {
      fns[c[p]](
        c[p + 1],
        c[p + 2],
        c[p + 3],
        c[p + 4],
        c[p + 5],
        c[p + 6],
        c[p + 7],
        c[p + 8],
        c[p + 9],
        c[p + 10],
        c[p + 11],
        c[p + 12],
        c[p + 13],
        c[p + 14],
        c[p + 15],
        c[p + 16],
      );
    }
  }

  /** Waits for the workers of the current run: a spin, then (where allowed) a blocking wait. */
  private join(): void {
    const c = this.control;
    let left = Atomics.load(c, PENDING);
    // A worker still busy after the spin has likely lost its core: sleeping frees this one.
    const until = performance.now() + JOIN_SPIN_MS;
    for (let n = 1; left !== 0; n++) {
      left = Atomics.load(c, PENDING);
      if ((n & 255) === 0 && performance.now() > until) break;
    }
    while (left !== 0) {
      if (this.canBlock) Atomics.wait(c, PENDING, left, 50);
      left = Atomics.load(c, PENDING);
    }
  }

  /** Kernels that append their calls to worker w's list. */
  private recorder(w: number): Kernels {
    const c = this.control;
    const base = LISTS + w * LIST_WORDS;
    const capacity = (LIST_WORDS - 1) / STRIDE;
    const entries = this.names.map((name, fn) => [
      name,
      (...args: number[]) => {
        const n = c[base];
        if (n >= capacity) {
          this.overflow[w].push([fn, args]);
          return;
        }
        const p = base + 1 + n * STRIDE;
        c[p] = fn;
        for (let i = 0; i < 16; i++) c[p + 1 + i] = args[i] ?? 0;
        c[base] = n + 1;
      },
    ]);
    return Object.fromEntries(entries) as unknown as Kernels;
  }

  /** Stops the workers (idempotent); later runs use the main thread alone. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    Atomics.store(this.control, STOP, 1);
    Atomics.add(this.control, GEN, 1);
    Atomics.notify(this.control, GEN);
    for (const w of this.workers) w.terminate();
    for (const url of this.urls) URL.revokeObjectURL(url);
  }

  /** Resolves when every worker has ended (after destroy; Web Workers end on terminate). */
  async stopped(): Promise<void> {
    await Promise.all(this.exits);
  }
}

/** Whether this thread may block in Atomics.wait (a browser's main thread may not). */
function blockingAllowed(c: Int32Array): boolean {
  try {
    Atomics.wait(c, PROBE, 1, 0);
    return true;
  } catch {
    return false;
  }
}
