/**
 * Integer Kaiming-uniform initialisation (docs/algorithm.md §6), seeded and identical in every
 * runtime: bounds come from integer arithmetic only and values from `Rng`.
 */
import { Rng } from '../rng.ts';
import { modelGeometry } from './geometry.ts';
import type { ModelSpec, SlopeInv } from './spec.ts';

/** 1000 · √(2 / (1 + 1/s²)) per NITRO-ReLU inverse slope s, rounded as the reference tabulates it. */
export const KAIMING_GAINS: Readonly<Record<SlopeInv, number>> = {
  3: 1342,
  4: 1372,
  5: 1387,
  7: 1400,
  8: 1403,
  10: 1407,
  15: 1411,
  16: 1411,
  20: 1412,
};

/** Bounds larger than this are capped: weights start small next to int8 activations. */
export const MAX_INIT_BOUND = 64;

/** ⌊√n⌋ for a non-negative safe integer, by integer Newton iteration. */
export function isqrt(n: number): number {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new Error(`isqrt: expected a non-negative safe integer, got ${n}`);
  if (n < 2) return n;
  let x = n;
  let y = div(x + 1, 2);
  while (y < x) {
    x = y;
    y = div(x + div(n, x), 2);
  }
  return x;
}

/**
 * Weights start uniform in [−bound, bound] with
 * bound = min(64, ⌊gain · 128 · 1732 / (isqrt(fanIn) · 10^6)⌋)
 * (128: the int8 activation scale; 1732/1000 ≈ √3, the uniform distribution's factor).
 */
export function initBound(fanIn: number, slopeInv: SlopeInv = 4): number {
  if (!Number.isSafeInteger(fanIn) || fanIn < 1)
    throw new Error(`initBound: fan-in must be a positive integer, got ${fanIn}`);
  const gain = KAIMING_GAINS[slopeInv];
  if (gain === undefined) throw new Error(`initBound: no gain for negativeSlopeInv ${slopeInv}`);
  return Math.min(MAX_INIT_BOUND, div(gain * 128 * 1732, isqrt(fanIn) * 1_000_000));
}

/**
 * Seeded initial weights for every checkpoint tensor (biases included when the spec has them),
 * drawn from one `Rng(seed)` stream in checkpoint order, element by element in C-order. In
 * compat "reference" the gain is that of s = 4 whatever the spec's slope, as the reference's
 * initialiser hard-codes it.
 */
export function initWeights(spec: ModelSpec, seed = 42): Map<string, Int32Array> {
  const slope: SlopeInv = spec.compat === 'reference' ? 4 : spec.negativeSlopeInv;
  const rng = new Rng(seed);
  const weights = new Map<string, Int32Array>();
  for (const p of modelGeometry(spec).parameters) {
    const bound = initBound(p.fanIn, slope);
    const values = new Int32Array(p.size);
    for (let i = 0; i < values.length; i++) values[i] = rng.int(-bound, bound);
    weights.set(p.name, values);
  }
  return weights;
}

/** Integer division of non-negative integers below 2^53 (the double quotient truncates exactly). */
function div(a: number, b: number): number {
  return Math.trunc(a / b);
}
