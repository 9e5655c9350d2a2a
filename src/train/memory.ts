/**
 * Device memory of a model at a batch size: what the engine allocates, against the analytic
 * minimum of NITRO-D training, and against the adapter's limits (a model that cannot fit is
 * refused with what to shrink).
 *
 * Analytic minimum = int32 weights + int8 batch input + per block the int8 NITRO-ReLU input s
 * and output a kept for the backward pass + the int32 weight gradient of the largest layer +
 * the int32 gradient of the largest block output + int8 predictions of every head.
 */
import { type Backend, deviceBytes } from '../backend.ts';
import { Model } from '../model/model.ts';
import type { ModelSpec } from '../model/spec.ts';
import { planFromSpec } from './plan.ts';

export interface MemoryReport {
  batch: number;
  parameters: number;
  weightBytes: number;
  activationBytes: number;
  /** Bytes the engine allocates for the model and one batch. */
  allocatedBytes: number;
  minimumBytes: number;
  /** allocated / minimum, in hundredths (integer). */
  ratioPercent: number;
  /** Largest single tensor and the adapter's per-binding limit. */
  largestTensor: { label: string; bytes: number };
  bindingLimit?: number;
}

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

export function minimumBytes(spec: ModelSpec, batch: number): number {
  const plan = planFromSpec(spec);
  const B = batch;
  let bytes = 0;
  for (const p of plan.parameters) bytes += 4 * prod(p.shape);
  bytes += deviceBytes([B, ...plan.input], 'i8');
  let maxWeight = plan.output.inFeatures * plan.classes;
  let maxOut = 0;
  for (const b of plan.blocks) {
    bytes += 2 * deviceBytes([B, ...b.outShape], 'i8');
    maxWeight = Math.max(maxWeight, prod(b.weightShape), b.head.dlr * plan.classes);
    maxOut = Math.max(maxOut, prod(b.outShape));
  }
  bytes += 4 * maxWeight + 4 * B * maxOut;
  bytes += (plan.blocks.length + 1) * deviceBytes([B, plan.classes], 'i8');
  return bytes;
}

/** Allocates the model and a network for `batch` on `backend`, measures, and frees them again. */
export function memoryReport(backend: Backend, spec: ModelSpec, batch: number): MemoryReport {
  const before = backend.bytesInUse();
  const plan = planFromSpec(spec);
  const weightBytes = plan.parameters.reduce((a, p) => a + 4 * prod(p.shape), 0);
  const model = Model.create(backend, spec, { weights: new Map(plan.parameters.map((p) => [p.name, new Int32Array(prod(p.shape))])) });
  try {
    const net = model.network(batch);
    const allocatedBytes = backend.bytesInUse() - before;
    let largest = { label: '', bytes: 0 };
    for (const t of [...model.params.tensors.values(), ...net.activationTensors]) {
      const bytes = deviceBytes(t.shape, t.dtype);
      if (bytes > largest.bytes) largest = { label: t.label, bytes };
    }
    const minimum = minimumBytes(spec, batch);
    const limits = (backend as { device?: GPUDevice }).device?.limits;
    return {
      batch,
      parameters: plan.geometry.cost.parameters,
      weightBytes,
      activationBytes: allocatedBytes - weightBytes,
      allocatedBytes,
      minimumBytes: minimum,
      ratioPercent: Math.floor((allocatedBytes * 100) / minimum),
      largestTensor: largest,
      bindingLimit: limits?.maxStorageBufferBindingSize,
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
    `  largest tensor    ${r.largestTensor.label} ${mib(r.largestTensor.bytes)}${r.bindingLimit ? ` (adapter limit per binding ${mib(r.bindingLimit)})` : ''}`,
  ].join('\n');
}
