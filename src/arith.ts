/**
 * The scalar integer semantics of NITRO-D, shared by the CPU backend and the tests. Every
 * function is exact on int32 inputs: products go through Math.imul, sums are wrapped with |0,
 * and (a / b) | 0 is the truncated quotient (exact for |a|, |b| < 2^31).
 */

export const INT32_MAX = 0x7fffffff;

/** Division rounded toward zero (docs/algorithm.md §9 item 1). */
export function truncDiv(a: number, b: number): number {
  return (a / b) | 0;
}

/** Two's-complement wrap to int8 (the loss gradient's cast). */
export function wrapI8(v: number): number {
  return (v << 24) >> 24;
}

export function clip(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

/** NITRO scaling of one int32 value: clip(trunc(z / sf), -127, 127). */
export function nitroScale(z: number, sf: number): number {
  return clip((z / sf) | 0, -127, 127);
}

/** Allowed NITRO-ReLU inverse slopes and their mean corrections c(s) (docs/algorithm.md §1.3). */
export const RELU_CORRECTION: Readonly<Record<number, number>> = {
  3: 31,
  4: 36,
  5: 38,
  7: 40,
  8: 42,
  10: 43,
  15: 44,
  16: 44,
  20: 45,
};
export const ALLOWED_SLOPES = Object.keys(RELU_CORRECTION).map(Number);

export function checkSlope(s: number, where: string): void {
  if (RELU_CORRECTION[s] === undefined)
    throw new Error(
      `${where}: negative slope inverse ${s} is not one of ${ALLOWED_SLOPES.join(', ')}`,
    );
}

/** f(x) = clip(x, 0, 127) + trunc(clip(x, -127, 0) / s) - c(s). */
export function nitroRelu(x: number, s: number): number {
  const pos = x > 127 ? 127 : x > 0 ? x : 0;
  const neg = x < -127 ? -127 : x < 0 ? x : 0;
  return pos + ((neg / s) | 0) - RELU_CORRECTION[s];
}

/** Inverse slope of NITRO-ReLU at its saved input x: the backward divides by it. */
export function nitroReluInvSlope(x: number, s: number): number {
  if (x >= 127 || x < -127) return INT32_MAX;
  return x >= 0 ? 1 : s;
}

/** Dropout multipliers R(rate) of the reference, keyed by the rate in per-mille (docs/algorithm.md §1.6). */
export const DROPOUT_FACTOR: Readonly<Record<number, number>> = {
  50: 1052,
  100: 1111,
  150: 1176,
  200: 1250,
  250: 1333,
  300: 1428,
  350: 1538,
  400: 1666,
  450: 1818,
  500: 2000,
  550: 2222,
  600: 2500,
  650: 2857,
  700: 3333,
  750: 4000,
  800: 5000,
  850: 6666,
  900: 10000,
  950: 20000,
};

/** Largest rate whose scaled NITRO-ReLU outputs still fit int8 (91 * 1333 / 1000 = 121). */
export const MAX_DROPOUT_PERMILLE = 250;

export function dropoutFactor(ratePermille: number): number {
  const r = DROPOUT_FACTOR[ratePermille];
  if (r === undefined || ratePermille > MAX_DROPOUT_PERMILLE) {
    throw new Error(
      `dropout: rate ${ratePermille}‰ is not supported (one of 50, 100, 150, 200, 250‰, so outputs stay int8)`,
    );
  }
  return r;
}

/** Counter-based hash deciding which elements dropout drops; the WGSL kernel computes the same. */
export function dropoutHash(seed: number, cursor: number, index: number): number {
  let h = (seed ^ Math.imul(cursor, 0x9e3779b1) ^ Math.imul(index, 0x85ebca77)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

export function dropoutKeeps(
  seed: number,
  cursor: number,
  index: number,
  ratePermille: number,
): boolean {
  return dropoutHash(seed, cursor, index) % 1000 >= ratePermille;
}
