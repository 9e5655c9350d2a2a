/**
 * Device memory of a model at a batch size: what the engine allocates, against the analytic
 * minimum of NITRO-D training, and against the adapter's limits (a model that cannot fit is
 * refused with what to shrink).
 *
 * Analytic minimum = int32 weights + int8 batch input + per block the int8 NITRO-ReLU input s
 * and output a kept for the backward pass + the int32 gradient of the largest block output +
 * int8 predictions of every head. No weight gradient: IntegerSGD is fused into the gradient
 * reduction, so a weight gradient is never stored.
 *
 * The kernels' device scratch (weight limbs, repacked inputs, raw sums, sparse delta lists) comes
 * on top; the plan reports it separately (`plannedScratch`).
 *
 * Against an adapter, each tensor is one buffer (maxBufferSize) and each binding at most
 * maxStorageBufferBindingSize: ops over larger batch tensors run in chunks of the batch
 * (src/ops/chunked.ts), which the plan lists (`planSplits`) and sizes the scratch for.
 */
import { type Backend, deviceBytes } from '../backend.ts';
import { createGpuOps } from '../ops/gpu.ts';
import type { GemmVariants } from '../kernels/gemm-tiles.ts';
import { type BindingLimits, planningContext } from '../kernels/planning.ts';
import { BindingLimitError, type SplitPlan, splitKey } from '../ops/chunked.ts';
import { Model } from '../model/model.ts';
import { isConv, type ModelSpec } from '../model/spec.ts';
import { allocateParameters, Network } from '../model/network.ts';
import { type NetworkPlan, planFromSpec } from '../model/plan.ts';
import { type Allocation, ShapeBackend } from './shape-backend.ts';

export interface MemoryReport {
  batch: number;
  parameters: number;
  weightBytes: number;
  activationBytes: number;
  /** Bytes the engine allocates for the model and one batch. */
  allocatedBytes: number;
  minimumBytes: number;
  /** The WebGPU kernels' device scratch on top (weight limbs, repacked inputs, raw sums, sparse delta lists); 0 on the CPU backend. */
  scratchBytes: number;
  /** (allocated + scratch) / minimum, in hundredths (integer). */
  withScratchPercent: number;
  /** allocated / minimum, in hundredths (integer). */
  ratioPercent: number;
  /** Largest single tensor and the adapter's per-binding limit. */
  largestTensor: { label: string; bytes: number };
  bindingLimit?: number;
  /**
   * Ops of a training step that run in chunks of the batch because a binding would exceed
   * bindingLimit whole (WebGPU; none on the CPU backend). The largest binding of each is
   * `bindingBytes`, within the limit.
   */
  splits: SplitPlan[];
}

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const sum = (values: Iterable<number>) => [...values].reduce((a, b) => a + b, 0);

export function minimumBytes(spec: ModelSpec, batch: number): number {
  const plan = planFromSpec(spec);
  const B = batch;
  let bytes = 0;
  for (const p of plan.parameters) bytes += 4 * prod(p.shape);
  bytes += deviceBytes([B, ...plan.input], 'i8');
  let maxOut = 0;
  for (const b of plan.blocks) {
    bytes += 2 * deviceBytes([B, ...b.outShape], 'i8');
    maxOut = Math.max(maxOut, prod(b.outShape));
  }
  bytes += 4 * B * maxOut;
  bytes += (plan.blocks.length + 1) * deviceBytes([B, plan.classes], 'i8');
  return bytes;
}

/** Allocates the model and a network for `batch` on `backend`, measures, and frees them again. */
export function memoryReport(backend: Backend, spec: ModelSpec, batch: number): MemoryReport {
  const before = backend.bytesInUse();
  const plan = planFromSpec(spec);
  const weightBytes = plan.parameters.reduce((a, p) => a + 4 * prod(p.shape), 0);
  const model = Model.create(backend, spec, {
    weights: new Map(plan.parameters.map((p) => [p.name, new Int32Array(prod(p.shape))])),
  });
  try {
    const net = model.network(batch);
    const allocatedBytes = backend.bytesInUse() - before;
    let largest = { label: '', bytes: 0 };
    for (const t of [...model.params.tensors.values(), ...net.activationTensors]) {
      const bytes = deviceBytes(t.shape, t.dtype);
      if (bytes > largest.bytes) largest = { label: t.label, bytes };
    }
    const minimum = minimumBytes(spec, batch);
    const variants = (backend as { variants?: GemmVariants }).variants;
    const limits = (backend as { limits?: GPUSupportedLimits }).limits;
    const gpu = backend.kind === 'webgpu';
    const scratchBytes = gpu ? sum(plannedScratch(spec, batch, variants, limits).values()) : 0;
    const splits = gpu && limits ? planSplits(spec, batch, limits, variants) : [];
    return {
      batch,
      parameters: plan.geometry.cost.parameters,
      weightBytes,
      activationBytes: allocatedBytes - weightBytes,
      allocatedBytes,
      minimumBytes: minimum,
      ratioPercent: Math.floor((allocatedBytes * 100) / minimum),
      scratchBytes,
      withScratchPercent: Math.floor(((allocatedBytes + scratchBytes) * 100) / minimum),
      largestTensor: largest,
      bindingLimit: limits?.maxStorageBufferBindingSize,
      splits,
    };
  } finally {
    model.dispose();
  }
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(2)} MiB`;
}

export function formatMemoryReport(r: MemoryReport): string {
  return [
    `memory at batch ${r.batch}:`,
    `  parameters        ${r.parameters} (${mib(r.weightBytes)} as int32)`,
    `  activations etc.  ${mib(r.activationBytes)} (int8 packed four to a word, int32 only for gradients)`,
    `  allocated         ${mib(r.allocatedBytes)}`,
    `  analytic minimum  ${mib(r.minimumBytes)}  (allocated = ${(r.ratioPercent / 100).toFixed(2)}x minimum)`,
    ...(r.scratchBytes
      ? [
          `  kernel scratch    ${mib(r.scratchBytes)} (weight limbs, repacked inputs, raw sums, sparse delta lists; with it ${(r.withScratchPercent / 100).toFixed(2)}x minimum)`,
        ]
      : []),
    `  largest tensor    ${r.largestTensor.label} ${mib(r.largestTensor.bytes)}${r.bindingLimit ? ` (adapter limit per binding ${mib(r.bindingLimit)})` : ''}`,
    ...formatSplits(r.splits),
  ].join('\n');
}

/** The ops that run in chunks, one line each ("split bindings: none" when no op is split on WebGPU). */
export function formatSplits(splits: readonly SplitPlan[]): string[] {
  if (splits.length === 0) return [];
  return [
    `  split bindings    ${splits.length} ops run in chunks of the batch (one buffer per tensor, windows bound):`,
    ...splits.map(
      (s) =>
        `    ${s.op}${s.weight ? ` (${s.weight})` : ''}: ${s.what} ${mib(s.bytes)} -> ${s.chunks} chunks of ${s.rows} of ${s.batch} rows, largest binding ${mib(s.bindingBytes)}`,
    ),
  ];
}

/** One device tensor the engine allocates for a model and a batch. */
export type PlannedTensor = Allocation;

/**
 * Every device tensor a model (its parameters) and one network at `batch` (activations and
 * gradient scratch) allocate, in allocation order, computed without allocating anything: the
 * real allocation code runs against a backend that only records what it is asked for.
 */
export function plannedTensors(spec: ModelSpec, batch: number): PlannedTensor[] {
  const plan = planFromSpec(spec);
  const shapes = new ShapeBackend();
  new Network(shapes, plan, allocateParameters(shapes, plan), batch);
  return shapes.allocations;
}

/**
 * The WebGPU kernels' device scratch for training `spec` at `batch` (bytes per scratch role:
 * weight limbs, repacked conv inputs, raw sums), computed without a device: a training step is
 * traced through the real kernel wrappers with the kernel variants `variants` chooses (a
 * backend's, with its tuned choices; default: the defaults), against a context that only sizes
 * buffers.
 */
export function plannedScratch(
  spec: ModelSpec,
  batch: number,
  variants?: GemmVariants,
  bindings?: BindingLimits,
): Map<string, number> {
  return traceStep(spec, batch, variants, bindings).scratch;
}

/**
 * The ops of a training step at `batch` that run in chunks under the binding limits `bindings`
 * (an adapter's), how, and the largest binding of each; computed without a device, by the same
 * code that splits them on one. Throws BindingLimitError when an op cannot be split to fit.
 */
export function planSplits(
  spec: ModelSpec,
  batch: number,
  bindings: BindingLimits,
  variants?: GemmVariants,
): SplitPlan[] {
  return traceStep(spec, batch, variants, bindings).splits;
}

/** A training step traced through the WebGPU kernel wrappers against a sizing context. */
function traceStep(
  spec: ModelSpec,
  batch: number,
  variants?: GemmVariants,
  bindings?: BindingLimits,
): { scratch: Map<string, number>; splits: SplitPlan[] } {
  const plan = planFromSpec(spec);
  const ctx = planningContext(variants, bindings);
  const splits = new Map<string, SplitPlan>();
  const ops = createGpuOps(ctx, {
    onSplit: (s) => splits.set(splitKey(s), s),
  });
  const shapes = new ShapeBackend(ops);
  new Network(shapes, plan, allocateParameters(shapes, plan), batch).recordTrainOnBatch();
  return { scratch: ctx.scratch.roles(), splits: [...splits.values()] };
}

/**
 * The adapter limits the plan must respect: each tensor is one buffer (maxBufferSize); each
 * binding of a dispatch at most maxStorageBufferBindingSize (larger tensors are bound in
 * windows at offsets aligned to minStorageBufferOffsetAlignment, default 256).
 */
export interface BufferLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  minStorageBufferOffsetAlignment?: number;
}

/** A model or batch too large for the adapter; the message says what to shrink. */
export class MemoryFitError extends Error {
  override name = 'MemoryFitError';
}

/** The spec field that sizes a tensor of the plan (what to shrink when it is too large). */
function fieldOf(label: string, spec: ModelSpec, plan: NetworkPlan): string {
  const m = /^blocks\.(\d+)\./.exec(label);
  const blockField = (index: number): string => {
    const b = plan.blocks[index];
    if (b.kind === 'conv') {
      let seen = -1;
      const j = spec.features.findIndex((f) => isConv(f) && ++seen === index);
      return `features[${j}] (conv ${b.outShape[0]} filters of ${b.kernel}x${b.kernel} on ${b.inShape.join('x')})`;
    }
    const j = index - plan.geometry.convBlocks;
    return `hidden[${j}] (${b.outFeatures} wide, ${b.inFeatures} inputs)`;
  };
  if (m) {
    const index = Number(m[1]);
    const head =
      label.includes('.head.') && plan.blocks[index].kind === 'conv'
        ? ` or headDim (${spec.headDim})`
        : '';
    return `${blockField(index)}${head}`;
  }
  const last = plan.blocks.length - 1;
  if (label.startsWith('output.')) return `the last block, ${blockField(last)}`;
  // Gradient scratch is shared by all blocks and sized for the largest one.
  const size = (shape: readonly number[]) => shape.reduce((x, y) => x * y, 1);
  const largest = (f: (b: NetworkPlan['blocks'][number]) => number): number =>
    plan.blocks.reduce((best, b) => (f(b) > f(plan.blocks[best]) ? b.index : best), 0);
  if (label === 'scratch.delta') return blockField(largest((b) => size(b.outShape)));
  return `the input [${plan.input.join(', ')}]`;
}

function mibText(bytes: number): string {
  return `${(bytes / 1048576).toFixed(2)} MiB`;
}

/**
 * Refuses a model and batch that do not fit the adapter: every tensor is one buffer, so each
 * must stay within maxBufferSize; every binding of a dispatch within maxStorageBufferBindingSize,
 * which ops over larger batch tensors meet by running in chunks of the batch (planSplits), so
 * what is refused here is a tensor bound whole (weights), an op that cannot be split, or kernel
 * scratch that does not fit even for one chunk. When only the batch makes it too large, the
 * message gives the largest batch that fits; otherwise it names the layer of the spec to shrink.
 */
export function checkFits(spec: ModelSpec, batch: number, limits: BufferLimits): void {
  const binding = limits.maxStorageBufferBindingSize;
  const buffer = limits.maxBufferSize;
  const perBuffer = `more than the adapter's ${mibText(buffer)} per buffer (maxBufferSize)`;
  const perBinding = `more than the adapter's ${mibText(binding)} per binding (maxStorageBufferBindingSize)`;
  // Tensors first (they name the spec field to shrink), then the bindings of the step's ops.
  type Over = { what: string; bytes: number; limit: string; label?: string };
  const over = (b: number): Over | undefined => {
    const t = plannedTensors(spec, b).find((x) => x.bytes > buffer);
    if (t)
      return {
        what: `tensor ${t.label} [${t.shape.join(', ')}]`,
        bytes: t.bytes,
        limit: perBuffer,
        label: t.label,
      };
    let scratch: Map<string, number>;
    try {
      scratch = traceStep(spec, b, undefined, limits).scratch;
    } catch (e) {
      if (!(e instanceof BindingLimitError)) throw e;
      const tensor = e.shape !== undefined;
      return {
        what: tensor ? `tensor ${e.what} [${e.shape!.join(', ')}]` : e.what,
        bytes: e.bytes,
        limit: e.why.startsWith('is bound whole')
          ? `${perBinding}, and ${e.op} binds it whole`
          : `${perBinding} in ${e.op} (${e.why})`,
        label: tensor ? e.what : undefined,
      };
    }
    const role = [...scratch].find(([, bytes]) => bytes > binding);
    return role && { what: `kernel scratch ${role[0]}`, bytes: role[1], limit: perBinding };
  };
  const first = over(batch);
  if (!first) return;
  const plan = planFromSpec(spec);
  // Kernel scratch is sized by the largest layer (weight limbs) or its output (inputs, sums).
  const shrink = (label?: string) => (label ? fieldOf(label, spec, plan) : 'the largest layer');
  const head = `${first.what} needs ${mibText(first.bytes)} at batch ${batch}, ${first.limit}`;
  const atOne = over(1);
  if (atOne) {
    throw new MemoryFitError(
      `model does not fit the adapter even at batch 1: ${atOne.what} needs ${mibText(atOne.bytes)}, ${atOne.limit}; shrink ${shrink(atOne.label)}`,
    );
  }
  let lo = 1;
  let hi = batch - 1;
  while (lo < hi) {
    const mid = lo + Math.ceil((hi - lo) / 2);
    if (over(mid)) hi = mid - 1;
    else lo = mid;
  }
  throw new MemoryFitError(
    `batch ${batch} does not fit the adapter: ${head}; use a batch of at most ${lo} (--batch ${lo}) or shrink ${shrink(first.label)}`,
  );
}
