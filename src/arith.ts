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
