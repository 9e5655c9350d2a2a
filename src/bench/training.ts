/**
 * Training throughput of a preset at a batch size: a model with seeded weights, random int8
 * batches on the device (no data set needed), and the network's recorded train step replayed
 * exactly as the trainer replays it. Reports the cold start (allocation, recording with its
 * pipeline compiles, first step) apart from the warm rate (after warm-up steps), the cost of a
 * step from the model geometry, device memory, and where the time of a step goes per kernel.
 */
import type { Backend, Program, Tensor } from '../backend.ts';
import { AUG_PARAMS, augmentPlan } from '../data/batches.ts';
import { WebGPUBackend } from '../gpu/webgpu-backend.ts';
import { trainingStepOps } from '../model/geometry.ts';
import { Model } from '../model/model.ts';
import { getPreset } from '../model/presets.ts';
import { Rng } from '../rng.ts';
import { minimumBytes } from '../train/memory.ts';
import type { BatchSource } from '../model/network.ts';
import type { NetworkPlan } from '../model/plan.ts';
import { type OpName, opCost } from './cost.ts';
import { type OpCall, TracingBackend } from './trace.ts';
import { variantsInUse } from './tune.ts';
import { dispatchTimes, type KernelTiming, resolveTiming, timeProgram } from './timing.ts';
import { gops, now, runtimeName, type Runtime, sig } from './util.ts';

export interface TrainingBenchOptions {
  preset: string;
  /** Default: the preset's batch size (64 for the paper's runs). */
  batch?: number;
  /** Timed steps (default 20). */
  steps?: number;
  /** Untimed steps before them (default 2). */
  warmup?: number;
  /** Seed of the weights and the random batches. */
  seed?: number;
  /**
   * Start from these weights (a checkpoint's tensors, checked against the preset's parameters)
   * instead of seeded Kaiming ones: trained weights are larger, and the GPU kernels then run
   * more int8 limbs (docs/algorithm.md §2.2).
   */
  weights?: Map<string, ArrayLike<number>>;
  /** Where `weights` came from, for the report (e.g. the checkpoint's path). */
  weightsSource?: string;
  kernelTiming?: KernelTiming;
  /** Timestamp timing replays the step this many times and takes the median per dispatch (default 3). */
  kernelReps?: number;
  /** ... but stops replaying after this many milliseconds (default 10 000; at least one replay). */
  kernelBudgetMs?: number;
  /** Solo timing repeats each call until about this many milliseconds (default 20). */
  soloTargetMs?: number;
  /** Called as each phase starts (for progress lines). */
  onPhase?: (phase: string) => void;
}

/** Time of one kernel (or CPU op) summed over its dispatches in one training step. */
export interface KernelStat {
  name: string;
  dispatches: number;
  /** Milliseconds per step. */
  ms: number;
  /** Integer operations (2 per multiply-accumulate) per step; 0 for element-wise kernels. */
  ops: number;
  /** GOP/s (0 for element-wise kernels). */
  gops: number;
}

/** One op call of the step. */
export interface CallStat {
  op: OpName;
  kernel: string;
  shape: string;
  ms: number;
  ops: number;
  gops: number;
}

export interface TrainingBenchResult {
  preset: string;
  batch: number;
  steps: number;
  warmup: number;
  backend: Backend['kind'];
  adapter: string;
  runtime: Runtime;
  /** The starting weights: seeded integer Kaiming ones, or given (a checkpoint's). */
  weights: { kind: 'seeded'; seed: number } | { kind: 'given'; source: string };
  /** Model and batches allocated, step recorded (pipelines compiled), first step finished. */
  coldMs: number;
  cold: { setupMs: number; recordMs: number; firstStepMs: number };
  imagesPerSecond: number;
  msPerStep: number;
  /** 2 × multiply-accumulates of one step from the model geometry (an integer). */
  opsPerStep: number;
  gopsPerSecond: number;
  memory: {
    /** Bytes of the model's parameters, activations and gradient scratch. */
    bytesInUse: number;
    /** Bytes of the benchmark's random batches (a data set in real training). */
    dataBytes: number;
    /** Kernel scratch the recorded step added on the device (WebGPU; 0 on the CPU), outside bytesInUse. */
    scratchBytes: number;
    /** The analytic minimum of NITRO-D training at this batch (src/train/memory.ts). */
    minimumBytes: number;
  };
  kernelTiming: Exclude<KernelTiming, 'auto'>;
  /** Whole-step replays the timestamp timing took (0 for solo timing). */
  kernelReps: number;
  /** Sum of the per-kernel times (differs from msPerStep by submission and sync overhead). */
  kernelMsPerStep: number;
  kernels: KernelStat[];
  calls: CallStat[];
  /** GPU dispatches (or CPU ops) of one recorded training step; an op call may take several. */
  dispatchesPerStep: number;
  /** Kernel variant each GEMM op shape of the step ran with (WebGPU; tuned: installed with setTunedVariants). */
  variants: { key: string; variant: string; tuned: boolean }[];
}

/** Steps of random batches the source holds; the cursor wraps around them. */
const CYCLE_STEPS = 64;
/** Steps per submission of the timed loop. */
const STEPS_PER_SUBMIT = 16;
/**
 * Submissions between waits for the queue: every WAIT_EVERY submissions the loop waits for the
 * work submitted up to the previous wait, so at most 2·WAIT_EVERY submissions (and their error
 * scopes) are in flight, whatever the number of steps, and the queue never runs dry.
 */
const WAIT_EVERY = 8;

/**
 * Runs `steps` training steps from the start of the source, in submissions of STEPS_PER_SUBMIT
 * that never cross the end of the source's `cycle` (the cursor is rewound there), with bounded
 * submissions in flight.
 */
async function runSteps(
  backend: Backend,
  program: Program,
  cursor: Tensor,
  steps: number,
  cycle: number,
): Promise<void> {
  backend.write(cursor, [0]);
  let pos = 0;
  let submits = 0;
  let previous: Promise<void> = Promise.resolve();
  for (let done = 0; done < steps; ) {
    if (pos === cycle) {
      backend.write(cursor, [0]);
      pos = 0;
    }
    const n = Math.min(STEPS_PER_SUBMIT, cycle - pos, steps - done);
    backend.run(program, n);
    done += n;
    pos += n;
    if (++submits % WAIT_EVERY === 0) {
      await previous;
      previous = backend.sync();
    }
  }
  await previous;
  await backend.sync();
}

function positiveInt(name: string, v: number, min = 1): number {
  if (!Number.isInteger(v) || v < min)
    throw new Error(`benchTraining: ${name} must be an integer >= ${min}, got ${v}`);
  return v;
}

/** Random normalised-looking int8 samples and labels, indices for `steps` steps, augmentation as the preset trains. */
function randomSource(
  backend: Backend,
  plan: NetworkPlan,
  augment: { pad: number; flip: boolean } | undefined,
  batch: number,
  steps: number,
  seed: number,
): BatchSource {
  const rng = new Rng(seed ^ 0x5eed);
  const pool = 2 * batch;
  const sample = plan.input.reduce((a, b) => a * b, 1);
  const images = new Int8Array(pool * sample);
  for (let i = 0; i < images.length; i++) images[i] = rng.int(-128, 127);
  const labels = Int32Array.from({ length: pool }, () => rng.below(plan.classes));
  const indices = Int32Array.from({ length: steps * batch }, (_, i) => i % pool);
  const data = backend.tensor([pool, ...plan.input], 'i8', 'bench.images');
  backend.write(data, images);
  const labelTensor = backend.tensor([pool], 'i32', 'bench.labels');
  backend.write(labelTensor, labels);
  const indexTensor = backend.tensor([indices.length], 'i32', 'bench.indices');
  backend.write(indexTensor, indices);
  const source: BatchSource = { data, labels: labelTensor, indices: indexTensor };
  if (augment) {
    const params = augmentPlan(images, plan.input, { steps, batch, indices }, seed, 1, augment);
    const t = backend.tensor([steps, AUG_PARAMS], 'i32', 'bench.augment');
    backend.write(t, params);
    source.augment = { params: t, pad: augment.pad };
  }
  return source;
}

/** Per-call milliseconds and kernel names of a recorded step. */
async function timeCalls(
  traced: TracingBackend,
  program: Program,
  calls: OpCall[],
  mode: 'timestamps' | 'solo',
  reps: number,
  budgetMs: number,
  soloTargetMs: number,
): Promise<{ ms: number[]; names: string[][]; dispatches: number[]; reps: number }> {
  const backend = traced.inner;
  const gpu = backend instanceof WebGPUBackend ? backend : undefined;
  const singles = calls.map((c) => traced.recordCall(c));
  const names = singles.map((p, i) => (gpu ? gpu.dispatchNames(p) : [calls[i].op]));
  const dispatches = names.map((n) => n.length);
  if (mode === 'timestamps' && gpu) {
    const total = gpu.dispatchNames(program).length;
    const counted = dispatches.reduce((a, b) => a + b, 0);
    if (total !== counted)
      throw new Error(
        `benchTraining: the step has ${total} dispatches but its calls recorded alone have ${counted}`,
      );
    // Replays one at a time until `reps` or the time budget, then the median per dispatch.
    const timed = await dispatchTimes(gpu, program, reps, budgetMs);
    const ns = timed.ns;
    const ms: number[] = [];
    let d = 0;
    for (const n of dispatches) {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += ns[d++];
      ms.push(sum / 1e6);
    }
    return { ms, names, dispatches, reps: timed.reps };
  }
  const ms: number[] = [];
  for (const single of singles) {
    const options = {
      timing: 'solo',
      targetMs: soloTargetMs,
      maxReps: 200,
      warmup: false,
    } as const;
    const r = await timeProgram(backend, single, options);
    ms.push(r.ms);
  }
  return { ms, names, dispatches, reps: 0 };
}

export async function benchTraining(
  backend: Backend,
  options: TrainingBenchOptions,
): Promise<TrainingBenchResult> {
  const preset = getPreset(options.preset);
  const batch = positiveInt('batch', options.batch ?? preset.protocol.batch);
  const steps = positiveInt('steps', options.steps ?? 20);
  const warmup = positiveInt('warmup', options.warmup ?? 2, 0);
  const kernelReps = positiveInt('kernelReps', options.kernelReps ?? 3);
  const seed = options.seed ?? 1;
  const timing = resolveTiming(backend, options.kernelTiming ?? 'auto');
  const phase = options.onPhase ?? (() => {});
  const p = preset.protocol;
  const augment =
    p.augment === 'none' ? undefined : { pad: p.augmentPad, flip: p.augment === 'crop-flip' };

  const traced = new TracingBackend(backend);
  phase('cold start');
  const before = backend.bytesInUse();
  const scratchOf = () => (backend instanceof WebGPUBackend ? backend.scratchBytes() : 0);
  const scratchBefore = scratchOf();
  const t0 = now();
  const model = Model.create(traced, preset.spec, { seed, weights: options.weights });
  let source: BatchSource | undefined;
  try {
    const net = model.network(batch);
    const modelBytes = backend.bytesInUse() - before;
    // The source holds a cycle of steps and the cursor is rewound after each, so its size (and
    // the host arrays behind it) do not grow with --steps or --warmup.
    // Kernel timing replays kernelReps steps without rewinding: the cycle covers them.
    const cycle = Math.min(
      Math.max(1, warmup, steps, kernelReps),
      Math.max(CYCLE_STEPS, kernelReps),
    );
    source = randomSource(traced, model.plan, augment, batch, cycle, seed);
    const dataBytes = backend.bytesInUse() - before - modelBytes;
    const t1 = now();
    const program = net.recordTrainStep(source);
    const stepScratch = scratchOf() - scratchBefore;
    const t2 = now();
    backend.write(net.cursor, [0]);
    backend.run(program);
    await backend.sync();
    const t3 = now();
    // Bookkeeping for the report (it traces the step on a shapes-only backend), outside the timings.
    const variants =
      backend instanceof WebGPUBackend ? variantsInUse(model.plan, batch, backend.variants) : [];

    phase(`${warmup} warm-up steps`);
    if (warmup > 0) await runSteps(backend, program, net.cursor, warmup, cycle);

    phase(`${steps} timed steps`);
    const s0 = now();
    await runSteps(backend, program, net.cursor, steps, cycle);
    const elapsed = now() - s0;

    const calls = traced.traces.get(program) ?? [];
    const costs = calls.map((c) => opCost(c.op, c.params));
    const kernels: KernelStat[] = [];
    const callStats: CallStat[] = [];
    let kernelMs = 0;
    let timedReps = 0;
    if (timing !== 'none') {
      phase(`kernel timing (${timing})`);
      backend.write(net.cursor, [0]);
      const timed = await timeCalls(
        traced,
        program,
        calls,
        timing,
        kernelReps,
        options.kernelBudgetMs ?? 10_000,
        options.soloTargetMs ?? 20,
      );
      timedReps = timed.reps;
      const byName = new Map<string, KernelStat>();
      calls.forEach((call, i) => {
        const name = timed.names[i].length ? [...new Set(timed.names[i])].join('+') : call.op;
        const ops = 2 * costs[i].macs;
        callStats.push({
          op: call.op,
          kernel: name,
          shape: costs[i].shape,
          ms: sig(timed.ms[i]),
          ops,
          gops: sig(gops(ops, timed.ms[i])),
        });
        const k = byName.get(name) ?? { name, dispatches: 0, ms: 0, ops: 0, gops: 0 };
        k.dispatches += timed.dispatches[i];
        k.ms += timed.ms[i];
        k.ops += ops;
        byName.set(name, k);
      });
      for (const k of byName.values()) kernelMs += k.ms;
      for (const k of byName.values())
        kernels.push({ ...k, ms: sig(k.ms), gops: sig(gops(k.ops, k.ms)) });
      kernels.sort((a, b) => b.ms - a.ms);
    }
    const opsPerStep = trainingStepOps(model.plan.geometry, batch);
    const msPerStep = elapsed / steps;
    return {
      preset: preset.name,
      batch,
      steps,
      warmup,
      backend: backend.kind,
      adapter: backend.description,
      runtime: runtimeName(),
      weights: options.weights
        ? { kind: 'given', source: options.weightsSource ?? 'given' }
        : { kind: 'seeded', seed },
      coldMs: sig(t3 - t0),
      cold: { setupMs: sig(t1 - t0), recordMs: sig(t2 - t1), firstStepMs: sig(t3 - t2) },
      imagesPerSecond: sig((steps * batch * 1000) / elapsed),
      msPerStep: sig(msPerStep),
      opsPerStep,
      gopsPerSecond: sig(gops(opsPerStep, msPerStep)),
      memory: {
        bytesInUse: modelBytes,
        dataBytes,
        scratchBytes: stepScratch,
        minimumBytes: minimumBytes(preset.spec, batch),
      },
      kernelTiming: timing,
      kernelReps: timedReps,
      kernelMsPerStep: sig(kernelMs),
      kernels,
      calls: callStats,
      dispatchesPerStep:
        backend instanceof WebGPUBackend ? backend.dispatchCount(program) : calls.length,
      variants,
    };
  } finally {
    if (source) model.disposeSource(source);
    model.dispose();
  }
}
