/**
 * The cross-worker sum: int32 gradients add with wrapping (exact, so the order the workers'
 * shards arrive in does not matter) and metric words add as [count, 64-bit loss low, high].
 */
import { METRIC_WORDS } from '../model/network.ts';

/** into[i] = wrap_i32(into[i] + add[i]). */
export function addInt32(into: Int32Array, add: Int32Array): void {
  if (add.length !== into.length)
    throw new Error(`reduce: ${add.length} values added to ${into.length}`);
  for (let i = 0; i < into.length; i++) into[i] = (into[i] + add[i]) | 0;
}

/** into[i] = wrap_i32(sum of parts[j][i]), in one pass (every part as long as `into`). */
export function sumInt32(into: Int32Array, parts: readonly Int32Array[]): void {
  for (const a of parts)
    if (a.length !== into.length)
      throw new Error(`reduce: ${a.length} values summed into ${into.length}`);
  const n = into.length;
  if (parts.length === 0) into.fill(0);
  else if (parts.length === 1) into.set(parts[0]);
  else if (parts.length === 2) {
    const [a, b] = parts;
    for (let i = 0; i < n; i++) into[i] = (a[i] + b[i]) | 0;
  } else {
    into.set(parts[0]);
    for (let j = 1; j < parts.length; j++) addInt32(into, parts[j]);
  }
}

/**
 * Adds metric words slot by slot: the count wraps like the device's, the loss is a 64-bit
 * integer in two words (low, high) and its low word's carry goes into the high one.
 */
export function addMetricWords(into: Int32Array, add: Int32Array): void {
  if (add.length !== into.length || into.length % METRIC_WORDS !== 0)
    throw new Error(`reduce: ${add.length} metric words added to ${into.length}`);
  for (let o = 0; o < into.length; o += METRIC_WORDS) {
    into[o] = (into[o] + add[o]) | 0;
    const lo = (into[o + 1] >>> 0) + (add[o + 1] >>> 0);
    into[o + 1] = lo | 0;
    into[o + 2] = (into[o + 2] + add[o + 2] + (lo > 0xffffffff ? 1 : 0)) | 0;
  }
}
