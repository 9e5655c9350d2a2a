/** Batch gathering (with the per-batch augmentation of docs/algorithm.md §7.1) on the CPU. */
import type { Ops } from '../backend.ts';
import { AUG_PARAMS, applyAugmentation } from '../data/batches.ts';
import { expectShape, i32, i8 } from './tensor.ts';

export const gather: Ops['gather'] = (p) => {
  const op = 'gather';
  const [B, ...sampleShape] = p.out.shape;
  const [N] = p.data.shape;
  expectShape(op, p.data, [N, ...sampleShape]);
  expectShape(op, p.labels, [N]);
  expectShape(op, p.outLabels, [B]);
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
};
