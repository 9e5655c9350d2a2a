/**
 * The default kernel variants of an adapter (src/kernels/gemm-tiles.ts DefaultPolicy). Software
 * adapters (lavapipe, SwiftShader, any fallback adapter) keep the measured winners of the
 * variant table. On a hardware adapter nothing has been measured until `nitro-d tune` (or the
 * bench page's Tune) runs, so the default is the variant that reads the fewest storage bytes
 * for the shape by its traffic model (src/ops/traffic.ts, the kernel benchmark's case), then
 * the fewest written; dot4 variants only where the runtime reports the
 * packed_4x8_integer_dot_product WGSL language feature (or reports none: Node's webgpu package
 * does not expose the list, and today's dot4 variants run without it). A tuned choice still
 * takes precedence (GemmVariants.explain).
 */
import { isSoftwareAdapter } from './adapter.ts';
import type { DeviceInfo } from './device.ts';
import {
  type DefaultPolicy,
  type GemmOp,
  shapeKey,
  type VariantChoice,
  variantsOf,
} from '../kernels/gemm-tiles.ts';
import { gemmTraffic } from '../ops/traffic.ts';

/** The adapter facts the policy reads (DeviceInfo's). */
export type PolicyAdapter = Pick<DeviceInfo, 'vendor' | 'architecture' | 'device' | 'description'> &
  Partial<Pick<DeviceInfo, 'isFallbackAdapter' | 'wgslFeatures'>>;

const DOT4_FEATURE = 'packed_4x8_integer_dot_product';

/** The variant of least read (then written) traffic among `candidates`; table order breaks ties. */
export function leastTraffic(
  op: GemmOp,
  dims: readonly number[],
  candidates: readonly VariantChoice[] = variantsOf(op),
): VariantChoice | undefined {
  let best: { v: VariantChoice; read: number; write: number } | undefined;
  for (const v of candidates) {
    const t = gemmTraffic(op, dims, v);
    if (
      !best ||
      t.readBytes < best.read ||
      (t.readBytes === best.read && t.writeBytes < best.write)
    )
      best = { v, read: t.readBytes, write: t.writeBytes };
  }
  return best?.v;
}

/** The default policy of an adapter: undefined for a software adapter (the measured table). */
export function defaultPolicyFor(a: PolicyAdapter): DefaultPolicy | undefined {
  if (isSoftwareAdapter({ ...a, isFallbackAdapter: Boolean(a.isFallbackAdapter) }))
    return undefined;
  const dot4 = !a.wgslFeatures || a.wgslFeatures.includes(DOT4_FEATURE);
  const picked = new Map<string, VariantChoice | undefined>();
  return (op, dims) => {
    const key = shapeKey(op, dims);
    if (!picked.has(key)) {
      const candidates = variantsOf(op).filter((v) => dot4 || !v.params.DOT4);
      picked.set(key, leastTraffic(op, dims, candidates));
    }
    return picked.get(key);
  };
}
