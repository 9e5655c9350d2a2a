/**
 * Integer input normalisation (docs/algorithm.md §2.1), host side. Statistics per channel c over the
 * first `statsSamples` training samples (in the order the caller gives, normally a seeded
 * shuffle), on x = pixel - 128:
 *   mean_c = trunc(Σx / N),  mad_c = trunc(Σ|x - mean_c| / N)   (N = samples · H · W)
 * then every image: x' = clip(trunc((x - mean_c) · 51 / mad_c), -128, 127).
 * Sums stay below 2^53 (25 000 · 1024 · 128 < 2^32), so plain numbers hold them exactly.
 */
import type { Dataset } from './dataset.ts';

/** Per-channel normalisation statistics of a training set (docs/algorithm.md §2.1). */
export interface NormStats {
  /** [C] truncated channel means. */
  mean: Int32Array;
  /** [C] truncated mean absolute deviations, at least 1. */
  mad: Int32Array;
}

export const DEFAULT_STATS_SAMPLES = 25_000;
/** Target scale: MAD ≈ σ/1.25, so 51/MAD maps σ to about 64. */
export const NORM_SCALE = 51;

/** Integer division truncating toward zero, exact for |a| < 2^53. */
export function truncDiv(a: number, b: number): number {
  // "+ 0" turns -0 (from 0 / negative) into 0.
  return (a - (a % b)) / b + 0;
}

export interface StatsOptions {
  /** Sample order (a permutation of the data set); default the stored order. */
  order?: ArrayLike<number>;
  /** How many samples of that order to use (default 25 000, capped at the data set size). */
  statsSamples?: number;
}

/** Per-channel mean and MAD of the training images, as integers (see the top of this file). */
export function computeNormStats(
  images: Int8Array,
  shape: readonly number[],
  options: StatsOptions = {},
): NormStats {
  const [channels, height, width] = shape;
  const plane = height * width;
  const sample = channels * plane;
  const total = sample === 0 ? 0 : images.length / sample;
  if (!Number.isInteger(total))
    throw new Error(
      `normalize: ${images.length} values are not whole samples of [${shape.join(', ')}]`,
    );
  const order = options.order;
  const available = order ? Math.min(order.length, total) : total;
  const samples = Math.min(options.statsSamples ?? DEFAULT_STATS_SAMPLES, available);
  if (samples <= 0) throw new Error('normalize: no samples to compute statistics from');
  const n = samples * plane;
  const mean = new Int32Array(channels);
  const mad = new Int32Array(channels);
  const sampleAt = (s: number): number => {
    const idx = order ? order[s] : s;
    if (!Number.isInteger(idx) || idx < 0 || idx >= total)
      throw new Error(`normalize: order entry ${s} = ${idx} is not a sample index below ${total}`);
    return idx * sample;
  };
  for (let c = 0; c < channels; c++) {
    let sum = 0;
    for (let s = 0; s < samples; s++) {
      const base = sampleAt(s) + c * plane;
      for (let p = 0; p < plane; p++) sum += images[base + p];
    }
    const m = truncDiv(sum, n);
    let dev = 0;
    for (let s = 0; s < samples; s++) {
      const base = sampleAt(s) + c * plane;
      for (let p = 0; p < plane; p++) {
        const d = images[base + p] - m;
        dev += d < 0 ? -d : d;
      }
    }
    mean[c] = m;
    // A constant channel has no spread; dividing by 1 keeps it finite (and at 0 after centring).
    mad[c] = Math.max(1, truncDiv(dev, n));
  }
  return { mean, mad };
}

/** The i32 [2, C] layout (means, then MADs) the backend's `normalize` op takes. */
export function normStatsTensor(stats: NormStats): Int32Array {
  const c = stats.mean.length;
  const out = new Int32Array(2 * c);
  out.set(stats.mean, 0);
  out.set(stats.mad, c);
  return out;
}

export function normStatsFromTensor(values: ArrayLike<number>): NormStats {
  const c = values.length / 2;
  const mean = new Int32Array(c);
  const mad = new Int32Array(c);
  for (let i = 0; i < c; i++) {
    mean[i] = values[i];
    mad[i] = values[c + i];
  }
  return { mean, mad };
}

/** x' = clip(trunc((x - mean_c) · 51 / mad_c), -128, 127) for every value of [N, C, H, W] images. */
export function applyNormalization(
  images: Int8Array,
  shape: readonly number[],
  stats: NormStats,
  out = new Int8Array(images.length),
): Int8Array {
  const [channels, height, width] = shape;
  const plane = height * width;
  if (stats.mean.length !== channels || stats.mad.length !== channels) {
    throw new Error(
      `normalize: statistics for ${stats.mean.length} channels, images have ${channels}`,
    );
  }
  if (out.length !== images.length)
    throw new Error(`normalize: output holds ${out.length} values, input ${images.length}`);
  // x takes only 256 values: one lookup table per channel.
  const tables: Int8Array[] = [];
  for (let c = 0; c < channels; c++) {
    const mad = Math.max(1, stats.mad[c]);
    const t = new Int8Array(256);
    for (let x = -128; x < 128; x++) {
      const v = truncDiv((x - stats.mean[c]) * NORM_SCALE, mad);
      t[x + 128] = Math.max(-128, Math.min(127, v));
    }
    tables.push(t);
  }
  const sample = channels * plane;
  for (let base = 0; base < images.length; base += sample) {
    for (let c = 0; c < channels; c++) {
      const t = tables[c];
      const off = base + c * plane;
      for (let p = 0; p < plane; p++) out[off + p] = t[images[off + p] + 128];
    }
  }
  return out;
}

/** A normalised copy of a data set. */
export function normalizeDataset(ds: Dataset, stats: NormStats): Dataset {
  return { ...ds, images: applyNormalization(ds.images, ds.shape, stats) };
}
