/**
 * Epoch plans (docs/algorithm.md §7.1): every epoch a fresh seeded permutation of the training set,
 * cut into floor(N / B) full batches (the remainder is dropped, as the reference does), and per
 * batch the augmentation parameters the backend's `gather` op applies to the whole batch.
 * All randomness comes from Rng streams derived from (seed, epoch), so a run is reproducible
 * from its seed alone and resuming at an epoch needs no saved RNG state.
 */
import { Rng } from '../rng.ts';

/** Independent Rng streams: enabling augmentation must not change the shuffle. */
export const STREAM_SHUFFLE = 1;
export const STREAM_AUGMENT = 2;
export const STREAM_STATS = 3;

/** Columns of one step's augmentation row. */
export const AUG_CROP = 0;
export const AUG_DY = 1;
export const AUG_DX = 2;
export const AUG_FLIP = 3;
export const AUG_PAD_VALUE = 4;
export const AUG_PARAMS = 5;

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/** A 32-bit seed derived from a run seed and further integers (epoch, stream, ...). */
export function mixSeed(seed: number, ...words: number[]): number {
  for (const w of [seed, ...words]) {
    if (!Number.isSafeInteger(w)) throw new Error(`mixSeed: ${w} is not an integer`);
  }
  // Fold the high half too so seeds beyond 32 bits still differ.
  let h = fmix((seed | 0) ^ 0x5bd1e995 ^ fmix((seed / 0x100000000) | 0));
  for (const w of words) h = fmix((h + Math.imul(w | 0, 0x9e3779b1) + 0x7f4a7c15) | 0);
  return h;
}

export interface EpochPlan {
  /** floor(N / B). */
  steps: number;
  batch: number;
  /** [steps · batch] sample indices; step s uses indices[s·B .. (s+1)·B). */
  indices: Int32Array;
  /** [steps, 5] augmentation parameters (see augmentPlan), when augmentation was asked for. */
  augment?: Int32Array;
}

export interface EpochPlanOptions {
  samples: number;
  batch: number;
  seed: number;
  epoch: number;
  /** Draws per-step augmentation parameters too. */
  augment?: AugmentOptions;
  /** The normalised training images (needed with `augment`, for the pad value). */
  images?: { images: Int8Array; shape: readonly number[] };
}

/** The shuffle of one epoch, and with `options.augment` its augmentation parameters. */
export function epochPlan(options: EpochPlanOptions): EpochPlan;
export function epochPlan(n: number, batch: number, seed: number, epoch: number): EpochPlan;
export function epochPlan(
  first: number | EpochPlanOptions,
  batchArg?: number,
  seedArg?: number,
  epochArg?: number,
): EpochPlan {
  const o: EpochPlanOptions =
    typeof first === 'number'
      ? { samples: first, batch: batchArg!, seed: seedArg!, epoch: epochArg! }
      : first;
  const { samples: n, batch, seed, epoch } = o;
  if (!Number.isInteger(n) || n < 0) throw new Error(`epochPlan: invalid sample count ${n}`);
  if (!Number.isInteger(batch) || batch <= 0)
    throw new Error(`epochPlan: invalid batch size ${batch}`);
  if (!Number.isSafeInteger(seed) || !Number.isSafeInteger(epoch))
    throw new Error(`epochPlan: seed ${seed} and epoch ${epoch} must be integers`);
  const steps = (n / batch) | 0;
  const perm = new Rng(mixSeed(seed, epoch, STREAM_SHUFFLE)).permutation(n);
  const plan: EpochPlan = { steps, batch, indices: perm.slice(0, steps * batch) };
  if (o.augment) {
    if (!o.images)
      throw new Error('epochPlan: augmentation needs the training images (for the pad value)');
    plan.augment = augmentPlan(o.images.images, o.images.shape, plan, seed, epoch, o.augment);
  }
  return plan;
}

/** The seeded order whose first samples give the normalisation statistics. */
export function statsOrder(n: number, seed: number): Int32Array {
  return new Rng(mixSeed(seed, STREAM_STATS)).permutation(n);
}

export interface AugmentOptions {
  /** Crop padding (0 = no random crop). */
  pad: number;
  /** Random horizontal flip. */
  flip: boolean;
}

/** The published protocol: MNIST crop pad 2; Fashion-MNIST crop pad 2 + flip; CIFAR-10 crop pad 4 + flip. */
export const PAPER_AUGMENTATION: Readonly<
  Record<'mnist' | 'fashion-mnist' | 'cifar10', AugmentOptions>
> = {
  mnist: { pad: 2, flip: false },
  'fashion-mnist': { pad: 2, flip: true },
  cifar10: { pad: 4, flip: true },
};

function sampleLength(shape: readonly number[]): number {
  if (shape.length !== 3)
    throw new Error(`augmentation: sample shape [${shape.join(', ')}] is not [C, H, W]`);
  return shape[0] * shape[1] * shape[2];
}

/**
 * Per-step augmentation parameters, Int32Array [steps, 5] = (crop, dy, dx, flip, padValue).
 * Draws per step, in this order: crop with probability 1/2 (only when pad > 0), and if cropping
 * dy then dx uniform in [0, 2·pad]; then flip with probability 1/2 (only when enabled).
 * padValue is the minimum of the batch's (normalised) images when cropping, else 0; without a
 * crop dy = dx = pad, which is the identity crop.
 */
export function augmentPlan(
  images: Int8Array,
  shape: readonly number[],
  plan: EpochPlan,
  seed: number,
  epoch: number,
  options: AugmentOptions,
): Int32Array {
  const sample = sampleLength(shape);
  const { pad, flip } = options;
  if (!Number.isInteger(pad) || pad < 0) throw new Error(`augmentation: invalid pad ${pad}`);
  const rng = new Rng(mixSeed(seed, epoch, STREAM_AUGMENT));
  const out = new Int32Array(plan.steps * AUG_PARAMS);
  for (let s = 0; s < plan.steps; s++) {
    const row = s * AUG_PARAMS;
    const crop = pad > 0 ? rng.below(2) : 0;
    let dy = pad;
    let dx = pad;
    let padValue = 0;
    if (crop) {
      dy = rng.below(2 * pad + 1);
      dx = rng.below(2 * pad + 1);
      padValue = 127;
      for (let b = 0; b < plan.batch && padValue > -128; b++) {
        const base = plan.indices[s * plan.batch + b] * sample;
        for (let i = 0; i < sample; i++)
          if (images[base + i] < padValue) padValue = images[base + i];
      }
    }
    out[row + AUG_CROP] = crop;
    out[row + AUG_DY] = dy;
    out[row + AUG_DX] = dx;
    out[row + AUG_FLIP] = flip ? rng.below(2) : 0;
    out[row + AUG_PAD_VALUE] = padValue;
  }
  return out;
}

/**
 * Applies one step's parameters (crop, dy, dx, flip, padValue) to every sample of a batch
 * x [B, C, H, W] (the CPU twin of `gather` with augmentation). The image is padded by `pad` on
 * every side with padValue, cropped back to H×W at offset (dy, dx), then mirrored left-right:
 *   out[b,c,i,j] = src(b, c, i + dy - pad, j' + dx - pad),  j' = flip ? W-1-j : j,
 * where src outside the image is padValue. Without crop, dy = dx = pad whatever the row says.
 */
export function applyAugmentation(
  x: Int8Array,
  shape: readonly number[],
  params: ArrayLike<number>,
  pad: number,
  out = new Int8Array(x.length),
): Int8Array {
  const sample = sampleLength(shape);
  const [channels, height, width] = shape;
  const crop = params[AUG_CROP] !== 0;
  const flip = params[AUG_FLIP] !== 0;
  const dy = crop ? params[AUG_DY] : pad;
  const dx = crop ? params[AUG_DX] : pad;
  const padValue = params[AUG_PAD_VALUE];
  if (crop && (dy < 0 || dy > 2 * pad || dx < 0 || dx > 2 * pad)) {
    throw new Error(`augmentation: crop offsets (${dy}, ${dx}) outside [0, ${2 * pad}]`);
  }
  if (out.length !== x.length || x.length % sample !== 0)
    throw new Error('augmentation: batch and output sizes differ or are not whole samples');
  const oy = dy - pad;
  const ox = dx - pad;
  for (let base = 0; base < x.length; base += sample) {
    for (let c = 0; c < channels; c++) {
      const plane = base + c * height * width;
      for (let i = 0; i < height; i++) {
        const y = i + oy;
        const rowOk = y >= 0 && y < height;
        for (let j = 0; j < width; j++) {
          const xx = (flip ? width - 1 - j : j) + ox;
          out[plane + i * width + j] =
            rowOk && xx >= 0 && xx < width ? x[plane + y * width + xx] : padValue;
        }
      }
    }
  }
  return out;
}

/**
 * Batch `step` of a plan: x [B, C, H, W] and y [B], augmented when `augment` is given
 * (the CPU twin of the `gather` op).
 */
export function gatherBatch(
  images: Int8Array,
  labels: Int32Array,
  shape: readonly number[],
  plan: EpochPlan,
  step: number,
  augment?: { params: Int32Array; pad: number },
): { x: Int8Array; y: Int32Array } {
  const sample = sampleLength(shape);
  if (!Number.isInteger(step) || step < 0 || step >= plan.steps)
    throw new Error(`gatherBatch: step ${step} outside [0, ${plan.steps})`);
  const x = new Int8Array(plan.batch * sample);
  const y = new Int32Array(plan.batch);
  for (let b = 0; b < plan.batch; b++) {
    const idx = plan.indices[step * plan.batch + b];
    x.set(images.subarray(idx * sample, (idx + 1) * sample), b * sample);
    y[b] = labels[idx];
  }
  if (!augment) return { x, y };
  const row = augment.params.subarray(step * AUG_PARAMS, (step + 1) * AUG_PARAMS);
  return { x: applyAugmentation(x, shape, row, augment.pad), y };
}
