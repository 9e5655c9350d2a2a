/**
 * The WebGPU backend: tensors live in GPU buffers, ops become recorded dispatches, and a
 * program (a whole training step, say) is encoded as one compute pass per replay and
 * submitted once. Nothing is read back unless `read` is called.
 */
import {
  type Backend,
  type DType,
  deviceBytes,
  type Ops,
  type Program,
  sizeOf,
  type Tensor,
} from '../backend.ts';
import type { Dispatch, KernelContext } from '../kernels/context.ts';
import { GemmVariants } from '../kernels/gemm-tiles.ts';
import { checkedOps } from '../ops/checked.ts';
import { createGpuOps } from '../ops/gpu.ts';
import { DeviceScratch, ScratchRole } from '../kernels/scratch.ts';
import { BufferPool } from './buffers.ts';
import {
  createGpuContext,
  type DeviceInfo,
  type DeviceOptions,
  adapterName,
  type GpuContext,
} from './device.ts';
import { ErrorSink, GpuError } from './errors.ts';
import { defaultPolicyFor } from './variant-policy.ts';
import { checkValues, packI8, unpackI8 } from './packing.ts';
import { type Overrides, PipelineCache } from '../kernels/pipelines.ts';
import { checkKernel, type Shader } from '../kernels/shaders.ts';
import type { Kernel } from '../kernels/pipelines.ts';
import {
  type CountedShader,
  countedBytes,
  countedSource,
  TRAFFIC_BINDING,
  type TrafficCount,
} from '../kernels/traffic.ts';

/** The counters of one shader family while `countTraffic` runs. */
interface Counters {
  shader: CountedShader;
  family: string;
  buffer: GPUBuffer;
}

/** The state of a `countTraffic` call: counters per counted source, and whose kernel is whose. */
interface Counting {
  bySource: Map<string, Counters>;
  kernels: Map<Kernel, Counters>;
}

export class GpuTensor implements Tensor {
  readonly size: number;
  disposed = false;
  constructor(
    readonly shape: readonly number[],
    readonly dtype: DType,
    readonly label: string,
    readonly buffer: GPUBuffer,
    readonly byteLength: number,
    /** The tensor owning the buffer, for views. */
    readonly base?: GpuTensor,
  ) {
    this.size = sizeOf(shape);
  }

  get isDisposed(): boolean {
    return this.disposed || Boolean(this.base?.disposed);
  }
}

class GpuProgram implements Program {
  constructor(
    readonly label: string,
    readonly dispatches: Dispatch[],
  ) {}
}

export function bufferOf(t: Tensor): GPUBuffer {
  if (!(t instanceof GpuTensor))
    throw new Error(`tensor ${t.label} does not belong to the WebGPU backend`);
  if (t.isDisposed) throw new Error(`tensor ${t.label} was disposed`);
  return t.buffer;
}

/** The WebGPU engine (see the top of this file). */
export class WebGPUBackend implements Backend {
  readonly kind = 'webgpu' as const;
  readonly description: string;
  readonly ops: Ops;
  readonly device: GPUDevice;
  readonly info: DeviceInfo;
  readonly errors: ErrorSink;
  readonly pipelines: PipelineCache;
  /** This backend's kernel scratch and uniform constants. */
  readonly scratch: DeviceScratch;
  /** This backend's GEMM kernel variants: forced (tests, benchmarks) and tuned choices. */
  readonly variants: GemmVariants;
  private readonly pool: BufferPool;
  /** Dispatches issued eagerly, submitted at the next run, write, read or sync. */
  private pending: Dispatch[] = [];
  /** Where dispatches go: `pending`, or the program being recorded. */
  private target: Dispatch[];
  private live = 0;
  /** Set while `countTraffic` runs: kernels are built from counted sources. */
  private counting: Counting | undefined;
  /** Counted sources made so far, by source. */
  private readonly countedSources = new Map<string, CountedShader>();
  /** Submissions so far (for tests and benchmarks). */
  submits = 0;

  /** A backend on a new WebGPU device (see createGpuContext). */
  static async create(options: DeviceOptions = {}): Promise<WebGPUBackend> {
    return new WebGPUBackend(await createGpuContext(options));
  }

  constructor(readonly context: GpuContext) {
    this.device = context.device;
    this.info = context.info;
    this.variants = new GemmVariants(defaultPolicyFor(context.info));
    this.description = adapterName(context.info);
    this.errors = new ErrorSink(this.device);
    this.pipelines = new PipelineCache(this.device, this.errors);
    this.pool = new BufferPool(this.device);
    this.target = this.pending;
    this.scratch = new DeviceScratch(this.device);
    const ctx: KernelContext = {
      device: this.device,
      limits: this.device.limits,
      scratch: this.scratch,
      variants: this.variants,
      kernel: (shader, entry, overrides = {}) => {
        checkKernel(shader, entry, overrides);
        if (this.counting) return this.countedKernel(this.counting, shader, entry, overrides);
        return this.pipelines.get(shader.family, shader.source, entry, overrides as Overrides);
      },
      dispatch: (kernel, resources, workgroups) => {
        // Tensors and buffers resolve now; scratch roles when the bind group is made.
        const entries: (GPUBindGroupEntry | { binding: number; role: ScratchRole })[] = [];
        for (const [name, slot] of kernel.slots) {
          const r =
            resources[name] ??
            (name === TRAFFIC_BINDING ? this.counting?.kernels.get(kernel)?.buffer : undefined);
          if (!r) throw new Error(`${kernel.name}: no buffer bound to '${name}'`);
          if (r instanceof ScratchRole) entries.push({ binding: slot.binding, role: r });
          else {
            const resource: GPUBufferBinding =
              r instanceof GpuTensor
                ? { buffer: bufferOf(r), size: Math.max(4, r.byteLength) }
                : { buffer: r as GPUBuffer };
            entries.push({ binding: slot.binding, resource });
          }
        }
        for (const w of workgroups) {
          if (w > this.device.limits.maxComputeWorkgroupsPerDimension) {
            throw new GpuError(
              `${kernel.name}: ${w} workgroups exceed the adapter's limit of ${this.device.limits.maxComputeWorkgroupsPerDimension} per dimension`,
            );
          }
        }
        let bindGroup: GPUBindGroup | undefined;
        const bind = (): GPUBindGroup => {
          bindGroup ??= this.errors.scoped(kernel.name, () =>
            this.device.createBindGroup({
              layout: kernel.layout,
              entries: entries.map((e) =>
                'role' in e ? { binding: e.binding, resource: { buffer: e.role.bind() } } : e,
              ),
              label: kernel.name,
            }),
          );
          return bindGroup;
        };
        if (workgroups[0] * workgroups[1] * workgroups[2] > 0)
          this.target.push({ kernel, bindGroup: bind, workgroups });
      },
    };
    this.ops = checkedOps(createGpuOps(ctx));
  }

  tensor(shape: readonly number[], dtype: DType, label: string): Tensor {
    for (const d of shape) {
      if (!Number.isInteger(d) || d <= 0)
        throw new Error(`tensor ${label}: invalid shape [${shape.join(', ')}]`);
    }
    const bytes = deviceBytes(shape, dtype);
    if (bytes > this.device.limits.maxStorageBufferBindingSize) {
      throw new GpuError(
        `tensor ${label} [${shape.join(', ')}] needs ${bytes} bytes, more than the adapter's maxStorageBufferBindingSize (${this.device.limits.maxStorageBufferBindingSize}); use a smaller batch or model`,
      );
    }
    this.flush(); // a recycled buffer must not be cleared before earlier work that used it ran
    const buffer = this.pool.acquire(bytes, label);
    this.live += bytes;
    return new GpuTensor(shape, dtype, label, buffer, bytes);
  }

  view(t: Tensor, shape: readonly number[], label?: string): Tensor {
    const g = t as GpuTensor;
    bufferOf(t);
    const bytes = deviceBytes(shape, t.dtype);
    if (bytes > g.byteLength) {
      throw new Error(
        `view of ${t.label}: shape [${shape.join(', ')}] needs ${bytes} bytes, the tensor has ${g.byteLength}`,
      );
    }
    return new GpuTensor(shape, t.dtype, label ?? t.label, g.buffer, bytes, g);
  }

  write(t: Tensor, values: ArrayLike<number>): void {
    checkValues(t.label, t.shape, t.dtype, values);
    this.flush();
    const data: Uint32Array<ArrayBuffer> | Int32Array<ArrayBuffer> =
      t.dtype === 'i8' ? packI8(values, t.shape) : Int32Array.from(values);
    this.device.queue.writeBuffer(bufferOf(t), 0, data);
  }

  /** Writes raw words (already in device layout) at a word offset. */
  writeWords(
    t: Tensor,
    words: Uint32Array<ArrayBuffer> | Int32Array<ArrayBuffer>,
    wordOffset = 0,
  ): void {
    this.flush();
    this.device.queue.writeBuffer(bufferOf(t), wordOffset * 4, words);
  }

  /** Reads a tensor's raw device words (i8 tensors packed four to a word). */
  async readWords(t: Tensor): Promise<Uint32Array> {
    this.flush();
    const g = t as GpuTensor;
    const staging = this.pool.acquireStaging(g.byteLength);
    const encoder = this.device.createCommandEncoder({ label: `read ${t.label}` });
    encoder.copyBufferToBuffer(bufferOf(t), 0, staging, 0, g.byteLength);
    this.device.queue.submit([encoder.finish()]);
    this.submits++;
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (e) {
      await this.errors.check();
      throw e;
    }
    const words = new Uint32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    this.pool.releaseStaging(staging);
    await this.errors.check();
    return words;
  }

  async read(t: Tensor): Promise<Int32Array> {
    const words = await this.readWords(t);
    return t.dtype === 'i8' ? unpackI8(words, t.shape) : new Int32Array(words.buffer);
  }

  dispose(t: Tensor): void {
    const g = t as GpuTensor;
    if (g.disposed || g.base) return; // views own nothing
    this.flush();
    g.disposed = true;
    this.live -= g.byteLength;
    this.pool.release(g.buffer);
  }

  record(label: string, build: (ops: Ops) => void): Program {
    this.flush();
    const dispatches: Dispatch[] = [];
    this.target = dispatches;
    try {
      build(this.ops);
    } finally {
      this.target = this.pending;
    }
    return new GpuProgram(label, dispatches);
  }

  run(program: Program, times = 1): void {
    this.flush();
    this.submit((program as GpuProgram).dispatches, times, program.label);
  }

  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.errors.check();
  }

  bytesInUse(): number {
    return this.live;
  }

  /** Bytes of the kernels' device-side scratch (repacked inputs, weight limbs, raw sums), outside bytesInUse. */
  scratchBytes(): number {
    return this.scratch.bytes();
  }

  /** Number of dispatches in a recorded program. */
  dispatchCount(program: Program): number {
    return (program as GpuProgram).dispatches.length;
  }

  /** Kernel name of each dispatch of a recorded program, in order (benchmarks). */
  dispatchNames(program: Program): string[] {
    return (program as GpuProgram).dispatches.map((d) => d.kernel.name);
  }

  /** The device was created with 'timestamp-query' (DeviceOptions.timestamps). */
  get hasTimestamps(): boolean {
    return this.device.features.has('timestamp-query');
  }

  /**
   * GPU time of each dispatch of a program in nanoseconds, the median over `reps` replays of the
   * whole program (robust to a replay that was preempted): every dispatch runs in its own
   * compute pass with begin/end timestamps, so it is timed in place (same data, caches warm
   * from the dispatches before it). Needs a device with 'timestamp-query'.
   */
  async timeDispatches(program: Program, reps = 1): Promise<number[]> {
    if (!this.hasTimestamps)
      throw new GpuError(
        'timeDispatches: the device has no timestamp-query feature (create it with { timestamps: true })',
      );
    const dispatches = (program as GpuProgram).dispatches;
    const samples = dispatches.map(() => [] as number[]);
    if (dispatches.length === 0 || reps <= 0) return samples.map(() => 0);
    this.flush();
    // A query set holds at most 4096 queries: time at most 2048 dispatches per replay.
    const perSet = Math.min(dispatches.length, 2048);
    const bytes = perSet * 2 * 8;
    const querySet = this.device.createQuerySet({
      type: 'timestamp',
      count: perSet * 2,
      label: 'timeDispatches',
    });
    const resolve = this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      label: 'timestamps',
    });
    const staging = this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      label: 'timestamps readback',
    });
    try {
      for (let r = 0; r < reps; r++) {
        for (let first = 0; first < dispatches.length; first += perSet) {
          const count = Math.min(perSet, dispatches.length - first);
          const encoder = this.device.createCommandEncoder({ label: `${program.label} (timed)` });
          for (let i = 0; i < dispatches.length; i++) {
            const d = dispatches[i];
            const q = i - first;
            const timed = q >= 0 && q < count;
            const pass = encoder.beginComputePass({
              label: d.kernel.name,
              ...(timed
                ? {
                    timestampWrites: {
                      querySet,
                      beginningOfPassWriteIndex: 2 * q,
                      endOfPassWriteIndex: 2 * q + 1,
                    },
                  }
                : {}),
            });
            pass.setPipeline(d.kernel.pipeline);
            pass.setBindGroup(0, d.bindGroup());
            pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
            pass.end();
          }
          encoder.resolveQuerySet(querySet, 0, count * 2, resolve, 0);
          encoder.copyBufferToBuffer(resolve, 0, staging, 0, count * 2 * 8);
          this.errors.scoped(`${program.label} (timed)`, () =>
            this.device.queue.submit([encoder.finish()]),
          );
          this.submits++;
          await staging.mapAsync(GPUMapMode.READ);
          const stamps = new BigUint64Array(staging.getMappedRange(0, count * 2 * 8).slice(0));
          staging.unmap();
          for (let q = 0; q < count; q++) {
            const ns =
              stamps[2 * q + 1] > stamps[2 * q] ? Number(stamps[2 * q + 1] - stamps[2 * q]) : 0;
            samples[first + q].push(ns);
          }
        }
      }
      await this.errors.check();
    } finally {
      querySet.destroy();
      resolve.destroy();
      staging.destroy();
    }
    return samples.map((list) => {
      const sorted = list.sort((a, b) => a - b);
      const mid = sorted.length >> 1;
      return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    });
  }

  /**
   * Runs `f` (eager ops) with every kernel built from its counted source (src/kernels/traffic.ts)
   * and returns the storage bytes its dispatches read and wrote on this adapter, per binding.
   * For small shapes: each access is an atomic add to a 32-bit counter. Programs recorded
   * inside `f` keep the counted pipelines and must not outlive the call.
   */
  async countTraffic(f: () => void): Promise<TrafficCount> {
    if (this.counting) throw new Error('countTraffic: already counting');
    this.flush();
    const counting: Counting = { bySource: new Map(), kernels: new Map() };
    this.counting = counting;
    try {
      f();
      this.flush();
    } finally {
      this.counting = undefined;
    }
    const out: TrafficCount = { readBytes: 0, writeBytes: 0, byBinding: {} };
    for (const c of counting.bySource.values()) {
      const staging = this.device.createBuffer({
        size: c.buffer.size,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
        label: 'traffic readback',
      });
      try {
        const encoder = this.device.createCommandEncoder({ label: 'traffic readback' });
        encoder.copyBufferToBuffer(c.buffer, 0, staging, 0, c.buffer.size);
        this.device.queue.submit([encoder.finish()]);
        await staging.mapAsync(GPUMapMode.READ);
        countedBytes(c.shader, new Uint32Array(staging.getMappedRange().slice(0)), c.family, out);
        staging.unmap();
      } finally {
        staging.destroy();
        c.buffer.destroy();
      }
    }
    await this.errors.check();
    return out;
  }

  private countedKernel(
    counting: Counting,
    shader: Shader,
    entry: string,
    overrides: object,
  ): Kernel {
    let counted = this.countedSources.get(shader.source);
    if (!counted) {
      counted = countedSource(shader.source);
      this.countedSources.set(shader.source, counted);
    }
    let counters = counting.bySource.get(shader.source);
    if (!counters) {
      counters = {
        shader: counted,
        family: shader.family,
        buffer: this.device.createBuffer({
          size: Math.max(8, counted.bindings.length * 8),
          usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
          label: `traffic ${shader.family}`,
        }),
      };
      counting.bySource.set(shader.source, counters);
    }
    const k = this.pipelines.get(shader.family, counted.source, entry, overrides as Overrides);
    counting.kernels.set(k, counters);
    return k;
  }

  destroy(): void {
    this.errors.destroyedOnPurpose = true;
    this.pool.destroy();
    this.device.destroy();
  }

  private flush(): void {
    if (this.pending.length === 0 || this.target !== this.pending) return;
    const dispatches = this.pending;
    this.pending = [];
    this.target = this.pending;
    this.submit(dispatches, 1, 'eager ops');
  }

  private submit(dispatches: readonly Dispatch[], times: number, label: string): void {
    this.errors.throwIfFailed();
    if (dispatches.length === 0 || times <= 0) return;
    const encoder = this.device.createCommandEncoder({ label });
    for (let t = 0; t < times; t++) {
      const pass = encoder.beginComputePass({ label });
      for (const d of dispatches) {
        pass.setPipeline(d.kernel.pipeline);
        pass.setBindGroup(0, d.bindGroup());
        pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
      }
      pass.end();
    }
    this.errors.scoped(label, () => this.device.queue.submit([encoder.finish()]));
    this.submits++;
  }
}
