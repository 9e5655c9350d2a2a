/**
 * Batch gathering (with the per-batch augmentation of docs/algorithm.md §7.1), input
 * normalisation (§2.1) and training dropout (§1.6) on the CPU.
 */
import { dropoutKeeps } from '../../arith.ts';
import { rowsOf } from '../../backend.ts';
import { i32, i8 } from '../../cpu/tensor.ts';
import { AUG_PARAMS, applyAugmentation } from '../../data/batches.ts';
import {
  type DropoutParams,
  dropoutMultiplier,
  type GatherParams,
  type NormalizeParams,
} from './contract.ts';

export function gather(p: GatherParams): void {
  const op = 'gather';
  const B = p.outLabels.size;
  const N = p.data.shape[0];
  const sampleShape = p.data.shape.slice(1);
  const data = i8(p.data, op);
  const labels = i32(p.labels, op);
  const indices = i32(p.indices, op);
  const out = i8(p.out, op);
  const outLabels = i32(p.outLabels, op);
  const step = i32(p.cursor, op)[0];
  const sample = out.length / B;
  for (let b = 0; b < B; b++) {
    const at = step * B + b;
    if (at >= indices.length)
      throw new Error(
        `${op}: step ${step} reads index ${at} past the ${indices.length} indices of ${p.indices.label}`,
      );
    const idx = indices[at];
    if (idx < 0 || idx >= N) throw new Error(`${op}: sample index ${idx} outside [0, ${N})`);
    out.set(data.subarray(idx * sample, (idx + 1) * sample), b * sample);
    outLabels[b] = labels[idx];
  }
  if (p.augment) {
    const params = i32(p.augment.params, op).subarray(step * AUG_PARAMS, (step + 1) * AUG_PARAMS);
    applyAugmentation(
      out.slice(),
      sampleShape,
      params,
      p.augment.pad,
      out as Int8Array<ArrayBuffer>,
    );
  }
}

export function normalize(p: NormalizeParams): void {
  const op = 'normalize';
  // Channels come from the stats, so flattened [N, C*H*W] rows work as on the GPU.
  const C = p.stats.shape[1];
  const N = p.x.shape[0];
  const x = i8(p.x, op);
  const out = i8(p.out, op);
  const stats = i32(p.stats, op);
  const plane = p.x.size / (N * C);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const mean = stats[c];
      const mad = stats[C + c];
      if (mad <= 0) throw new Error(`${op}: MAD of channel ${c} must be positive, got ${mad}`);
      const o = (n * C + c) * plane;
      for (let i = o; i < o + plane; i++) {
        const v = (((x[i] - mean) * 51) / mad) | 0;
        out[i] = Math.max(-128, Math.min(127, v));
      }
    }
  }
}

export function dropout(p: DropoutParams): void {
  const op = 'dropout';
  const R = dropoutMultiplier(p.ratePermille);
  const x = i8(p.x, op);
  const out = i8(p.out, op);
  const step = i32(p.cursor, op)[0];
  // Element indices of the global batch (a shard starts rowOffset rows in); u32 like the GPU's.
  const base = Math.imul(p.rowOffset ?? 0, rowsOf(p.x.shape).rowLength);
  for (let i = 0; i < x.length; i++) {
    const keep = dropoutKeeps(p.seed, step, (base + i) >>> 0, p.ratePermille);
    out[i] = keep ? ((x[i] * R) / 1000) | 0 : 0;
  }
}
