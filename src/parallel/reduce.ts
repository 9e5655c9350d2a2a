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
