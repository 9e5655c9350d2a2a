/**
 * What a backend can hold, and the check that refuses a model and batch whose memory plan does
 * not fit, before anything is allocated: the plan comes from shapes alone (plannedTensors runs
 * the real allocation code against a backend that only records sizes).
 *
 * The CPU backend keeps tensors in host memory and copies the operands of each op (for the
 * whole batch, widened to int32, with their results) into its WebAssembly memory, which wasm32
 * caps at 4 GiB. It holds a plan when
 * - the workspace of the largest op of a training step fits 4 GiB: estimated as twice its
 *   tensors at 4 bytes an element (results/reliability.md compares it with the workspace the
 *   ops take);
 * - the plan's tensors and that workspace together fit the host share: a given limit
 *   (--memory-limit), else three quarters of the free RAM the caller reports.
 * WebGPU tensors are checked per buffer, and the bindings of a step's ops (split over chunks
 * of the batch where a tensor exceeds one) per binding, against the adapter (checkFits and
 * planSplits in memory.ts); a limit given there bounds the total too.
 */
import { deviceBytes } from '../backend.ts';
import type { ModelSpec } from '../model/spec.ts';
import { MemoryFitError, plannedTensors } from './memory.ts';
import { allocateParameters, Network } from '../model/network.ts';
import { planFromSpec } from '../model/plan.ts';
import { ShapeBackend } from './shape-backend.ts';

/** wasm32 addresses at most 2^32 bytes of linear memory. */
export const WASM_MEMORY_BYTES = 2 ** 32;
/** CPU workspace of an op, per byte of its tensors widened to int32 (see the top of this file). */
const WORKSPACE_FACTOR = 2;

/** What a backend can hold: the bytes a memory plan may take on it, and where the bound comes from. */
export interface Capacity {
  /** Bytes the plan's tensors may take in all. */
  bytes: number;
  /** Where `bytes` comes from, for messages ("--memory-limit 2.00 GiB"). */
  source: string;
  /** Bytes one product's operands and result may take (the CPU backend's WebAssembly memory). */
  operandBytes?: number;
  /** Name of the backend in messages. */
  backend: string;
}

export interface CapacityOptions {
  /** --memory-limit in bytes. */
  limitBytes?: number;
  /** Free host RAM in bytes (os.freemem() in Node); without it and a limit, only wasm32 bounds. */
  freeBytes?: number;
}

/** Bytes as GiB, MiB or KiB (two decimals), or plain bytes below 1 KiB. */
export function gib(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(2)} MiB`;
  if (bytes >= 2 ** 10) return `${(bytes / 2 ** 10).toFixed(2)} KiB`;
  return `${bytes} bytes`;
}

/** What the CPU backend can hold on this machine (see the top of this file). */
export function cpuCapacity(options: CapacityOptions = {}): Capacity {
  const share = options.freeBytes === undefined ? Infinity : Math.floor(options.freeBytes * 0.75);
  const limit = options.limitBytes ?? Infinity;
  const bytes = Math.min(limit, share);
  const source =
    bytes === limit
      ? `--memory-limit ${gib(limit)}`
      : `3/4 of the ${gib(options.freeBytes ?? 0)} of free RAM; --memory-limit lowers it`;
  return { bytes, source, operandBytes: WASM_MEMORY_BYTES, backend: 'the CPU backend' };
}

/** WebGPU: only a given limit bounds the total (the adapter's per-buffer limits are checkFits'). */
export function webgpuCapacity(options: CapacityOptions = {}): Capacity {
  const bytes = options.limitBytes ?? Infinity;
  return { bytes, source: `--memory-limit ${gib(bytes)}`, backend: 'WebGPU' };
}

export interface PlanSize {
  /** Bytes of every tensor: the parameters once, a network per batch size, extra bytes. */
  total: number;
  /** The op of a training step whose tensors, at 4 bytes an element, take the most. */
  largestOp: { op: string; bytes: number };
}

/**
 * The plan of training (or evaluating) `spec` with one network per entry of `batches` (training
 * and evaluation batches coexist), plus `extraBytes` (a data set on the device).
 */
export function planSize(spec: ModelSpec, batches: readonly number[], extraBytes = 0): PlanSize {
  let total = extraBytes;
  batches.forEach((b, i) => {
    for (const t of plannedTensors(spec, b)) {
      // The parameters (allocated first, labelled by checkpoint name) are shared by all networks.
      if (i > 0 && isParameter(t.label)) continue;
      total += t.bytes;
    }
  });
  return { total, largestOp: largestOp(spec, Math.max(...batches)) };
}

/** The op of one training step at `batch` whose tensors, widened to int32, take the most. */
export function largestOp(spec: ModelSpec, batch: number): { op: string; bytes: number } {
  const plan = planFromSpec(spec);
  const shapes = new ShapeBackend();
  new Network(shapes, plan, allocateParameters(shapes, plan), batch).recordTrainOnBatch();
  let best = { op: '', bytes: 0 };
  for (const call of shapes.calls) {
    let bytes = 0;
    for (const v of Object.values(call.params as Record<string, unknown>)) {
      const t = v as { size?: unknown; shape?: unknown } | null;
      if (t && typeof t.size === 'number' && Array.isArray(t.shape)) bytes += 4 * t.size;
    }
    if (bytes > best.bytes) best = { op: call.op, bytes };
  }
  return best;
}

function isParameter(label: string): boolean {
  return /\.(weight|bias)$/.test(label);
}

function over(size: PlanSize, cap: Capacity): string | undefined {
  const workspace = cap.operandBytes === undefined ? 0 : WORKSPACE_FACTOR * size.largestOp.bytes;
  const op = size.largestOp.op;
  if (cap.operandBytes !== undefined && workspace > cap.operandBytes)
    return `its op ${op} needs about ${gib(workspace)} of WebAssembly memory for the batch, more than the ${gib(cap.operandBytes)} ${cap.backend} can address`;
  const total = size.total + workspace;
  if (total > cap.bytes)
    return `the plan needs ${gib(total)}${workspace ? ` (tensors ${gib(size.total)}, workspace of ${op} ${gib(workspace)})` : ''}, more than the ${gib(cap.bytes)} ${cap.backend} can hold (${cap.source})`;
  return undefined;
}

export interface PlanCheck {
  /** Batch size of evaluation, whose network coexists with the training one. */
  evalBatch?: number;
  /** Bytes on top of the model (a data set uploaded to the device), or them at a batch size. */
  extraBytes?: number | ((batch: number) => number);
}

/**
 * Why training `spec` at `batch` does not fit `cap`, with the largest batch that does, or
 * undefined when it fits. Nothing is allocated.
 */
export function planProblem(
  spec: ModelSpec,
  batch: number,
  cap: Capacity,
  check: PlanCheck = {},
): string | undefined {
  const extra = check.extraBytes;
  const size = (b: number) =>
    planSize(
      spec,
      check.evalBatch ? [b, check.evalBatch] : [b],
      typeof extra === 'function' ? extra(b) : extra,
    );
  const first = over(size(batch), cap);
  if (!first) return undefined;
  if (batch <= 1 || over(size(1), cap))
    return `model does not fit ${cap.backend} even at batch 1: ${over(size(1), cap) ?? first}`;
  let lo = 1;
  let hi = batch - 1;
  while (lo < hi) {
    const mid = lo + Math.ceil((hi - lo) / 2);
    if (over(size(mid), cap)) hi = mid - 1;
    else lo = mid;
  }
  return `batch ${batch} does not fit ${cap.backend}: ${first}; use a batch of at most ${lo} (--batch ${lo})`;
}

/** Throws MemoryFitError when the plan does not fit (see planProblem). */
export function checkCapacity(
  spec: ModelSpec,
  batch: number,
  cap: Capacity,
  check: PlanCheck = {},
): void {
  const problem = planProblem(spec, batch, cap, check);
  if (problem) throw new MemoryFitError(problem);
}

/** Bytes of a data set of `count` samples of `shape` on the device (int8, packed). */
export function datasetBytes(count: number, shape: readonly number[]): number {
  return deviceBytes([count, ...shape], 'i8') + 4 * count;
}
